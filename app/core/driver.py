"""Hot reads sent by the driver itself: SQLAlchemy compiles, asyncpg executes.

A read session on PostgreSQL runs in autocommit (`Database.read_sessions()`,
`primary_reads()`), so a read needs no transaction and no session machinery:
just the statement, on a pooled connection. Through `AsyncSession` one SELECT
costs about four times what the same statement costs on the driver's own
connection (session and connection objects, events, greenlet hops, the
execution context). `select_rows` keeps SQLAlchemy for what it is good at here
(the statement, its compiled SQL and its column types) and hands the driver
the SQL and the values:

- the compiled SQL is cached by the statement's cache key, as SQLAlchemy's own
  cache does, and the bound values are taken from the statement, so a statement
  built per request (a search) compiles once per shape;
- values go through each parameter's bind processing and each column's result
  processing, so rows hold exactly what the SQLAlchemy path gives;
- the connection comes from the engine's pool (its checkout events, the idle
  ping included) and goes back to it;
- anything the driver raises is answered by running the statement again through
  SQLAlchemy (a read changes nothing), which raises what the rest of the
  service knows (a lost server is a 503); a connection that failed is dropped.

SQLite, sessions in a transaction and statements SQLAlchemy will not cache run
through `execute_core` as before. Either way the rows are plain attribute
objects: a Row's attribute costs about seven times a plain object's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import Pool
from sqlalchemy.util import greenlet_spawn

from app.core.repository import execute_core

# session.info key: the autocommit engine (or connection) a read session's
# statements may be sent on directly. Set by app.core.database on PostgreSQL only.
AUTOCOMMIT_BIND = "mandate_vault.autocommit_bind"
_MAX_COMPILED = 512

Processor = Callable[[Any], Any] | None
# Per connection pool (an engine and its autocommit copy share one), what is told
# of each statement the driver ran on it: (seconds, SQL, executemany). The
# database metrics time these as they time SQLAlchemy's own statements.
timers: WeakKeyDictionary[Pool, Callable[[float, str, bool], None]] = WeakKeyDictionary()


@dataclass(slots=True)
class _Compiled:
    sql: str
    compiled: Any  # SQLAlchemy's Compiled: makes the values of each new statement
    names: tuple[str, ...]  # bind parameter names in positional order
    binds: tuple[Processor, ...]
    columns: Sequence[Any]  # the selected columns (their types process results)
    keys: tuple[str, ...]  # the rows' attribute names, as SQLAlchemy's result keys
    # (position, processing) of the columns that need it; known after the first execution
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None


# By dialect and statement shape; None for a shape the driver does not take.
_compiled: dict[tuple[Any, ...], _Compiled | None] = {}


def _compile(statement: Select[Any], dialect: Dialect, key: Any) -> _Compiled | None:
    shape = (dialect.name, dialect.server_version_info, key.key)
    if shape in _compiled:
        return _compiled[shape]
    compiled = statement.compile(dialect=dialect, cache_key=key)
    entry = None
    # Expanding IN lists and the like are rendered per call: SQLAlchemy runs those.
    if not (compiled.post_compile_params or compiled.literal_execute_params):
        names = tuple(compiled.positiontup or ())
        binds = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        columns = statement.selected_columns
        entry = _Compiled(
            compiled.string, compiled, names, binds, list(columns), tuple(columns.keys())
        )
    if len(_compiled) >= _MAX_COMPILED:
        _compiled.clear()
    _compiled[shape] = entry
    return entry


async def _results(
    entry: _Compiled, driver: Any, dialect: Dialect
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The result processing of the columns that have one, for the type the
    server says it sends (asked once per statement and process)."""
    if entry.results is None:
        prepared = await driver.prepare(entry.sql)
        attributes = prepared.get_attributes()
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, attribute.type.oid)
            for column, attribute in zip(entry.columns, attributes, strict=True)
        )
        entry.results = tuple(
            (position, process)
            for position, process in enumerate(processors)
            if process is not None
        )
    return entry.results


def _namespaces(keys: Sequence[str], rows: Any) -> list[SimpleNamespace]:
    return [SimpleNamespace(**dict(zip(keys, row, strict=True))) for row in rows]


def _processed(
    keys: Sequence[str], records: Any, processors: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> list[SimpleNamespace]:
    rows = []
    for record in records:
        values = list(record)
        for position, process in processors:
            values[position] = process(values[position])
        rows.append(SimpleNamespace(**dict(zip(keys, values, strict=True))))
    return rows


async def select_rows(
    session: AsyncSession, statement: Select[Any], params: Mapping[str, Any] | None = None
) -> list[SimpleNamespace]:
    """The rows of a Core SELECT as plain objects (on the driver when it can be)."""
    bind: AsyncEngine | AsyncConnection | None = session.info.get(AUTOCOMMIT_BIND)
    if bind is not None:
        key = statement._generate_cache_key()
        entry = _compile(statement, bind.dialect, key) if key is not None else None
        if entry is not None:
            rows = await _on_driver(bind, entry, key, params)
            if rows is not None:
                return rows
    result = await execute_core(session, statement, params)
    return _namespaces(tuple(result.keys()), result)


async def _on_driver(
    bind: AsyncEngine | AsyncConnection, entry: _Compiled, key: Any, params: Any
) -> list[SimpleNamespace] | None:
    """The rows, or None when the driver (or the pool) raised: the caller then
    asks SQLAlchemy, which raises what the service knows how to answer."""
    values = entry.compiled.construct_params(params, extracted_parameters=key.bindparams)
    arguments = [
        value if process is None else process(value)
        for value, process in zip((values[name] for name in entry.names), entry.binds, strict=True)
    ]
    own = isinstance(bind, AsyncEngine)  # a connection of our own, or the session's
    engine = bind if isinstance(bind, AsyncEngine) else bind.engine
    try:
        if isinstance(bind, AsyncEngine):
            pooled = await bind.raw_connection()
        else:
            pooled = await bind.get_raw_connection()
    except Exception:
        return None
    connection: Any = pooled.driver_connection
    started = time.perf_counter()
    try:
        processors = await _results(entry, connection, bind.dialect)
        records = await connection.fetch(entry.sql, *arguments)
    except BaseException as error:
        if own:  # mid-statement or failed: not fit to go back to the pool
            pooled.invalidate(error if isinstance(error, Exception) else None)
            await greenlet_spawn(pooled.close)
        if not isinstance(error, Exception):
            raise  # cancelled
        return None
    if own:
        await greenlet_spawn(pooled.close)
    timer = timers.get(engine.sync_engine.pool)
    if timer is not None:
        timer(time.perf_counter() - started, entry.sql, False)
    return _processed(entry.keys, records, processors)
