"""`db copy --to URL`: every row of the current database into another one.

The road from SQLite to PostgreSQL (and back, or between servers). The source
must be at the migration head; the target is migrated to head first. Rows are
read from one consistent snapshot of the source, streamed table by table in
foreign-key order and in batches (PostgreSQL targets through binary COPY), all
in ONE target transaction: a failure leaves the target as it was. Row counts
of every table are compared at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Table, Text, delete, func, select, text, type_coerce
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings, backend_of, parse_database_url
from app.core.database import create_engine_for
from app.dbops import inventory, migrations
from app.dbops.backup import sqlite_path
from app.dbops.errors import DbOpsError, Refused
from app.models import Base

Progress = Callable[[int], None]


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _same_database(a: URL, b: URL) -> bool:
    if backend_of(a) != backend_of(b):
        return False
    if backend_of(a) == "sqlite":
        return sqlite_path(a) == sqlite_path(b)
    return (a.host, a.port or 5432, a.database) == (b.host, b.port or 5432, b.database)


async def _counts(url: URL, settings: Settings) -> dict[str, int]:
    engine = create_engine_for(url, settings, writer=False, pooled=False)
    try:
        async with engine.connect() as connection:
            return await inventory.row_counts(connection)
    except Exception as error:
        raise inventory.unreachable(inventory.display_url(url), error) from None
    finally:
        await engine.dispose()


def count_source_rows(settings: Settings) -> int:
    counts = asyncio.run(_counts(settings.database, settings))
    return sum(v for k, v in counts.items() if k != "alembic_version")


def _json_columns(table: Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, JSON) or "JSON" in str(c.type)}


def _encode_json(record: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    values = list(record)
    for i in positions:
        if values[i] is not None:
            values[i] = json.dumps(values[i])
    return tuple(values)


async def _copy_table(
    source: AsyncConnection,
    target: AsyncConnection,
    table: Table,
    batch_size: int,
    progress: Progress | None,
) -> int:
    """Stream one table; reading the next batch overlaps writing the last one."""
    columns = [c.name for c in table.columns]
    json_columns = _json_columns(table)
    postgres_target = target.dialect.name == "postgresql"
    raw = (await target.get_raw_connection()).driver_connection if postgres_target else None
    # From SQLite into PostgreSQL, JSON travels as the text it is stored as (no
    # parse and re-encode); from PostgreSQL it arrives parsed and is encoded again.
    as_text = raw is not None and source.dialect.name == "sqlite"
    selected = [
        type_coerce(c, Text) if as_text and c.name in json_columns else c for c in table.columns
    ]
    encode = [
        i
        for i, c in enumerate(table.columns)
        if raw is not None and not as_text and c.name in json_columns
    ]
    order = list(table.primary_key.columns) or list(table.columns)[:1]
    stream = await source.stream(
        select(*selected).order_by(*order).execution_options(yield_per=batch_size)
    )
    queue: asyncio.Queue[list[Any] | None] = asyncio.Queue(maxsize=2)

    async def read() -> None:
        try:
            async for partition in stream.partitions(batch_size):
                await queue.put(list(partition))
        finally:
            await queue.put(None)

    reader = asyncio.create_task(read())
    copied = 0
    try:
        while (partition := await queue.get()) is not None:
            if raw is not None:
                records = [tuple(row) for row in partition]
                if encode:
                    records = [_encode_json(record, encode) for record in records]
                await raw.copy_records_to_table(table.name, records=records, columns=columns)
            else:
                await target.execute(table.insert(), [dict(row._mapping) for row in partition])
            copied += len(partition)
            if progress:
                progress(len(partition))
    finally:
        if not reader.done():
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return copied


async def _reset_sequences(target: AsyncConnection) -> None:
    for table in _tables():
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto" and column.type.python_type is int
            ):
                await target.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"coalesce((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"
                    )
                )


async def _copy(
    source_url: URL,
    target_url: URL,
    settings: Settings,
    replace: bool,
    batch_size: int,
    progress: Progress | None,
) -> dict[str, int]:
    source_engine = create_engine_for(source_url, settings, writer=False, pooled=False)
    target_engine = create_engine_for(target_url, settings, writer=True, pooled=False)
    copied: dict[str, int] = {}
    try:
        async with source_engine.connect() as source, target_engine.connect() as target:
            if source.dialect.name == "postgresql":
                source = await source.execution_options(isolation_level="REPEATABLE READ")
            await source.begin()  # one snapshot for every table
            async with target.begin():
                if replace:
                    for table in reversed(_tables()):
                        await target.execute(delete(table))
                for table in _tables():
                    copied[table.name] = await _copy_table(
                        source, target, table, batch_size, progress
                    )
                if target.dialect.name == "postgresql":
                    await _reset_sequences(target)
            expected = {
                table.name: int(
                    (await source.execute(select(func.count()).select_from(table))).scalar_one()
                )
                for table in _tables()
            }
            await source.rollback()
    finally:
        await source_engine.dispose()
        await target_engine.dispose()
    if copied != expected:
        raise DbOpsError(f"copied {copied} but the source snapshot holds {expected}")
    return copied


def copy_database(
    settings: Settings,
    to: str,
    replace: bool = False,
    batch_size: int = 5000,
    progress: Progress | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    source_url = settings.database
    try:
        target_url = parse_database_url(to, "--to")
    except ValueError as error:
        raise Refused(str(error)) from None
    if _same_database(source_url, target_url):
        raise Refused("--to names the database being copied; pick another target")
    state = migrations.migration_state(source_url.render_as_string(hide_password=False))
    if not state.at_head:
        raise Refused(
            f"the source is at revision {', '.join(state.current) or '(none)'}, not at head "
            f"{', '.join(state.heads)}; run `mandate-vault db upgrade` on it first"
        )
    target_counts: dict[str, int] = {}
    if not (backend_of(target_url) == "sqlite" and not sqlite_path(target_url).exists()):
        target_counts = asyncio.run(_counts(target_url, settings))
    filled = {k: v for k, v in target_counts.items() if v and k != "alembic_version"}
    if filled and not replace:
        raise Refused(
            f"the target {inventory.display_url(target_url)} is not empty ("
            + ", ".join(f"{k}: {v} rows" for k, v in sorted(filled.items()))
            + "); nothing was copied. Pass --replace to empty it first (its rows are lost)"
        )
    try:
        migrations.upgrade(target_url.render_as_string(hide_password=False))
    except migrations.MigrationError as error:
        raise Refused(f"the target cannot be migrated: {error}") from None
    copied = asyncio.run(_copy(source_url, target_url, settings, replace, batch_size, progress))
    verified = asyncio.run(_counts(target_url, settings))
    mismatched = {k: (v, verified.get(k)) for k, v in copied.items() if verified.get(k) != v}
    if mismatched:
        raise DbOpsError(f"row counts differ after the copy (copied, found): {mismatched}")
    seconds = time.perf_counter() - started
    total = sum(copied.values())
    return {
        "target": inventory.display_url(target_url),
        "row_counts": copied,
        "total_rows": total,
        "seconds": round(seconds, 2),
        "rows_per_second": int(total / seconds) if seconds else total,
    }
