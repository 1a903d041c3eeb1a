"""The audit chain on PostgreSQL at size: sealing, `audit verify` rows/s and memory, and
the evidence pack of a mandate with 20 audit events in a chain of ROWS rows.

A fresh database; the app in process (httpx ASGI transport, no background sealer);
a tenant, an issuer and one mandate through the API; then ROWS audit rows in the
tenant's chain in one server-side INSERT (19 of them about the mandate, spread
evenly: with its `mandate.created` row, 20 events), sealed by the sealer's own
passes and checkpointed every 1,024 rows. Then, pinned to one core:

- verify:   `verify_all` over the chain (every row hash, link, checkpoint
            signature and Merkle root), rows/s, and RSS before / after;
- baseline: `SELECT` of the same rows page by page with nothing computed (the
            fetch floor `verify` cannot beat), rows/s;
- evidence: GET /api/v1/mandates/{id}/evidence 50 times: p50 / p95 and size.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/audit_chain_pg.py [ROWS]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MANDATE_VAULT_ENV_FILE", os.devnull)

from app.audit import chain_repository as store  # noqa: E402
from app.audit.vault_keys import load_keyring  # noqa: E402
from app.audit.worker import checkpoint_once, seal_all, verify_all  # noqa: E402
from app.core.database import Database  # noqa: E402
from app.main import create_app  # noqa: E402
from app.tenancy import service  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.mandates.minting import MintingIssuer  # noqa: E402

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def fetch_floor(database: Database, chain: str, upto: int) -> float:
    started = time.perf_counter()
    count = 0
    async with database.write_engine.connect() as connection:
        async for page in store.sealed_rows(connection, chain, after=0, upto=upto):
            count += len(page)
        await connection.rollback()
    return count / (time.perf_counter() - started)


async def main() -> None:
    name = f"bench_chain_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    base = ADMIN.rsplit("/", 1)[0]
    url = base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    settings = make_settings(url, audit_seal_interval=0, activity_rollup_seconds=0)
    from app.dbops import migrations

    await asyncio.to_thread(migrations.upgrade, url, "head")
    database = Database(settings)
    try:
        async with database.sessions.begin() as session:
            tenant = await service.create_tenant(session, "Bench", email="b@bench.example")
            key = await service.create_api_key(
                session, None, tenant.id, name="bench", role="customer_admin"
            )
        chain = str(tenant.id)
        app = create_app(settings, database=database)
        headers = {"X-API-Key": key.secret}
        issuer = MintingIssuer()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                (
                    await client.post(
                        "/api/v1/issuers",
                        json={"did": issuer.did, "jwks": issuer.jwks()},
                        headers=headers,
                    )
                ).raise_for_status()
                created = await client.post(
                    "/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=headers
                )
                created.raise_for_status()
                mandate = created.json()["id"]
                every = max(1, ROWS // 19)
                connection = await asyncpg.connect(f"{base}/{name}")
                try:
                    started = time.perf_counter()
                    await connection.execute(
                        "INSERT INTO audit_log (tenant_id, chain_id, timestamp, actor_type, "
                        "actor_id, actor_role, action, resource_type, resource_id, outcome, "
                        "request_id, ip_address, details) "
                        "SELECT $1::uuid, $2, now() - make_interval(secs => ($3 - g) / 1000.0), "
                        "'api_key', 'api_key:bench', 'customer_user', "
                        "CASE WHEN g % $4 = 0 AND g / $4 <= 19 THEN 'mandate.read' "
                        "ELSE 'mandate.created' END, 'mandate', "
                        "CASE WHEN g % $4 = 0 AND g / $4 <= 19 THEN $5 ELSE md5(g::text) END, "
                        "'VALID', md5((g * 7)::text), '203.0.113.7', "
                        "jsonb_build_object('n', g, 'status', 'active') "
                        "FROM generate_series(1, $3) AS g",
                        tenant.id,
                        chain,
                        ROWS,
                        every,
                        mandate,
                    )
                    await connection.execute("ANALYZE audit_log")
                    print(f"inserted {ROWS:,} rows in {time.perf_counter() - started:.1f} s")
                finally:
                    await connection.close()
                started = time.perf_counter()
                sealed = await seal_all(database)
                seconds = time.perf_counter() - started
                print(f"sealed {sealed:,} rows in {seconds:.1f} s ({sealed / seconds:,.0f} rows/s)")
                analyze = await asyncpg.connect(f"{base}/{name}")
                try:
                    await analyze.execute("VACUUM ANALYZE audit_log")  # what autovacuum does
                finally:
                    await analyze.close()
                keyring = await load_keyring(database, settings)
                started = time.perf_counter()
                made = await checkpoint_once(database, keyring, settings, force=True)
                print(f"signed {len(made):,} checkpoints in {time.perf_counter() - started:.1f} s")
                async with database.write_engine.connect() as conn:
                    head = await store.head_of(conn, chain)
                    await conn.rollback()
                assert head is not None
                if hasattr(os, "sched_setaffinity"):
                    os.sched_setaffinity(0, {0})
                floor = await fetch_floor(database, chain, head.seq)
                before = rss_mb()
                started = time.perf_counter()
                (report,) = await verify_all(database, keyring, settings, chains=[chain])
                seconds = time.perf_counter() - started
                after = rss_mb()
                print(report.summary())
                print(
                    f"verify: {report.rows_checked:,} rows in {seconds:.1f} s = "
                    f"{report.rows_checked / seconds:,.0f} rows/s on one core "
                    f"(aim >= 50,000); fetch alone {floor:,.0f} rows/s "
                    f"(verify/fetch {report.rows_checked / seconds / floor:.2f}); "
                    f"RSS {before:.0f} MB before, {after:.0f} MB after"
                )
                times, size = [], 0
                for _ in range(50):
                    started = time.perf_counter()
                    pack = await client.get(f"/api/v1/mandates/{mandate}/evidence", headers=headers)
                    times.append(time.perf_counter() - started)
                    pack.raise_for_status()
                    size = len(pack.content)
                times.sort()
                events = await client.get(f"/api/v1/mandates/{mandate}/audit", headers=headers)
                print(
                    f"evidence pack: {len(events.json()['items'])} events in a {head.seq:,}-row "
                    f"chain, p50 {times[24] * 1000:.0f} ms, p95 {times[47] * 1000:.0f} ms "
                    f"(aim < 200 ms), {size / 1024:.1f} KiB (aim < 64 KiB)"
                )
    finally:
        await database.dispose()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
