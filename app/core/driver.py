"""Hot statements sent by the driver itself: SQLAlchemy compiles, asyncpg executes.

Through `AsyncSession` one statement costs several times what it costs on the
driver's own connection (session and connection objects, events, greenlet hops,
the execution context). The hot paths keep SQLAlchemy for what it is good at
(the statement, its compiled SQL, its column types) and hand asyncpg the SQL and
the values:

- `select_rows`: reads of a read session, which on PostgreSQL runs in
  autocommit (`Database.read_sessions()`, `primary_reads()`), on a pooled
  connection of their own. Anything the driver (or the pool) raises is answered
  by running the read again through SQLAlchemy (a read changes nothing), which
  raises what the rest of the service knows; a connection that failed is dropped.
- `write_rows`: one INSERT/UPDATE/DELETE in a unit of work, on the session's
  connection and inside its transaction; or, for a unit of work's sole write,
  alone in autocommit, with no BEGIN or COMMIT (see there).

For both, the compiled SQL is cached by the statement's cache key (as
SQLAlchemy's own cache does) and the bound values are taken from the statement,
so a statement built per request compiles once per shape; values go through each
parameter's bind processing and each column's result processing, so rows hold
exactly what the SQLAlchemy path gives. SQLite, sessions without an autocommit
bind, and shapes the driver does not take (expanding IN lists, computed column
defaults) run through `execute_core`. Either way the rows are named tuples (a
namespace where the keys cannot name a tuple's fields), read by attribute: a
SQLAlchemy Row's attribute costs about seven times theirs, and one is made in a
sixth of the time a SimpleNamespace takes.
"""

from __future__ import annotations

import keyword
import time
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import ClauseElement, Executable, Select, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import Pool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_, greenlet_spawn

from app.core.repository import execute_core, flush_pending

# session.info key: the autocommit engine (or connection) a read session's
# statements may be sent on directly. Set by app.core.database on PostgreSQL only.
AUTOCOMMIT_BIND = "mandate_vault.autocommit_bind"
# session.info key of a unit of work on PostgreSQL: the autocommit engine its sole
# write may be sent on (`write_rows(..., sole=True)`). Set by app.core.database.
SOLE_WRITE_BIND = "mandate_vault.sole_write_bind"
# session.info key: a sole write stored rows on its own, so nothing else may run in
# the unit of work (it would not be part of that write's transaction).
WROTE_ALONE = "mandate_vault.wrote_alone"
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
    defaults: dict[str, Any]  # scalar column defaults of an INSERT's unnamed columns
    # Every bind is named by its own key (no escaped names): values given by name
    # need no construct_params, which matches the statement's extracted values.
    by_name: bool
    # (position, processing) of the columns that need it; known after the first execution
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None


# By dialect and statement shape; None for a shape the driver does not take.
_compiled: dict[tuple[Any, ...], _Compiled | None] = {}
# By statement object (a statement never changes once built): a statement built once,
# at import, is found without hashing its cache key, which for a SELECT of every
# column of a table costs about as much as the rest of the lookup.
_by_statement: WeakKeyDictionary[Any, tuple[tuple[Any, ...], _Compiled | None]] = (
    WeakKeyDictionary()
)


def _compile(
    statement: Executable, dialect: Dialect, key: Any, column_keys: tuple[str, ...] = ()
) -> _Compiled | None:
    target = (dialect.name, dialect.server_version_info, column_keys)
    known = _by_statement.get(statement)
    if known is not None and known[0] == target:
        return known[1]
    entry = _compile_shape(statement, dialect, key, column_keys)
    _by_statement[statement] = (target, entry)
    return entry


