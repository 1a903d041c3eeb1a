"""Readiness checks: each engine answers, and the schema is at the migration head."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import Database
from app.dbops.migrations import head_revisions


async def _ping(engine: AsyncEngine) -> dict[str, Any]:
    started = time.perf_counter()
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def _schema(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
        current = sorted(row[0] for row in rows)
    heads = sorted(head_revisions())
    return {"ok": current == heads, "current": current, "head": heads}


async def _bounded(name: str, check: Any, timeout: float) -> tuple[str, dict[str, Any]]:
    try:
        return name, await asyncio.wait_for(check, timeout)
    except TimeoutError:
        return name, {"ok": False, "error": f"no answer within {timeout:g}s"}
    except Exception as error:  # any failure is a failed check, reported by type
        return name, {"ok": False, "error": type(error).__name__}


async def readiness(database: Database, timeout: float) -> dict[str, dict[str, Any]]:
    """Run the checks concurrently; none takes longer than `timeout` seconds."""
    checks = {"write_db": _ping(database.write_engine), "schema": _schema(database.write_engine)}
    if database.settings.read_database is not None and database.read_engine is not None:
        checks["read_db"] = _ping(database.read_engine)
    results = await asyncio.gather(*(_bounded(n, c, timeout) for n, c in checks.items()))
    return dict(results)
