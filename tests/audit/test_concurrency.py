"""Four processes ingesting audit rows into two tenants at once, each sealing as a server
would, while retention cuts the oldest rows: every chain verifies afterwards and its
seqs have no gap and no duplicate (both engines)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from app.audit.vault_keys import load_keyring
from app.audit.worker import checkpoint_once, seal_all, verify_all
from app.core.database import Database
from app.dbops.retention import run_retention
from tests.audit.test_chain_db import tenant, write
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
ROWS = 150


async def test_four_writers_two_tenants_and_retention_keep_chains_gapless(database_url):
    settings = make_settings(database_url, audit_checkpoint_max_rows=64, retention_batch_size=7)
    database = Database(settings)
    try:
        tenants = [await tenant(database, "A"), await tenant(database, "B")]
        old = datetime.now(UTC) - timedelta(days=400)
        for tenant_id in tenants:
            await write(database, tenant_id, 30, at=old)
        await seal_all(database)
        keyring = await load_keyring(database, settings)
        await checkpoint_once(database, keyring, settings, force=True)
        writers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.audit.concurrent_writer",
                    database_url,
                    str(tenants[0]),
                    str(tenants[1]),
                    str(ROWS),
                    str(seed),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for seed in range(WRITERS)
        ]
        deleted = 0
        while any(w.poll() is None for w in writers):
            report = await run_retention(database)
            deleted += report["audit_log"]["deleted"]
            await asyncio.sleep(0.2)
        for writer in writers:
            output = writer.communicate()[0]
            assert writer.returncode == 0, output
        await seal_all(database)
        await checkpoint_once(database, keyring, settings, force=True)
        deleted += (await run_retention(database))["audit_log"]["deleted"]
        assert deleted == 60
        reports = await verify_all(database, keyring, settings)
        chains = {str(t) for t in tenants}
        assert chains <= {r.chain_id for r in reports}
        for report in reports:
            assert report.ok, report.summary()
            assert report.retention_cut is None, report.summary()
        async with database.write_engine.connect() as connection:
            for chain in chains:
                seqs = (
                    (
                        await connection.execute(
                            text("SELECT seq FROM audit_log WHERE chain_id = :c ORDER BY seq"),
                            {"c": chain},
                        )
                    )
                    .scalars()
                    .all()
                )
                assert None not in seqs
                assert seqs == list(range(31, 31 + len(seqs))), chain  # the anchor is at 30
            total = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM audit_log WHERE action = 'test.concurrent' "
                        "AND seq IS NOT NULL"
                    )
                )
            ).scalar_one()
        assert total == WRITERS * ROWS
    finally:
        await database.dispose()
