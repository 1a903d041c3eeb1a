"""Many rows in one statement: a binary COPY on PostgreSQL (or, when rows may
conflict, an INSERT of `unnest`ed column arrays), an executemany on SQLite.

On PostgreSQL a chunk of thousands of rows is one round trip in asyncpg's binary
format, with no SQL text per row; values go through the columns' own bind
processing (naive datetimes refused, money exact), JSON through orjson. Rows
commit with the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import JSON, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

_PG = postgresql.dialect()
_STATEMENTS: dict[tuple[str, tuple[str, ...], tuple[str, ...] | None, str | None], str] = {}
_PROCESSORS: dict[tuple[str, str, str], Callable[[Any], Any] | None] = {}


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (integers past 64 bits, say), json encodes
        return json.dumps(value)


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type.dialect_impl(_PG), JSON)


def _processor(table: Table, name: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    key = (table.name, name, dialect.name)
    if key not in _PROCESSORS:
        if _is_json(table, name):
            _PROCESSORS[key] = _json_text
        else:
            column_type = table.c[name].type.dialect_impl(dialect)
            _PROCESSORS[key] = column_type.bind_processor(dialect)
    return _PROCESSORS[key]


def _statement(
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...] | None,
    returning: str | None,
) -> str:
    key = (table.name, columns, conflict, returning)
    found = _STATEMENTS.get(key)
    if found is None:
        quote = _PG.identifier_preparer.quote
        arrays = ", ".join(
            f"${i}::{table.c[name].type.dialect_impl(_PG).compile(dialect=_PG)}[]"
            for i, name in enumerate(columns, start=1)
        )
        found = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT * FROM unnest({arrays})"
        )
        if conflict is not None:
            found += f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING"
        if returning is not None:
            found += f" RETURNING {quote(returning)}"
        _STATEMENTS[key] = found
    return found


async def insert_many(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: Sequence[str] | None = None,
    returning: str | None = None,
) -> list[Any]:
    """INSERT `rows` (all with the same keys) in one statement; the `returning`
    column's values of the rows written (rows hitting `skip_conflicts_on` are skipped).
    """
    if not rows:
        return []
    columns = tuple(rows[0])
    conflict = tuple(skip_conflicts_on) if skip_conflicts_on is not None else None
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        statement: Any = insert(table)
        if conflict is not None:
            statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
        if returning is not None:
            statement = statement.returning(table.c[returning])
            return list((await session.execute(statement, list(rows))).scalars())
        await session.execute(statement, list(rows))
        return []
    processed = []
    for name in columns:
        values = [row[name] for row in rows]
        process = _processor(table, name, dialect)
        processed.append(values if process is None else [process(v) for v in values])
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    if not raw.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens its transaction at the first statement.
        await connection.exec_driver_sql("SELECT 1")
    records = list(zip(*processed, strict=True))
    if conflict is None:
        await raw.copy_records_to_table(table.name, records=records, columns=list(columns))
        return [] if returning is None else [row[returning] for row in rows]
    try:
        # COPY when no row conflicts (the caller looked first); a row written meanwhile
        # by a concurrent transaction undoes the COPY and the INSERT below skips it.
        async with raw.transaction():  # a SAVEPOINT inside the caller's transaction
            await raw.copy_records_to_table(table.name, records=records, columns=list(columns))
    except UniqueViolationError:
        pass
    else:
        return [] if returning is None else [row[returning] for row in rows]
    sql = _statement(table, columns, conflict, returning)
    if returning is None:
        await raw.execute(sql, *processed)
        return []
    return [record[0] for record in await raw.fetch(sql, *processed)]
