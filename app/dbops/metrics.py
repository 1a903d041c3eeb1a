"""Prometheus metrics of the database layer, and the slow query log.

Process-wide (module registry): query durations and slow queries per engine
role, reads that fell back to the primary. Per application (read at scrape
time from its Database): pool size / checked out / overflow / checked in per
engine, and the database size. `GET /metrics` serves both.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import driver
from app.core.config import Settings
from app.core.database import Database, pool_figures
from app.core.logging import get_logger
from app.core.metrics import REGISTRY

log = get_logger("app.db.slow_query")
QUERY_SECONDS = Histogram(
    "mandate_vault_db_query_duration_seconds",
    "Time spent executing database statements.",
    ["engine"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
SLOW_QUERIES = Counter(
    "mandate_vault_db_slow_queries",
    "Statements slower than SLOW_QUERY_MS.",
    ["engine"],
    registry=REGISTRY,
)
READ_FALLBACKS = Counter(
    "mandate_vault_db_read_fallbacks",
    "Reads sent to the primary because the read replica could not be reached.",
    ["reason"],
    registry=REGISTRY,
)
MAX_STATEMENT_CHARS = 2000
_STARTS = "mandate_vault_query_starts"


# Engines already timed: instrumenting twice would count every statement twice.
_INSTRUMENTED: weakref.WeakSet[Engine] = weakref.WeakSet()


def instrument_engine(engine: AsyncEngine, role: str, slow_query_ms: int) -> None:
    """Time every statement (SQLAlchemy's and the driver's own); log and count
    those slower than `slow_query_ms`.

    Only the statement text (with its placeholders) is logged: never parameters.
    """
    sync_engine = engine.sync_engine
    if sync_engine in _INSTRUMENTED:
        return
    _INSTRUMENTED.add(sync_engine)
    histogram = QUERY_SECONDS.labels(role)
    slow = SLOW_QUERIES.labels(role)
    threshold = slow_query_ms / 1000

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _before(
        conn: Any, _cursor: Any, _statement: Any, _params: Any, _context: Any, _many: Any
    ) -> None:
        conn.info.setdefault(_STARTS, []).append(time.perf_counter())

    def note(elapsed: float, statement: str, many: bool) -> None:
        histogram.observe(elapsed)
        if elapsed >= threshold:
            slow.inc()
            shown = " ".join(statement.split())
            if len(shown) > MAX_STATEMENT_CHARS:
                shown = shown[:MAX_STATEMENT_CHARS] + "…"
            log.warning(
                "slow_query",
                duration_ms=round(elapsed * 1000, 1),
                threshold_ms=slow_query_ms,
                engine=role,
                executemany=many,
                statement=shown,
            )

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _after(
        conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool
    ) -> None:
        starts = conn.info.get(_STARTS)
        if not starts:
            return
        note(time.perf_counter() - starts.pop(), statement, many)

    # Statements the driver sends itself (app.core.driver) are timed the same way.
    driver.timers[sync_engine.pool] = note

    @event.listens_for(sync_engine, "handle_error")
    def _error(context: Any) -> None:
        connection = context.connection
        starts = connection.info.get(_STARTS) if connection is not None else None
        if starts:
            starts.pop()


def _count_fallback(reason: str) -> None:
    READ_FALLBACKS.labels(reason).inc()


def instrument(database: Database) -> None:
    """Statement timing on every engine; fallbacks to the primary counted."""
    for role, engine in database.engines().items():
        instrument_engine(engine, role, database.settings.slow_query_ms)
    if _count_fallback not in database.on_read_fallback:
        database.on_read_fallback.append(_count_fallback)


async def database_size_bytes(database: Database, timeout: float) -> int | None:
    settings: Settings = database.settings
    if settings.backend == "sqlite":
        path = Path(settings.database.database or "")
        sizes = [p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()]
        return sum(sizes) if sizes else None

    async def query() -> int:
        async with database.write_engine.connect() as connection:
            result = await connection.execute(text("SELECT pg_database_size(current_database())"))
            return int(result.scalar_one())

    try:
        return await asyncio.wait_for(query(), timeout)
    except Exception:  # an unreachable database leaves the gauge out, never fails the scrape
        return None


class DatabaseCollector(Collector):
    """Pool figures of each engine and the database size, read at scrape time."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.size_bytes: int | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            name: GaugeMetricFamily(f"mandate_vault_db_pool_{name}", help_text, labels=["engine"])
            for name, help_text in (
                ("size", "Connections the pool keeps open."),
                ("checked_out", "Connections in use."),
                ("overflow", "Connections open beyond the pool size (0 while within it)."),
                ("checked_in", "Idle connections in the pool."),
            )
        }
        for role, engine in self.database.engines().items():
            for name, value in pool_figures(engine).items():
                families[name].add_metric([role], value)
        yield from families.values()
        if self.size_bytes is not None:
            size = GaugeMetricFamily(
                "mandate_vault_db_size_bytes", "Size of the primary database on disk."
            )
            size.add_metric([], self.size_bytes)
            yield size


class DatabaseMetrics:
    """The registry of one database's scrape-time figures."""

    def __init__(self, database: Database) -> None:
        self.collector = DatabaseCollector(database)
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)
        # Other features' scrape-time figures: a collector and what refreshes it.
        self.before_scrape: list[Callable[[], Awaitable[None]]] = []

    def add(self, collector: Collector, refresh: Callable[[], Awaitable[None]]) -> None:
        self.registry.register(collector)
        self.before_scrape.append(refresh)

    async def exposition(self) -> bytes:
        database = self.collector.database
        self.collector.size_bytes = await database_size_bytes(
            database, database.settings.readiness_timeout
        )
        for refresh in self.before_scrape:
            await refresh()
        return generate_latest(REGISTRY) + generate_latest(self.registry)
