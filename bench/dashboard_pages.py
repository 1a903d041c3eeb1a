"""Dashboard server time on PostgreSQL with 1,000,000 mandates in one tenant.

Fills a scratch database with generate_series: 1M mandates created over the
last 7 days (10 issuers, mixed statuses) and their `mandate.created` audit
rows, plus 20,000 rejected submissions; runs the activity roll-up once (as the
server does every ACTIVITY_ROLLUP_SECONDS); then times whole pages through the
real app in-process (ASGI, no network), signed in as the tenant's admin:
the overview, and the mandates list with two filters. GET /healthz is timed
in the same run as the floor. Run it under the machine-wide bench lock:

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/dashboard_pages.py [ROWS]
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
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.activity.jobs import roll_up
from app.core.config import load_settings
from app.core.database import Database
from app.dashboard.session import BrowserSession, SessionCodec
from app.dbops.migrations import upgrade
from app.main import create_app
from app.models import User
from app.tenancy import auth_service

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = 1_000_000  # or the first argument (read when run, not when imported)
RUNS = 100

FILL_MANDATES = """
INSERT INTO mandates (id, tenant_id, vc_jwt, token_sha256, mandate_type, issuer_did, subject_did,
    scope, amount_limit, currency, merchants, labels, details, issued_at, expires_at, status,
    verification_status, verified_at, retention_days, verification_details, created_at, updated_at)
SELECT gen_random_uuid(), $1, 'x.y.z', md5(g::text) || md5((g * 7)::text),
    CASE WHEN g % 4 = 0 THEN 'intent' ELSE 'generic' END,
    'did:web:issuer-' || (g % 10) || '.example', 'did:example:agent-' || (g % 5000),
    'scope-' || (g % 20), (g % 100000) / 100.0, 'USD', '["shop.example"]'::jsonb, '{}'::jsonb,
    '{}'::jsonb, now() - interval '7 days' + g * ($2::float8 / $3) * interval '1 second',
    now() + ((g % 720) - 60) * interval '1 day',
    CASE WHEN g % 50 = 0 THEN 'revoked' WHEN g % 97 = 0 THEN 'deleted' ELSE 'active' END,
    'VALID', now(), 90, '{}'::jsonb,
    now() - interval '7 days' + g * ($2::float8 / $3) * interval '1 second', now()
FROM generate_series(1, $3) AS g
"""
FILL_AUDIT = """
INSERT INTO audit_log (tenant_id, chain_id, timestamp, actor_type, actor_id, action,
    resource_type, resource_id, outcome, details)
SELECT tenant_id, tenant_id::text, created_at, 'api_key', 'api_key:bench', 'mandate.created',
    'mandate', id::text, 'VALID', '{}'::jsonb FROM mandates
UNION ALL
SELECT $1::uuid, $1::uuid::text, now() - interval '7 days' + g * interval '30 seconds', 'api_key',
    'api_key:bench',
    'mandate.rejected', 'mandate', NULL,
    (ARRAY['SIG_INVALID', 'EXPIRED', 'ISSUER_UNKNOWN', 'KEY_NOT_FOUND'])[1 + g % 4], '{}'::jsonb
FROM generate_series(1, 20000) AS g
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
        await connection.execute(FILL_MANDATES, tenant_id, 7 * 86400 - 60, ROWS)
        await connection.execute(FILL_AUDIT, tenant_id)
        await connection.execute("VACUUM ANALYZE")
        print(
            f"filled {ROWS:,} mandates and their audit rows in {time.perf_counter() - started:.0f} s"
        )
    finally:
        await connection.close()


def p95(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.95) - 1]


async def timed(client: httpx.AsyncClient, path: str) -> list[float]:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = await client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return samples


async def main() -> None:
    name = f"bench_dash_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await asyncio.to_thread(upgrade, url)
        tenant_id = uuid.uuid4()
        await fill(dsn, tenant_id)
        settings = load_settings(
            _env_file=None,
            secret_key="b" * 40,
            database_url=url,
            environment="test",
            rate_limit_enabled=False,
            # As in production: the job runs in the app (and recounts every minute).
            activity_rollup_seconds=60,
            slow_query_ms=int(os.environ.get("BENCH_SLOW_QUERY_MS", "100")),
            expiry_sweep_seconds=0,
            retention_schedule_enabled=False,
            log_level=os.environ.get("BENCH_LOG_LEVEL", "ERROR"),
        )
        database = Database(settings)
        started = time.perf_counter()
        rows = await roll_up(database, datetime.now(UTC))
        print(
            f"activity roll-up of 7 days: {rows:,} hourly rows in {time.perf_counter() - started:.1f} s"
        )
        async with database.sessions.begin() as session:
            user = User(email="bench@bench.example", role="customer_admin", password_hash="!")
            user.tenant_id = tenant_id
            session.add(user)
            await session.flush()
            signed = await auth_service.start_session(session, settings, user, None)
        now = datetime.now(UTC)
        cookie = SessionCodec(settings).encode(BrowserSession(user.id, signed.session_id, now, now))
        app = create_app(settings, database=database)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"accept": "text/html"},
                cookies={"mv_session": cookie},
            ) as client:
                pages = {
                    "GET /healthz (floor)": "/healthz",
                    "overview": "/",
                    "mandates: status=active + issuer_did": "/mandates?status=active&issuer_did=did:web:issuer-3.example",
                    "mandates: status=active + mandate_type=intent": "/mandates?status=active&mandate_type=intent",
                    "mandates: issuer_did + expires_before (sort expires_at)": "/mandates?issuer_did=did:web:issuer-3.example&expires_before=2030-01-01T00:00&sort=expires_at",
                }
                for path in pages.values():
                    await timed(client, path)  # warm
                for label, path in pages.items():
                    samples = await timed(client, path)
                    print(
                        f"{label}: p50 {statistics.median(samples):.1f} ms, "
                        f"p95 {p95(samples):.1f} ms ({RUNS} requests)"
                    )
        await database.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        ROWS = int(sys.argv[1])
    asyncio.run(main())
