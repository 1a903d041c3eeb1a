"""`db copy` from SQLite to PostgreSQL: rows per second.

.venv/bin/python bench/dbops_copy.py [--mandates 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from dbops_common import create_database, drop_database, settings_for, url_for
from sqlalchemy import insert

from app.core.config import load_settings
from app.core.database import Database
from app.dbops import migrations
from app.dbops.copy import copy_database
from app.models import AuditLog, Mandate, Tenant


async def fill_sqlite(url: str, mandates: int, audits: int) -> None:
    settings = load_settings(
        _env_file=None, secret_key="b" * 40, database_url=url, environment="test"
    )
    database = Database(settings)
    now = datetime.now(UTC)
    try:
        async with database.sessions() as session, session.begin():
            tenant = Tenant(name="Bench", slug="bench")
            session.add(tenant)
            await session.flush()
            for start in range(0, mandates, 10_000):
                rows = []
                for i in range(start, min(start + 10_000, mandates)):
                    token = uuid.uuid4().hex
                    rows.append(
                        {
                            "id": uuid.uuid4(),
                            "tenant_id": tenant.id,
                            "vc_jwt": f"eyJhbGciOiJFUzI1NiJ9.{token}{token}.sig{token}",
                            "token_sha256": token + token,
                            "mandate_type": "payment",
                            "issuer_did": f"did:web:bank{i % 50}.example",
                            "subject_did": f"did:example:agent{i % 1000}",
                            "amount_limit": Decimal(i % 100000) / 100,
                            "currency": "USD",
                            "merchants": ["merchant-1", "merchant-2"],
                            "labels": {"env": "bench"},
                            "details": {"cart": {"items": 3}},
                            "expires_at": now + timedelta(days=30),
                            "verification_status": "VALID",
                            "verification_details": {},
                            "verified_at": now,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                await session.execute(insert(Mandate), rows)
            if not audits:
                return
            await session.execute(
                insert(AuditLog),
                [
                    {
                        "tenant_id": tenant.id,
                        "timestamp": now,
                        "actor_type": "system",
                        "action": "bench",
                        "details": {},
                    }
                    for _ in range(audits)
                ],
            )
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mandates", type=int, default=100_000)
    parser.add_argument("--audits", type=int, default=0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mv-bench-copy-"))
    target = create_database("mvb_copy")
    try:
        source_url = f"sqlite+aiosqlite:///{work / 'source.db'}"
        migrations.upgrade(source_url)
        asyncio.run(fill_sqlite(source_url, args.mandates, args.audits))
        settings = settings_for(target).model_copy(update={"database_url": source_url})
        started = time.perf_counter()
        report = copy_database(settings, url_for(target))
        seconds = time.perf_counter() - started
        total = report["total_rows"]
        print(
            f"db copy SQLite -> PostgreSQL: {total:,} rows ({report['row_counts']['mandates']:,} "
            f"mandates) in {seconds:.2f}s = {total / seconds:,.0f} rows/s "
            "(includes migrating the target to head and verifying counts)"
        )
    finally:
        drop_database(target)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
