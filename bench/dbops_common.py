"""Shared set-up of the database-operations benchmarks: scratch PostgreSQL
databases on BENCH_PG_URL (default: the local server) filled with generate_series."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-" + "x" * 40


def url_for(database: str) -> str:
    return make_url(ADMIN_URL).set(database=database).render_as_string(hide_password=False)


def libpq(database: str) -> dict[str, str]:
    url = make_url(ADMIN_URL)
    env = dict(os.environ)
    env.update(
        PGHOST=url.host or "127.0.0.1",
        PGPORT=str(url.port or 5432),
        PGUSER=url.username or "postgres",
        PGDATABASE=database,
    )
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def psql(database: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env=libpq(database),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    psql("postgres", f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(database: str) -> None:
    from app.dbops import migrations

    migrations.upgrade(url_for(database))


def fill(database: str, mandates: int, audits: int, audit_age_days: int = 0, tenants: int = 10):
    started = time.perf_counter()
    psql(
        database,
        f"""
        INSERT INTO customers (id, name, slug, settings, is_active, created_at, updated_at)
        SELECT gen_random_uuid(), 'Tenant ' || i, 'tenant-' || i, '{{}}', true, now(), now()
        FROM generate_series(1, {tenants}) i;
        """,
    )
    if mandates:
        psql(
            database,
            f"""
            INSERT INTO mandates (id, tenant_id, vc_jwt, token_sha256, mandate_type, issuer_did,
                subject_did, jti, scope, amount_limit, currency, merchants, labels, details,
                issued_at, expires_at, status, verification_status, verification_details,
                verified_at, retention_days, created_at, updated_at)
            SELECT gen_random_uuid(), t.id,
                'eyJhbGciOiJFUzI1NiJ9.' || md5(i::text) || md5((i * 7)::text) || '.sig' || md5((i * 3)::text),
                md5(i::text) || md5((i + 1)::text), 'payment', 'did:web:bank' || (i % 50) || '.example',
                'did:example:agent' || (i % 1000), 'jti-' || i, 'payment', (i % 100000) / 100.0, 'USD',
                '["merchant-1", "merchant-2"]', '{{"env": "bench"}}', '{{"cart": {{"items": 3}}}}',
                now() - interval '1 day', now() + interval '30 days', 'active', 'VALID', '{{}}',
                now(), 90, now(), now()
            FROM generate_series(1, {mandates}) i
            JOIN (SELECT id, row_number() OVER () - 1 AS n FROM customers) t ON t.n = i % {tenants};
            """,
        )
    if audits:
        psql(
            database,
            f"""
            INSERT INTO audit_log (tenant_id, timestamp, actor_type, actor_id, action,
                resource_type, resource_id, outcome, request_id, details, prev_hash, row_hash)
            SELECT t.id, now() - interval '{audit_age_days} days' - (({audits} - i) || ' seconds')::interval,
                'api_key', 'key-' || (i % 100), 'mandate.created', 'mandate', md5(i::text),
                'success', md5((i * 5)::text), '{{"ip": "10.0.0.1"}}', md5((i - 1)::text) || md5(i::text),
                md5(i::text) || md5((i + 1)::text)
            FROM generate_series(1, {audits}) i
            JOIN (SELECT id, row_number() OVER () - 1 AS n FROM customers) t ON t.n = i % {tenants};
            """,
        )
    psql(database, "VACUUM ANALYZE")
    return time.perf_counter() - started


def settings_for(database: str, **values):
    from app.core.config import load_settings

    return load_settings(
        _env_file=None,
        secret_key=SECRET,
        environment="test",
        database_url=url_for(database),
        log_level="WARNING",
        **values,
    )


def cli_env(database_url: str, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "PG"))}
    env.update(
        SECRET_KEY=SECRET, DATABASE_URL=database_url, ENVIRONMENT="test", LOG_LEVEL="WARNING"
    )
    env.update(values)
    return env


def timed_shell(command: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env, check=True)
    return time.perf_counter() - started


def timed(args: list[str], env: dict[str, str], stdin: str | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, input=stdin, text=True, capture_output=True)
    return time.perf_counter() - started