def _compile_shape(
    statement: Executable, dialect: Dialect, key: Any, column_keys: tuple[str, ...]
) -> _Compiled | None:
    shape = (dialect.name, dialect.server_version_info, key.key, column_keys)
    if shape in _compiled:
        return _compiled[shape]
    compiled: SQLCompiler = cast(ClauseElement, statement).compile(  # type: ignore[assignment]
        dialect=dialect, cache_key=key, column_keys=list(column_keys)
    )
    entry = None
    # Expanding IN lists are rendered per call, and computed column defaults come
    # from SQLAlchemy's execution context: SQLAlchemy runs those. A scalar default
    # (format = 'vc-jwt') is a value like any other.
    per_call = compiled.post_compile_params or compiled.literal_execute_params
    prefetch: list[Any] = [*compiled.insert_prefetch, *compiled.update_prefetch]
    scalar = all(column.default is not None and column.default.is_scalar for column in prefetch)
    if not per_call and scalar:
        names = tuple(compiled.positiontup or ())
        binds = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        columns = statement.exported_columns  # type: ignore[attr-defined]
        defaults = {column.key: column.default.arg for column in prefetch}
        by_name = not compiled.escaped_bind_names and all(
            bind.key == name for bind, name in compiled.bind_names.items()
        )
        entry = _Compiled(
            compiled.string,
            compiled,
            names,
            binds,
            list(columns),
            tuple(columns.keys()),
            defaults,
            by_name,
        )
    if len(_compiled) >= _MAX_COMPILED:
        _compiled.clear()
    _compiled[shape] = entry
    return entry


def _arguments(entry: _Compiled, key: Any, params: Mapping[str, Any] | None) -> list[Any]:
    """The statement's values in positional order, through their bind processing."""
    if entry.defaults:
        params = {**entry.defaults, **(params or {})}
    values: Any = None
    if entry.by_name and params:
        try:
            values = [params[name] for name in entry.names]
        except KeyError:
            values = None  # some come from the statement itself
    if values is None:
        named = entry.compiled.construct_params(params, extracted_parameters=key.bindparams)
        values = [named[name] for name in entry.names]
    return [
        value if process is None else process(value)
        for value, process in zip(values, entry.binds, strict=True)
    ]


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


def _timed(engine: AsyncEngine, started: float, sql: str) -> None:
    timer = timers.get(engine.sync_engine.pool)
    if timer is not None:
        timer(time.perf_counter() - started, sql, False)


_RowMaker = Callable[[Any], Any]


@lru_cache(maxsize=256)
def _row_maker(keys: tuple[str, ...]) -> _RowMaker:
    """Makes a row of these column keys from its values: a named tuple, or a
    SimpleNamespace for keys a named tuple cannot have (say `_sa_x` or `count(*)`)."""
    if (
        keys
        and all(
            key.isidentifier() and not keyword.iskeyword(key) and not key.startswith("_")
            for key in keys
        )
        and len(set(keys)) == len(keys)
    ):
        row: Any = namedtuple("Row", keys)  # type: ignore[misc]  # the fields are the query's
        return cast(_RowMaker, row._make)
    return lambda values: SimpleNamespace(**dict(zip(keys, values, strict=True)))


def _rows(keys: Sequence[str], rows: Any) -> list[Any]:
    make = _row_maker(tuple(keys))
    return [make(row) for row in rows]


