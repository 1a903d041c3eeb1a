"""Search latency on PostgreSQL with 1,000,000 mandates in one tenant.

Fills a scratch database with generate_series (10 issuers, mixed statuses and
expiries), then times pages of 50 through the real service code path:
status + issuer, and status + expires_before. Prints p50/p95 and the plans.

    BENCH_PG_ADMIN=postgresql://postgres@127.0.0.1:5432/postgres python bench/search_pg.py [ROWS]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.actor import Actor
from app.core.config import load_settings
from app.core.database import Database
from app.dbops.migrations import upgrade
from app.issuers.trust import TrustLoader
from app.mandates.search import MandateSearch
from app.mandates.service import MandateService

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
RUNS = 300

FILL = """
INSERT INTO mandates (id, tenant_id, vc_jwt, token_sha256, mandate_type, issuer_did, subject_did,
    scope, amount_limit, currency, merchants, labels, details, issued_at, expires_at, status,
    verification_status, verified_at, retention_days, verification_details, created_at, updated_at)
SELECT gen_random_uuid(), $1, 'x.y.z', md5(g::text) || md5((g * 7)::text),
    'generic', 'did:web:issuer-' || (g % 10) || '.example', 'did:example:agent-' || (g % 5000),
    'scope-' || (g % 20), (g % 100000) / 100.0, 'USD', '["shop.example"]'::jsonb, '{}'::jsonb, '{}'::jsonb,
    now() - interval '400 days' + g * interval '30 seconds',
    now() + ((g % 720) - 60) * interval '1 day',
    CASE WHEN g % 50 = 0 THEN 'revoked' WHEN g % 97 = 0 THEN 'deleted' ELSE 'active' END,
    'VALID', now(), 90, '{}'::jsonb,
    now() - interval '400 days' + g * interval '30 seconds', now()
FROM generate_series(1, $2) AS g
"""


async def fill(dsn: str, tenant_id: uuid.UUID) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO customers (id, name, slug, is_active, settings, created_at, updated_at) "
            "VALUES ($1, 'Bench', 'bench', true, '{}', now(), now())",
            tenant_id,
        )
        started = time.perf_counter()
        await connection.execute(FILL, tenant_id, ROWS)
        await connection.execute("VACUUM ANALYZE mandates")
        print(f"filled {ROWS:,} mandates in {time.perf_counter() - started:.1f} s")
    finally:
        await connection.close()


async def timed(service: MandateService, params: MandateSearch) -> list[float]:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        page = await service.search(params)
        samples.append((time.perf_counter() - started) * 1000)
        assert len(page.items) == params.limit
    return samples


async def explain(database: Database, tenant_id: uuid.UUID, params: MandateSearch) -> str:
    from app.mandates.repository import MandateRepository

    async with database.sessions() as session:
        repo = MandateRepository(session, tenant_id)
        captured: list[str] = []
        original = session.scalars

        async def capture(statement, *args, **kwargs):
            compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
            captured.append(str(compiled))
            return await original(statement, *args, **kwargs)

        session.scalars = capture  # type: ignore[method-assign]
        await repo.search(params, datetime.now(UTC), None)
        result = await session.execute(
            __import__("sqlalchemy").text("EXPLAIN ANALYZE " + captured[0])
        )
        return "\n".join(row[0] for row in result)


async def main() -> None:
    name = f"bench_search_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await asyncio.to_thread(upgrade, url)
        tenant_id = uuid.uuid4()
        await fill(dsn, tenant_id)
        settings = load_settings(
            _env_file=None, secret_key="b" * 40, database_url=url, environment="test"
        )
        database = Database(settings)
        queries = {
            "status=active + issuer_did": MandateSearch(
                status="active", issuer_did="did:web:issuer-3.example"
            ),
            "status=active + expires_before (sort expires_at)": MandateSearch(
                status="active",
                expires_before=datetime.now(UTC) + timedelta(days=30),
                sort="expires_at",
            ),
            "status=active + expires_before (sort -created_at)": MandateSearch(
                status="active", expires_before=datetime.now(UTC) + timedelta(days=30)
            ),
        }
        async with database.sessions() as session:
            service = MandateService(
                session, tenant_id, Actor.system("bench"), TrustLoader(None), settings
            )
            for label, params in queries.items():
                await timed(service, params)  # warm
                samples = sorted(await timed(service, params))
                p95 = samples[int(len(samples) * 0.95) - 1]
                print(
                    f"{label}: p50 {statistics.median(samples):.2f} ms, p95 {p95:.2f} ms ({RUNS} pages of 50)"
                )
        for label, params in queries.items():
            print(f"\n-- plan: {label}\n{await explain(database, tenant_id, params)}")
        await database.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
