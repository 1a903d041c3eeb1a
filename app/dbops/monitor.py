"""What an operator asks of the database: `db status`, `db monitor`, and the data
behind `GET /api/v1/admin/db` (`admin_snapshot`).

Every figure is read from the engines of a live `Database`, so the service's
admin route shows its own pools; the CLI builds a Database for one call.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.database import Database
from app.dbops import inventory
from app.dbops.migrations import state_of

QUERY_CHARS = 500


async def _probe(engine: AsyncEngine, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()

    async def run() -> dict[str, Any]:
        async with engine.connect() as connection:
            version = await inventory.server_version(connection)
            revision = await inventory.revision(connection)
            recovery = None
            if connection.dialect.name == "postgresql":
                row = (
                    await connection.execute(
                        text(
                            "SELECT pg_is_in_recovery(), "
                            "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
                        )
                    )
                ).one()
                recovery = {
                    "in_recovery": bool(row[0]),
                    "replay_lag_seconds": None if row[1] is None else round(float(row[1]), 3),
                }
            return {"version": version, "revision": revision, "recovery": recovery}

    try:
        found = await asyncio.wait_for(run(), timeout)
    except Exception as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        return {
            "reachable": False,
            "error": f"{type(error).__name__}: {reason[0] if reason else ''}".strip(": "),
        }
    result = {
        "reachable": True,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        "server_version": found["version"],
        "revision": found["revision"],
    }
    if found["recovery"] is not None:
        result.update(found["recovery"])
    return result


async def status(database: Database, timeout: float = 5.0) -> dict[str, Any]:
    """Engine, reachability and latency of each engine, migrations, pools."""
    settings = database.settings
    engines = {"write": database.write_engine}
    if database.has_replica and database.read_engine is not None:
        engines["read"] = database.read_engine
    probes = dict(
        zip(
            engines,
            await asyncio.gather(*(_probe(e, timeout) for e in engines.values())),
            strict=True,
        )
    )
    write = probes["write"]
    result: dict[str, Any] = {
        "engine": settings.backend,
        "url": inventory.display_url(settings.database),
        "reachable": write["reachable"],
        "engines": probes,
        "pools": database.pool_status(),
        "read_fallbacks": database.read_fallbacks,
    }
    if settings.read_database is not None:
        result["read_url"] = inventory.display_url(settings.read_database)
    if write["reachable"]:
        state = state_of(tuple(write["revision"]))
        result["migrations"] = {
            "current": list(state.current),
            "head": list(state.heads),
            "pending": list(state.pending),
            "unknown": list(state.unknown),
            "at_head": state.at_head,
        }
    return result


PG_QUERIES = {
    "connections": """
        SELECT coalesce(state, 'unknown') AS state, count(*) AS count
        FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1 ORDER BY 1""",
    "active_queries": """
        SELECT pid, usename AS user, application_name, state, wait_event_type, wait_event,
               round(EXTRACT(EPOCH FROM now() - query_start)::numeric, 3) AS seconds,
               left(query, :chars) AS query
        FROM pg_stat_activity
        WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()
        ORDER BY query_start""",
    "database_size_bytes": "SELECT pg_database_size(current_database())",
    "tables": """
        SELECT relname AS table, n_live_tup AS live_rows, n_dead_tup AS dead_rows,
               pg_total_relation_size(relid) AS total_bytes,
               pg_relation_size(relid) AS table_bytes,
               pg_indexes_size(relid) AS index_bytes,
               last_autovacuum, last_autoanalyze
        FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC""",
    "indexes": """
        SELECT s.relname AS table, s.indexrelname AS index, s.idx_scan AS scans,
               pg_relation_size(s.indexrelid) AS bytes, i.indisunique AS unique,
               i.indisprimary AS primary
        FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
        ORDER BY s.idx_scan DESC, s.indexrelname""",
    "cache": """
        SELECT coalesce(sum(heap_blks_read), 0) AS heap_read,
               coalesce(sum(heap_blks_hit), 0) AS heap_hit
        FROM pg_statio_user_tables""",
}


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value


async def _postgres(engine: AsyncEngine, long_running_seconds: float) -> dict[str, Any]:
    async with engine.connect() as connection:

        async def rows(name: str) -> list[dict[str, Any]]:
            result = await connection.execute(text(PG_QUERIES[name]), {"chars": QUERY_CHARS})
            return [{k: _plain(v) for k, v in row._mapping.items()} for row in result]

        connections = {r["state"]: r["count"] for r in await rows("connections")}
        active = await rows("active_queries")
        size = (await connection.execute(text(PG_QUERIES["database_size_bytes"]))).scalar_one()
        tables = await rows("tables")
        indexes = await rows("indexes")
        cache = (await rows("cache"))[0]
    reads, hits = int(cache["heap_read"]), int(cache["heap_hit"])
    return {
        "connections": {"total": sum(connections.values()), "by_state": connections},
        "active_queries": active,
        "long_running_queries": [
            q
            for q in active
            if q["state"] == "active" and (q["seconds"] or 0) >= long_running_seconds
        ],
        "database_size_bytes": int(size),
        "tables": tables,
        "indexes": indexes,
        "unused_indexes": [
            i for i in indexes if i["scans"] == 0 and not i["unique"] and not i["primary"]
        ],
        "cache": {
            "heap_read": reads,
            "heap_hit": hits,
            "hit_ratio": round(hits / (hits + reads), 4) if hits + reads else None,
        },
    }


async def _sqlite(engine: AsyncEngine, settings: Settings) -> dict[str, Any]:
    path = Path(settings.database.database or "").expanduser().resolve()
    wal = Path(f"{path}-wal")
    async with engine.connect() as connection:

        async def pragma(name: str) -> Any:
            return (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()

        figures = {
            name: await pragma(name)
            for name in ("page_size", "page_count", "freelist_count", "journal_mode")
        }
        counts = await inventory.row_counts(connection)
        await connection.rollback()
    return {
        "file": str(path),
        "file_bytes": path.stat().st_size if path.exists() else None,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        **figures,
        "database_size_bytes": (figures["page_size"] or 0) * (figures["page_count"] or 0),
        "row_counts": counts,
    }


async def monitor(database: Database, long_running_seconds: float = 5.0) -> dict[str, Any]:
    """PostgreSQL: connections, queries, sizes, index usage, cache hits.
    SQLite: file, WAL and page figures, row counts."""
    settings = database.settings
    if settings.backend == "postgresql":
        body = await _postgres(database.write_engine, long_running_seconds)
    else:
        body = await _sqlite(database.read_engine or database.write_engine, settings)
    return {
        "engine": settings.backend,
        "url": inventory.display_url(settings.database),
        "long_running_seconds": long_running_seconds,
        **body,
    }


async def admin_snapshot(database: Database, long_running_seconds: float = 5.0) -> dict[str, Any]:
    """Everything `GET /api/v1/admin/db` answers (platform admins only)."""
    current = await status(database)
    details = await monitor(database, long_running_seconds) if current["reachable"] else None
    return {"status": current, "monitor": details}


async def status_with_database(settings: Settings) -> dict[str, Any]:
    database = Database(settings)
    try:
        return await status(database, timeout=settings.db_connect_timeout)
    finally:
        await database.dispose()


async def monitor_with_database(settings: Settings, long_running_seconds: float) -> dict[str, Any]:
    database = Database(settings)
    try:
        try:
            return await monitor(database, long_running_seconds)
        except Exception as error:
            raise inventory.unreachable(inventory.display_url(settings.database), error) from None
    finally:
        await database.dispose()


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def render_status(data: dict[str, Any]) -> str:
    lines = [f"engine:     {data['engine']}  {data['url']}"]
    for role, probe in data["engines"].items():
        if probe["reachable"]:
            extra = ""
            if "in_recovery" in probe:
                extra = f", in recovery: {probe['in_recovery']}"
                if probe.get("replay_lag_seconds") is not None:
                    extra += f", replay lag {probe['replay_lag_seconds']} s"
            lines.append(
                f"{role + ':':<11} reachable, {probe['latency_ms']} ms, {probe['server_version']}{extra}"
            )
        else:
            lines.append(f"{role + ':':<11} UNREACHABLE ({probe['error']})")
    if "migrations" in data:
        m = data["migrations"]
        lines.append(f"migrations: current {', '.join(m['current']) or '(none)'}")
        lines.append(f"            head    {', '.join(m['head'])}")
        lines.append(f"            pending {', '.join(m['pending']) or 'none'}")
    for role, pool in data["pools"].items():
        lines.append(
            f"pool {role + ':':<6} size {pool['size']}, checked out {pool['checked_out']}, "
            f"overflow {pool['overflow']}, checked in {pool['checked_in']}"
        )
    return "\n".join(lines)


def render_monitor(data: dict[str, Any]) -> str:
    lines = [f"engine: {data['engine']}  {data['url']}"]
    if data["engine"] == "sqlite":
        lines += [
            f"file:   {data['file']} ({_size(data['file_bytes'])}), WAL {_size(data['wal_bytes'])}",
            f"pages:  {data['page_count']} x {data['page_size']} B, {data['freelist_count']} free, "
            f"journal {data['journal_mode']}",
            "rows:   " + ", ".join(f"{k} {v}" for k, v in data["row_counts"].items()),
        ]
        return "\n".join(lines)
    c = data["connections"]
    lines.append(
        f"connections: {c['total']} ("
        + ", ".join(f"{k} {v}" for k, v in c["by_state"].items())
        + ")"
    )
    lines.append(f"database size: {_size(data['database_size_bytes'])}")
    ratio = data["cache"]["hit_ratio"]
    lines.append(f"cache hit ratio: {'-' if ratio is None else f'{ratio:.2%}'} (want > 99%)")
    lines.append(
        f"long-running queries (> {data['long_running_seconds']} s): "
        f"{len(data['long_running_queries'])}"
    )
    for q in data["long_running_queries"]:
        lines.append(f"  pid {q['pid']} {q['seconds']} s: {q['query']}")
    lines.append("tables:")
    for t in data["tables"]:
        lines.append(f"  {t['table']:<22} {t['live_rows']:>10} rows  {_size(t['total_bytes']):>10}")
    unused = data["unused_indexes"]
    lines.append(f"unused indexes: {', '.join(i['index'] for i in unused) or 'none'}")
    return "\n".join(lines)