def _processed(
    make: _RowMaker, records: Any, processors: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> list[Any]:
    if not processors:
        return [make(record) for record in records]
    rows = []
    for record in records:
        values = list(record)
        for position, process in processors:
            values[position] = process(values[position])
        rows.append(make(values))
    return rows


async def select_rows(
    session: AsyncSession, statement: Select[Any], params: Mapping[str, Any] | None = None
) -> list[Any]:
    """The rows of a Core SELECT as named tuples (on the driver when it can be)."""
    bind: AsyncEngine | AsyncConnection | None = session.info.get(AUTOCOMMIT_BIND)
    if bind is not None:
        key = statement._generate_cache_key()
        entry = _compile(statement, bind.dialect, key) if key is not None else None
        if entry is not None:
            rows = await _on_driver(bind, entry, key, params)
            if rows is not None:
                return rows
    result = await execute_core(session, statement, params)
    return _rows(tuple(result.keys()), result)


async def _on_driver(
    bind: AsyncEngine | AsyncConnection, entry: _Compiled, key: Any, params: Any
) -> list[Any] | None:
    """The rows, or None when the driver (or the pool) raised: the caller then
    asks SQLAlchemy, which raises what the service knows how to answer."""
    arguments = _arguments(entry, key, params)
    if isinstance(bind, AsyncEngine):  # a connection of our own, checked out and in
        return await greenlet_spawn(_on_own_connection, bind, entry, arguments)
    try:
        pooled = await bind.get_raw_connection()  # the session's
    except Exception:
        return None
    connection: Any = pooled.driver_connection
    started = time.perf_counter()
    try:
        processors = await _results(entry, connection, bind.dialect)
        records = await connection.fetch(entry.sql, *arguments)
    except Exception:
        return None
    _timed(bind.engine, started, entry.sql)
    return _processed(_row_maker(entry.keys), records, processors)


def _on_own_connection(engine: AsyncEngine, entry: _Compiled, arguments: list[Any]) -> Any:
    """`_on_driver` on a pooled connection of its own, in one greenlet: the pool's
    checkout and checkin are synchronous code that may wait (`await_`), and each
    greenlet costs a memory map and unmap of its own (about 8 us on this VM), so
    checkout, statement and checkin share one rather than two. A connection
    dropped here is closed as SQLAlchemy closes one in its greenlet: gracefully,
    so a cancelled statement is cancelled on the server too."""
    try:
        pooled = engine.sync_engine.raw_connection()
    except Exception:
        return None
    connection: Any = pooled.driver_connection
    started = time.perf_counter()
    try:
        processors = await_(_results(entry, connection, engine.dialect))
        records = await_(connection.fetch(entry.sql, *arguments))
    except BaseException as error:
        # Mid-statement or failed: not fit to go back to the pool.
        pooled.invalidate(error if isinstance(error, Exception) else None)
        pooled.close()
        if not isinstance(error, Exception):
            raise  # cancelled
        return None
    pooled.close()
    _timed(engine, started, entry.sql)
    return _processed(_row_maker(entry.keys), records, processors)


async def write_rows(
    session: AsyncSession,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    sole: bool = False,
) -> list[Any]:
    """Run one INSERT / UPDATE / DELETE (one set of values) in the session's
    transaction; its RETURNING rows as named tuples (none without RETURNING).

    On PostgreSQL the statement goes to the driver on the session's own
    connection, inside the transaction SQLAlchemy keeps: BEGIN is sent the way
    SQLAlchemy's asyncpg adapter sends it (at the transaction's first statement,
    under the adapter's lock), so the commit or rollback of the session covers
    this statement like any other. What the driver raises comes out as the
    SQLAlchemy error the SQLAlchemy path raises (a lost connection invalidated
    and marked so), since a failed statement cannot be tried again in an aborted
    transaction.

    `sole=True`: the caller says this is its unit of work's only write. When the
    session has not begun a transaction (nothing ran in it, nothing is pending)
    and has an autocommit bind (`SOLE_WRITE_BIND`), the statement is sent alone
    in autocommit: PostgreSQL runs one statement atomically, a data-modifying
    CTE included, and it is committed when it returns, so BEGIN and COMMIT (two
    round trips) are not sent. Once such a write returned rows the session is
    marked `WROTE_ALONE`, and a later write raises (`refuse_after_sole_write`).
    """
    refuse_after_sole_write(session)
    if session.get_bind().dialect.name == "postgresql":
        key = statement._generate_cache_key()  # type: ignore[attr-defined]
        if key is not None:
            alone = _sole_bind(session) if sole else None
            if alone is not None:
                entry = _compile(statement, alone.dialect, key, tuple(sorted(params)))
                if entry is not None:
                    rows = await _alone(alone, entry, key, params)
                    if rows or not entry.keys:
                        session.info[WROTE_ALONE] = True
                    return rows
            await flush_pending(session)
            connection = await session.connection()
            entry = _compile(statement, connection.dialect, key, tuple(sorted(params)))
            if entry is not None:
                return await _in_transaction(connection, entry, key, params)
    result = await execute_core(session, statement, params)
    if not result.returns_rows:
        return []
    return _rows(tuple(result.keys()), result)


def refuse_after_sole_write(session: AsyncSession) -> None:
    """Raise when a sole write already stored rows on its own in this session:
    whatever comes after it would not be part of its transaction."""
    if session.info.get(WROTE_ALONE):
        raise RuntimeError("this unit of work's sole write is committed; nothing may follow it")


def _sole_bind(session: AsyncSession) -> AsyncEngine | None:
    """The autocommit engine a sole write goes to, when the session is untouched."""
    bind: AsyncEngine | None = session.info.get(SOLE_WRITE_BIND)
    touched = session.in_transaction() or session.new or session.dirty or session.deleted
    return None if touched else bind


async def _alone(
    engine: AsyncEngine, entry: _Compiled, key: Any, params: Mapping[str, Any]
) -> list[Any]:
    """One statement in autocommit, on a pooled connection of its own (checkout,
    statement and checkin in one greenlet, as `_on_own_connection`)."""
    rows: list[Any] = await greenlet_spawn(
        _alone_on_own_connection, engine, entry, _arguments(entry, key, params)
    )
    return rows


def _alone_on_own_connection(engine: AsyncEngine, entry: _Compiled, arguments: list[Any]) -> Any:
    pooled = engine.sync_engine.raw_connection()
    adapter: Any = pooled.dbapi_connection
    started = time.perf_counter()
    try:
        rows = await_(_send(adapter, entry, arguments, engine.dialect))
    except BaseException as error:
        failure = _as_sqlalchemy_error(engine.dialect, adapter, error, entry.sql)
        if failure is None or failure[1]:
            # Cancelled mid-statement, or lost: not fit to go back to the pool.
            pooled.invalidate(error if isinstance(error, Exception) else None)
        pooled.close()
        if failure is None:
            raise
        raise failure[0] from None
    pooled.close()
    _timed(engine, started, entry.sql)
    return rows


async def _in_transaction(
    connection: AsyncConnection, entry: _Compiled, key: Any, params: Mapping[str, Any]
) -> list[Any]:
    arguments = _arguments(entry, key, params)
    pooled = await connection.get_raw_connection()
    adapter: Any = pooled.dbapi_connection
    started = time.perf_counter()
    try:
        async with adapter._execute_mutex:
            if adapter._transaction is None:
                await adapter._start_transaction()
            rows = await _send(adapter, entry, arguments, connection.dialect)
    except Exception as error:
        failure = _as_sqlalchemy_error(connection.dialect, adapter, error, entry.sql)
        assert failure is not None  # an Exception always has its SQLAlchemy form
        translated, lost = failure
        if lost:
            await connection.invalidate(error)
        raise translated from None
    _timed(connection.engine, started, entry.sql)
    return rows


async def _send(
    adapter: Any, entry: _Compiled, arguments: list[Any], dialect: Dialect
) -> list[Any]:
    """The statement on the adapter's driver connection; its RETURNING rows."""
    driver = adapter.driver_connection
    if not entry.keys:  # no RETURNING of its own (SQLAlchemy may add one for the key)
        await driver.fetch(entry.sql, *arguments)
        return []
    processors = await _results(entry, driver, dialect)
    return _processed(_row_maker(entry.keys), await driver.fetch(entry.sql, *arguments), processors)


def _as_sqlalchemy_error(
    dialect: Dialect, adapter: Any, error: BaseException, sql: str
) -> tuple[Exception, bool] | None:
    """The error SQLAlchemy raises for what the driver raised (its DB-API class,
    marked invalidated when the connection was lost) and whether it was lost
    (the caller drops the connection); None for a cancellation."""
    if not isinstance(error, Exception):
        return None
    try:
        adapter._handle_exception(error)  # raises the adapter's DB-API form of it
    except Exception as translated:
        error = translated
    lost = dialect.is_disconnect(cast(Any, error), adapter, None)
    failure = exc.DBAPIError.instance(
        sql,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=dialect,
    )
    return failure, lost
