"""`mandate-vault audit ...` as processes: checkpoint, verify (0 intact, 3 broken,
--json), and the scheduled verification's failure log, metric and hook."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from app.audit.report import Break, ChainReport, Problem
from app.audit.worker import VERIFICATION_FAILED_HOOKS, VERIFICATION_FAILURES, report_failures
from app.core.database import Database
from tests.audit.test_chain_db import tenant, write
from tests.conftest import make_settings, run_cli


async def _rows(url: str) -> str:
    database = Database(make_settings(url))
    try:
        tenant_id = await tenant(database)
        await write(database, tenant_id, 12)
        return str(tenant_id)
    finally:
        await database.dispose()


async def _tamper(url: str, chain: str) -> None:
    database = Database(make_settings(url))
    try:
        async with database.write_engine.begin() as connection:
            await connection.execute(
                text("UPDATE audit_log SET action = 'forged' WHERE chain_id = :c AND seq = 7"),
                {"c": chain},
            )
    finally:
        await database.dispose()


def test_checkpoint_then_verify_intact_then_broken(database_url, cli_env):
    chain = asyncio.run(_rows(database_url))
    done = run_cli("audit", "checkpoint", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "sealed 12 audit rows" in done.stdout
    intact = run_cli("audit", "verify", "--tenant", chain, env=cli_env)
    assert intact.returncode == 0, intact.stderr
    assert "12 rows, 1 checkpoints: intact" in intact.stdout
    asyncio.run(_tamper(database_url, chain))
    broken = run_cli("audit", "verify", env=cli_env)
    assert broken.returncode == 3, broken.stdout + broken.stderr
    assert "BROKEN at seq 7" in broken.stdout
    as_json = run_cli("audit", "verify", "--tenant", chain, "--json", env=cli_env)
    assert as_json.returncode == 3
    (report,) = json.loads(as_json.stdout)["chains"]
    assert report["broken"]["problem"] == "row_edited"
    assert report["broken"]["seq"] == 7
    bad = run_cli("audit", "verify", "--tenant", "not-a-uuid", env=cli_env)
    assert bad.returncode == 2


def test_a_failed_scheduled_verification_is_logged_counted_and_handed_on(capsys):
    seen: list[ChainReport] = []
    VERIFICATION_FAILED_HOOKS.append(seen.append)
    try:
        before = VERIFICATION_FAILURES._value.get()
        report = ChainReport(
            chain_id="platform",
            rows_checked=3,
            checkpoints_checked=0,
            first_seq=1,
            last_seq=3,
            last_checkpoint_seq=None,
            unattested_rows=0,
            roots_unchecked=0,
            anchor_seq=None,
            broken=Break(Problem.ROW_EDITED, 2, "row 2 was edited"),
            retention_cut=None,
            complete=True,
        )
        assert report_failures([report]) == 1
        assert VERIFICATION_FAILURES._value.get() == before + 1
        assert seen == [report]
        assert "audit_verification_failed" in capsys.readouterr().out
    finally:
        VERIFICATION_FAILED_HOOKS.remove(seen.append)
