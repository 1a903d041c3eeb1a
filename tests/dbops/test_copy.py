"""`db copy`: SQLite to PostgreSQL and back, verified, refusing a non-empty target."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from app.core.database import Database
from app.dbops import migrations
from app.models import AuditLog, Mandate
from tests.conftest import create_pg_database, drop_pg_database, make_settings, require_postgres
from tests.dbops.dbops_data import counts, run_cli, seed
from tests.factories import audit_row


@pytest.fixture
def pg_target(postgres_available):
    require_postgres(postgres_available)
    name = f"mvt_copy_{uuid.uuid4().hex[:12]}"
    url = create_pg_database(name)
    yield url
    drop_pg_database(name)


async def snapshot(url: str):
    database = Database(make_settings(url))
    try:
        async with database.sessions() as session:
            mandates = (await session.scalars(select(Mandate).order_by(Mandate.id))).all()
            return [
                (m.id, m.amount_limit, m.expires_at, m.merchants, m.details, m.deleted_at)
                for m in mandates
            ]
    finally:
        await database.dispose()


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_copy_sqlite_to_postgres_and_back(database_url, cli_env, pg_target, tmp_path):
    tenant = seed(database_url, mandates=120, audits=30)

    async def money():
        database = Database(make_settings(database_url))
        try:
            async with database.sessions() as session, session.begin():
                from tests.factories import mandate_row

                await session.execute(
                    insert(Mandate),
                    [
                        mandate_row(
                            tenant,
                            amount_limit=Decimal("1234567890123.4567"),
                            details={"é": [1, None]},
                        )
                    ],
                )
        finally:
            await database.dispose()

    asyncio.run(money())
    result = run_cli(cli_env, "db", "copy", "--to", pg_target, "--batch-size", "50")
    assert result.exit_code == 0, result.output
    assert "copied" in result.output
    assert "counts verified" in result.output
    assert migrations.migration_state(pg_target).at_head
    assert counts(pg_target) == counts(database_url)
    assert asyncio.run(snapshot(pg_target)) == asyncio.run(snapshot(database_url))

    # The target's sequences follow the copied ids: new audit rows just work.
    async def append():
        database = Database(make_settings(pg_target))
        try:
            async with database.sessions() as session, session.begin():
                await session.execute(insert(AuditLog), [audit_row(tenant)])
        finally:
            await database.dispose()

    asyncio.run(append())

    # A non-empty target is refused, and nothing is written to it.
    before = counts(pg_target)
    refused = run_cli(cli_env, "db", "copy", "--to", pg_target)
    assert refused.exit_code == 2
    assert "is not empty" in refused.output
    assert "--replace" in refused.output
    assert counts(pg_target) == before

    replaced = run_cli(cli_env, "db", "copy", "--to", pg_target, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert counts(pg_target) == counts(database_url)

    # PostgreSQL to PostgreSQL (JSON passes through as text).
    second = create_pg_database(f"mvt_copy_{uuid.uuid4().hex[:12]}")
    try:
        result = run_cli({**cli_env, "DATABASE_URL": pg_target}, "db", "copy", "--to", second)
        assert result.exit_code == 0, result.output
        assert asyncio.run(snapshot(second)) == asyncio.run(snapshot(database_url))
    finally:
        drop_pg_database(second.rsplit("/", 1)[1])

    # And back: PostgreSQL to a new SQLite file.
    back = f"sqlite+aiosqlite:///{tmp_path / 'back.db'}"
    result = run_cli({**cli_env, "DATABASE_URL": pg_target}, "db", "copy", "--to", back)
    assert result.exit_code == 0, result.output
    assert asyncio.run(snapshot(back)) == asyncio.run(snapshot(database_url))


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_copy_refuses_itself_and_a_source_behind_head(
    database_url, empty_database_url, cli_env, tmp_path
):
    same = run_cli(cli_env, "db", "copy", "--to", database_url)
    assert same.exit_code == 2
    assert "names the database being copied" in same.output
    behind = run_cli(
        {**cli_env, "DATABASE_URL": empty_database_url},
        "db",
        "copy",
        "--to",
        f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    )
    assert behind.exit_code == 2
    assert "not at head" in behind.output
