"""The guide's "out of disk space" steps as commands: the database's size, its
largest tables, and VACUUM (ANALYZE), with `VACUUM FULL` behind a confirmation.

`VACUUM FULL` rewrites every table under an ACCESS EXCLUSIVE lock: reads and
writes wait until it is done, and it needs free disk for the copy. SQLite's
VACUUM is the same kind of operation on the whole file. Both are asked for.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL

from app.core.config import Settings, backend_of
from app.core.database import create_engine_for
from app.dbops import inventory
from app.dbops.backup import sqlite_path
from app.dbops.errors import DatabaseUnreachable


def pretty(size: int | float) -> str:
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


async def _pg(url: URL, settings: Settings, statement: str, autocommit: bool = False) -> list[Any]:
    engine = create_engine_for(url, settings, pooled=False)
    try:
        connection = await inventory.connect(engine, url)
        try:
            if autocommit:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            result = await connection.execute(text(statement))
            return list(result.all()) if result.returns_rows else []
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def _sqlite(url: URL) -> sqlite3.Connection:
    path = sqlite_path(url)
    if not path.is_file():
        raise DatabaseUnreachable(f"SQLite database {path} does not exist")
    return sqlite3.connect(path, timeout=30, isolation_level=None)


def _sqlite_bytes(url: URL) -> int:
    path = sqlite_path(url)
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def database_size(settings: Settings) -> dict[str, Any]:
    url = settings.database
    if backend_of(url) == "sqlite":
        _sqlite(url).close()
        size = _sqlite_bytes(url)
    else:
        rows = await _pg(url, settings, "SELECT pg_database_size(current_database())")
        size = int(rows[0][0])
    return {"database": inventory.display_url(url), "bytes": size, "size": pretty(size)}


async def largest_tables(settings: Settings, limit: int) -> list[dict[str, Any]]:
    url = settings.database
    if backend_of(url) == "postgresql":
        rows = await _pg(
            url,
            settings,
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
            "greatest(c.reltuples, 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
            f"ORDER BY 2 DESC, 1 LIMIT {int(limit)}",
        )
        return [
            {
                "table": r[0],
                "bytes": int(r[1]),
                "size": pretty(r[1]),
                "table_bytes": int(r[2]),
                "estimated_rows": int(r[3]),
            }
            for r in rows
        ]
    connection = _sqlite(url)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        try:  # page sizes per table and its indexes, when SQLite has the dbstat table
            sizes = dict(
                connection.execute(
                    "SELECT coalesce(m.tbl_name, s.name), sum(s.pgsize) FROM dbstat s "
                    "LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1"
                ).fetchall()
            )
        except sqlite3.OperationalError:
            sizes = {}
        found = []
        for name in tables:
            rows = connection.execute(f"SELECT count(*) FROM {inventory.quote(name)}").fetchone()[0]
            size = int(sizes.get(name, 0))
            found.append({"table": name, "bytes": size, "size": pretty(size), "rows": int(rows)})
    finally:
        connection.close()
    found.sort(key=lambda row: (-row["bytes"], -row["rows"], row["table"]))
    return found[:limit]


def exclusive(settings: Settings, full: bool) -> bool:
    """Whether this vacuum locks everyone out while it runs (and so is asked for)."""
    return full or settings.backend == "sqlite"


async def vacuum(settings: Settings, full: bool) -> dict[str, Any]:
    url = settings.database
    before = (await database_size(settings))["bytes"]
    started = time.perf_counter()
    if backend_of(url) == "sqlite":
        connection = _sqlite(url)
        try:
            connection.execute("VACUUM")
            connection.execute("ANALYZE")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        statement = "VACUUM; ANALYZE"
    else:
        statement = "VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)"
        await _pg(url, settings, statement, autocommit=True)
    after = (await database_size(settings))["bytes"]
    return {
        "statement": statement,
        "seconds": round(time.perf_counter() - started, 2),
        "bytes_before": before,
        "bytes_after": after,
        "freed": pretty(max(0, before - after)),
    }
