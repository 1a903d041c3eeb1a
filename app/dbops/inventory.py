"""What a database holds: its tables, their row counts, its Alembic revision."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.dbops.errors import DatabaseUnreachable


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def table_names(connection: AsyncConnection) -> list[str]:
    if connection.dialect.name == "sqlite":
        rows = await connection.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        )
    else:
        rows = await connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        )
    return [row[0] for row in rows]


async def row_counts(connection: AsyncConnection) -> dict[str, int]:
    counts = {}
    for name in await table_names(connection):
        counts[name] = int(
            (await connection.execute(text(f"SELECT count(*) FROM {quote(name)}"))).scalar_one()
        )
    return counts


async def revision(connection: AsyncConnection) -> list[str]:
    if "alembic_version" not in await table_names(connection):
        return []
    rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
    return sorted(row[0] for row in rows)


async def server_version(connection: AsyncConnection) -> str:
    if connection.dialect.name == "sqlite":
        value = (await connection.execute(text("SELECT sqlite_version()"))).scalar_one()
        return f"SQLite {value}"
    return str((await connection.execute(text("SHOW server_version"))).scalar_one())


async def connect(engine: AsyncEngine, url: URL) -> AsyncConnection:
    """A connection, or DatabaseUnreachable naming the database (password hidden)."""
    try:
        return await engine.connect()
    except Exception as error:
        raise unreachable(display_url(url), error) from None


def unreachable(target: str, error: BaseException) -> DatabaseUnreachable:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    return DatabaseUnreachable(
        f"cannot reach the database {target}: {reason[0] if reason else type(error).__name__}"
    )


def display_url(url: URL) -> str:  # URL -> str without the password
    return url.render_as_string(hide_password=True)
