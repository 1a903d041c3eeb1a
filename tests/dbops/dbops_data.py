"""Rows for the database-operations tests, written through the models."""

from __future__ import annotations

import asyncio
import os
import uuid

from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from app.core.config import get_settings
from app.core.database import Database
from app.models import AuditLog, Mandate, Tenant
from tests.conftest import make_settings
from tests.factories import audit_row, mandate_row


async def seed_async(url: str, mandates: int = 5, audits: int = 7) -> uuid.UUID:
    database = Database(make_settings(url))
    try:
        async with database.sessions() as session, session.begin():
            tenant = Tenant(name="Tenant", slug=f"t-{uuid.uuid4().hex[:10]}")
            session.add(tenant)
            await session.flush()
            if mandates:
                await session.execute(
                    insert(Mandate), [mandate_row(tenant.id) for _ in range(mandates)]
                )
            if audits:
                await session.execute(
                    insert(AuditLog), [audit_row(tenant.id) for _ in range(audits)]
                )
        return tenant.id
    finally:
        await database.dispose()


def seed(url: str, mandates: int = 5, audits: int = 7) -> uuid.UUID:
    return asyncio.run(seed_async(url, mandates, audits))


async def counts_async(url: str) -> dict[str, int]:
    database = Database(make_settings(url))
    try:
        async with database.sessions() as session:
            return {
                "customers": await session.scalar(select(func.count()).select_from(Tenant)),
                "mandates": await session.scalar(select(func.count()).select_from(Mandate)),
                # A restore records itself in the restored database's platform chain.
                "audit_log": await session.scalar(
                    select(func.count())
                    .select_from(AuditLog)
                    .where(AuditLog.action != "database.restored")
                ),
            }
    finally:
        await database.dispose()


def counts(url: str) -> dict[str, int]:
    return asyncio.run(counts_async(url))


def run_cli(env: dict[str, str], *args: str, input: str | None = None):
    """Run `mandate-vault ARGS` in this process with `env` as the environment."""
    from app.cli import app

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def bulk_audit_rows(dsn: str, count: int) -> None:
    """Add `count` audit rows in one server-side statement (PostgreSQL, plain DSN)."""
    import asyncpg

    async def insert_rows() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(
                "INSERT INTO audit_log (chain_id, timestamp, actor_type, action, details) "
                "SELECT 'platform', now(), 'system', 'bulk', '{}'::jsonb "
                "FROM generate_series(1, $1)",
                count,
            )
        finally:
            await connection.close()

    asyncio.run(insert_rows())
