"""Sealing lag at a steady write rate beyond what one server can ingest here.

Audit rows are written straight into `audit_log` (the INSERT the services make,
through `app.audit.service.record_many`) at RATE rows/s for DURATION seconds,
in small transactions every 20 ms across two tenants, while the audit worker
(the server's sealer, in process, AUDIT_SEAL_INTERVAL=0.25) seals them. Then the
commit-to-seal lag (`sealed_at - timestamp`) of every row: p50 / p99 (aim p99 < 2 s
at 500/s). PostgreSQL, a scratch database.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/audit_seal_lag.py [RATE] [DURATION]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MANDATE_VAULT_ENV_FILE", os.devnull)

from app.audit.service import audit_values, record_many
from app.audit.worker import audit_worker
from app.core.actor import Actor
from app.core.database import Database
from app.tenancy import service
from tests.conftest import make_settings

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
RATE = int(sys.argv[1]) if len(sys.argv) > 1 else 500
DURATION = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
TICK = 0.02
ACTOR = Actor("api_key", "api_key:bench", "customer_user")


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


async def write(database: Database, tenants: list[uuid.UUID]) -> int:
    per_tick = RATE * TICK
    owed, written, tick = 0.0, 0, 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < DURATION:
        owed += per_tick
        count, owed = int(owed), owed - int(owed)
        if count:
            now = datetime.now(UTC)
            rows = [
                audit_values(
                    tenant_id=tenants[(written + i) % len(tenants)],
                    actor=ACTOR,
                    action="mandate.created",
                    resource_type="mandate",
                    resource_id=uuid.uuid4(),
                    outcome="VALID",
                    at=now,
                )
                for i in range(count)
            ]
            async with database.write_engine.begin() as connection:
                await record_many(connection, rows)
            written += count
        tick += 1
        await asyncio.sleep(max(0.0, tick * TICK - (time.perf_counter() - started)))
    del elapsed
    return written


async def main() -> None:
    name = f"bench_lag_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    base = ADMIN.rsplit("/", 1)[0]
    url = base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    settings = make_settings(url, audit_seal_interval=0.25, activity_rollup_seconds=0)
    from app.dbops import migrations

    await asyncio.to_thread(migrations.upgrade, url, "head")
    database = Database(settings)
    try:
        async with database.sessions.begin() as session:
            tenants = [
                (await service.create_tenant(session, f"Bench {n}", email=f"b{n}@x.example")).id
                for n in range(2)
            ]
        async with audit_worker(database, settings):
            written = await write(database, tenants)
            deadline = time.monotonic() + 30
            connection = await asyncpg.connect(f"{base}/{name}")
            try:
                while time.monotonic() < deadline:
                    pending = await connection.fetchval(
                        "SELECT count(*) FROM audit_log WHERE seq IS NULL"
                    )
                    if not pending:
                        break
                    await asyncio.sleep(0.1)
                lags = [
                    float(lag)
                    for lag in await connection.fetch(
                        "SELECT extract(epoch FROM sealed_at - timestamp) AS lag FROM audit_log"
                        " WHERE action = 'mandate.created' AND sealed_at IS NOT NULL"
                    )
                    for lag in [lag["lag"]]
                ]
            finally:
                await connection.close()
        print(
            f"wrote {written:,} rows at {written / DURATION:,.0f} rows/s for {DURATION:g} s "
            f"(two tenants, a transaction every {TICK * 1000:.0f} ms)"
        )
        print(
            f"sealing lag over {len(lags):,} rows: p50 {statistics.median(lags) * 1000:.0f} ms, "
            f"p99 {percentile(lags, 0.99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms "
            "(aim p99 < 2 s)"
        )
    finally:
        await database.dispose()
        await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
