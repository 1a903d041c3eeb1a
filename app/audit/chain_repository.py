"""The audit chain in the database: sealing, checkpoints and the verification reads.

Platform-wide by nature (one sealer links every tenant's rows), so every query
here names its chain explicitly; docs/audit-chain.md "The database side" is the
design. Core statements only: these run for every row sealed or verified.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.audit.chain import (
    AuditRow,
    ChainHead,
    HashableEntry,
    Seal,
    UnhashableRow,
    seal_entries,
)
from app.audit.checkpoint import build_checkpoint, sign_checkpoint
from app.audit.verify import ChainAnchor, StoredCheckpoint
from app.core.driver import select_rows
from app.core.logging import get_logger
from app.models import AuditAnchor, AuditChainHead, AuditCheckpoint, AuditLog
from app.models.base import table_of
from app.signing import Keyring

log = get_logger(__name__)
LOG = table_of(AuditLog)
HEADS = table_of(AuditChainHead)
CHECKPOINTS = table_of(AuditCheckpoint)
ANCHORS = table_of(AuditAnchor)
SEAL_BATCH = 2000
CHECKPOINT_MAX_ROWS = 1024
VERIFY_PAGE = 10000

_RECORD_COLUMNS = (
    LOG.c.chain_id,
    LOG.c.timestamp,
    LOG.c.actor_type,
    LOG.c.actor_id,
    LOG.c.actor_role,
    LOG.c.action,
    LOG.c.resource_type,
    LOG.c.resource_id,
    LOG.c.outcome,
    LOG.c.request_id,
    LOG.c.ip_address,
    LOG.c.details,
)
_SEALED_COLUMNS = (
    LOG.c.chain_id,
    LOG.c.seq,
    LOG.c.timestamp,
    LOG.c.actor_type,
    LOG.c.action,
    LOG.c.actor_id,
    LOG.c.actor_role,
    LOG.c.resource_type,
    LOG.c.resource_id,
    LOG.c.outcome,
    LOG.c.request_id,
    LOG.c.ip_address,
    LOG.c.details,
    LOG.c.prev_hash,
    LOG.c.row_hash,
)
_SEAL_UPDATE = (
    update(LOG)
    .where(LOG.c.id == bindparam("row_id"), LOG.c.seq.is_(None))
    .values(
        seq=bindparam("new_seq"),
        prev_hash=bindparam("new_prev"),
        row_hash=bindparam("new_hash"),
        sealed_at=bindparam("now"),
    )
)


_PG_SEAL_UPDATE = text(
    "UPDATE audit_log AS a SET seq = v.seq, prev_hash = v.prev, row_hash = v.hash, "
    "sealed_at = :now FROM unnest(CAST(:ids AS BIGINT[]), CAST(:seqs AS BIGINT[]), "
    "CAST(:prevs AS VARCHAR[]), CAST(:hashes AS VARCHAR[])) AS v(id, seq, prev, hash) "
    "WHERE a.id = v.id AND a.seq IS NULL"
)


@dataclass(slots=True)
class SealResult:
    """One sealing pass: rows sealed per chain, their commit-to-seal lags, stuck chains."""

    sealed: dict[str, int] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    stuck: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.sealed.values())


def _upsert(dialect: str) -> Any:
    return pg_insert(HEADS) if dialect == "postgresql" else sqlite_insert(HEADS)


def _locked(query: Any, dialect: str) -> Any:
    return query.with_for_update() if dialect == "postgresql" else query


async def read_heads(
    connection: AsyncConnection, chains: Sequence[str], *, lock: bool = False
) -> dict[str, Row[Any]]:
    query = select(HEADS).where(HEADS.c.chain_id.in_(list(chains)))
    if lock:
        query = _locked(query, connection.dialect.name)
    return {row.chain_id: row for row in (await connection.execute(query)).all()}


def _seal_chain(
    chain: str, entries: list[HashableEntry], head: ChainHead, result: SealResult
) -> tuple[list[Seal], ChainHead]:
    """Seals for as many rows as can be hashed, in order; a row that cannot stops its chain."""
    try:
        return seal_entries(entries, head)
    except UnhashableRow:
        pass
    seals: list[Seal] = []
    for entry in entries:
        try:
            more, head = seal_entries([entry], head)
        except UnhashableRow as exc:
            result.stuck[chain] = str(exc)
            break
        seals += more
    return seals, head


async def seal_pending(
    connection: AsyncConnection, now: datetime, *, limit: int = SEAL_BATCH
) -> SealResult:
    """One pass in the caller's transaction: link the committed unsealed rows, in id order.

    Only the sealer writes seq; it reads each head under a row lock (PostgreSQL)
    or inside BEGIN IMMEDIATE (SQLite) and writes seqs and heads together, so a
    crash rolls back both. The unique (chain_id, seq) index turns a second
    sealer that slipped past the lock into a failed transaction, never a duplicate.
    """
    dialect = connection.dialect.name
    query = select(LOG.c.id, *_RECORD_COLUMNS).where(LOG.c.seq.is_(None)).order_by(LOG.c.id)
    rows = (await connection.execute(_locked(query.limit(limit), dialect))).all()
    result = SealResult()
    if not rows:
        return result
    by_chain: dict[str, list[Any]] = {}
    for row in rows:
        by_chain.setdefault(row.chain_id, []).append(row)
    heads = await read_heads(connection, list(by_chain), lock=True)
    updates: list[dict[str, Any]] = []
    new_heads: list[dict[str, Any]] = []
    for chain, entries in by_chain.items():
        stored = heads.get(chain)
        head = (
            ChainHead(chain, stored.seq, stored.row_hash)
            if stored is not None
            else ChainHead.genesis(chain)
        )
        seals, new_head = _seal_chain(chain, entries, head, result)
        if not seals:
            continue
        for entry, seal in zip(entries, seals, strict=False):
            updates.append(
                {
                    "row_id": entry.id,
                    "new_seq": seal.seq,
                    "new_prev": seal.prev_hash,
                    "new_hash": seal.row_hash,
                    "now": now,
                }
            )
            result.lags.append((now - entry.timestamp).total_seconds())
        result.sealed[chain] = len(seals)
        new_heads.append(
            {
                "chain_id": chain,
                "seq": new_head.seq,
                "row_hash": new_head.row_hash,
                "sealed_at": now,
                "last_checkpoint_seq": 0,
            }
        )
    if updates and dialect == "postgresql":
        # One statement for the whole pass (an executemany would be one round trip a row).
        await connection.execute(
            _PG_SEAL_UPDATE,
            {
                "ids": [u["row_id"] for u in updates],
                "seqs": [u["new_seq"] for u in updates],
                "prevs": [u["new_prev"] for u in updates],
                "hashes": [u["new_hash"] for u in updates],
                "now": now,
            },
        )
    elif updates:
        await connection.execute(_SEAL_UPDATE, updates)
    for values in new_heads:
        statement = _upsert(dialect).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[HEADS.c.chain_id],
            set_={"seq": values["seq"], "row_hash": values["row_hash"], "sealed_at": now},
        )
        await connection.execute(statement)
    return result


async def any_unsealed(connection: AsyncConnection) -> bool:
    query = select(LOG.c.id).where(LOG.c.seq.is_(None)).limit(1)
    return (await connection.execute(query)).first() is not None


async def unsealed_count(connection: AsyncConnection) -> int:
    query = select(func.count()).select_from(LOG).where(LOG.c.seq.is_(None))
    return int((await connection.execute(query)).scalar_one())


# --- checkpoints -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MadeCheckpoint:
    chain_id: str
    seq: int
    first_seq: int


def _due_checkpoint(cutoff: Any, max_rows: Any) -> ColumnElement[bool]:
    """A chain is due a checkpoint when rows were sealed since its last one and it
    never had one, or `max_rows` of them wait, or its last one is older than `cutoff`."""
    waiting = HEADS.c.seq - HEADS.c.last_checkpoint_seq
    return and_(
        HEADS.c.seq > HEADS.c.last_checkpoint_seq,
        or_(
            HEADS.c.checkpointed_at.is_(None),
            waiting >= max_rows,
            HEADS.c.checkpointed_at <= cutoff,
        ),
    )


# Whether a sealer round has anything to do, in one statement: a row to seal or a
# checkpoint due. Built once, so its compiled form is found without rebuilding it.
_WORK_PENDING = select(
    or_(
        select(LOG.c.id).where(LOG.c.seq.is_(None)).exists(),
        select(HEADS.c.chain_id)
        .where(_due_checkpoint(bindparam("cutoff"), bindparam("max_rows")))
        .exists(),
    ).label("pending")
)


async def work_pending(
    session: AsyncSession, now: datetime, *, max_rows: int, max_age_seconds: float
) -> bool:
    """Whether `seal_pending` or `checkpoint_due` would find anything now (one read,
    on the driver where the session allows it)."""
    cutoff = now - timedelta(seconds=max_age_seconds)
    rows = await select_rows(session, _WORK_PENDING, {"cutoff": cutoff, "max_rows": max_rows})
    return bool(rows[0].pending)


async def checkpoint_due(
    connection: AsyncConnection,
    now: datetime,
    *,
    max_rows: int,
    max_age_seconds: float,
    force: bool = False,
    chains: Sequence[str] | None = None,
) -> list[str]:
    """Chains with rows sealed since their last checkpoint that are due one now
    (every such chain when `force`)."""
    if force:
        due = HEADS.c.seq > HEADS.c.last_checkpoint_seq
    else:
        due = _due_checkpoint(now - timedelta(seconds=max_age_seconds), max_rows)
    query = select(HEADS.c.chain_id).where(due)
    if chains is not None:
        query = query.where(HEADS.c.chain_id.in_(list(chains)))
    return list((await connection.execute(query)).scalars())


async def checkpoint_chain(
    connection: AsyncConnection,
    chain: str,
    keyring: Keyring,
    now: datetime,
    *,
    max_rows: int = CHECKPOINT_MAX_ROWS,
) -> list[MadeCheckpoint]:
    """Sign the chain's head in batches of at most `max_rows` rows since its last checkpoint."""
    heads = await read_heads(connection, [chain], lock=True)
    stored = heads.get(chain)
    if stored is None:
        return []
    made: list[MadeCheckpoint] = []
    last = stored.last_checkpoint_seq
    anchor = await newest_anchor(connection, chain)
    if anchor is not None and anchor.last_seq > last:
        last = anchor.last_seq  # rows up to the anchor are gone: the next batch starts after it
    while last < stored.seq:
        first, end = last + 1, min(stored.seq, last + max_rows)
        hashes = list(
            (
                await connection.execute(
                    select(LOG.c.row_hash)
                    .where(LOG.c.chain_id == chain, LOG.c.seq.between(first, end))
                    .order_by(LOG.c.seq)
                )
            ).scalars()
        )
        if len(hashes) != end - first + 1:
            log.error(
                "audit_checkpoint_gap",
                chain=chain,
                first_seq=first,
                seq=end,
                found=len(hashes),
                hint="rows of this batch are missing; run `mandate-vault audit verify`",
            )
            break
        checkpoint = build_checkpoint(chain, first, [str(h) for h in hashes], now)
        jws = sign_checkpoint(checkpoint, keyring)
        await connection.execute(
            insert(CHECKPOINTS).values(
                chain_id=chain,
                seq=checkpoint.seq,
                first_seq=first,
                row_hash=checkpoint.row_hash,
                root=checkpoint.root,
                kid=keyring.kid,
                signed_at=now,
                jws=jws,
            )
        )
        made.append(MadeCheckpoint(chain, checkpoint.seq, first))
        last = checkpoint.seq
    if made:
        await connection.execute(
            update(HEADS)
            .where(HEADS.c.chain_id == chain)
            .values(last_checkpoint_seq=last, checkpointed_at=now)
        )
    return made


# --- verification reads ----------------------------------------------------------------


async def chain_ids(connection: AsyncConnection) -> list[str]:
    """Every chain with a head (rows ever sealed), in a stable order."""
    query = select(HEADS.c.chain_id).order_by(HEADS.c.chain_id)
    return [str(c) for c in (await connection.execute(query)).scalars()]


async def head_of(connection: AsyncConnection, chain: str) -> ChainHead | None:
    row = (await read_heads(connection, [chain])).get(chain)
    return None if row is None else ChainHead(chain, row.seq, row.row_hash)


async def newest_anchor(connection: AsyncConnection, chain: str) -> ChainAnchor | None:
    query = (
        select(ANCHORS.c.last_seq, ANCHORS.c.last_row_hash)
        .where(ANCHORS.c.chain_id == chain, ANCHORS.c.last_seq.is_not(None))
        .order_by(ANCHORS.c.last_seq.desc())
        .limit(1)
    )
    row = (await connection.execute(query)).first()
    return None if row is None else ChainAnchor(int(row.last_seq), row.last_row_hash)


def _details(value: Any) -> Any:
    # JSON on SQLite arrives decoded; keep bytes/str forms working too.
    if isinstance(value, bytes | bytearray):
        return orjson.loads(value)
    return value


def _audit_row(row: Any) -> AuditRow:
    values = list(row)
    values[12] = _details(values[12])
    return AuditRow._make(values)


_PG_SEALED_ROWS = (
    "SELECT chain_id, seq, timestamp, actor_type, action, actor_id, actor_role, "
    "resource_type, resource_id, outcome, request_id, ip_address, details::text, "
    "prev_hash, row_hash FROM audit_log "
    "WHERE chain_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4"
)


async def _pg_sealed_rows(
    connection: AsyncConnection, chain: str, after: int, upto: int, page: int
) -> AsyncIterator[list[AuditRow]]:
    """The same read straight through asyncpg: no per-row type processing, JSONB as
    text decoded by orjson (the verifier's fetch must not cost more than its hashing)."""
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    loads, make = orjson.loads, AuditRow._make
    while after < upto:
        records = await driver.fetch(_PG_SEALED_ROWS, chain, after, upto, page)
        if not records:
            return
        rows = []
        for record in records:
            values = list(record)
            values[12] = loads(values[12])
            rows.append(make(values))
        yield rows
        after = rows[-1].seq
        if len(rows) < page:
            return


_PG_CHECKPOINTS = (
    "SELECT seq, jws FROM audit_checkpoints WHERE chain_id = $1 AND seq > $2 AND seq <= $3 "
    "ORDER BY seq"
)
Page = tuple[list[AuditRow], list[StoredCheckpoint]]


async def _pg_pages(
    connection: AsyncConnection, chain: str, after: int, upto: int, page: int
) -> AsyncIterator[Page]:
    """Pages of rows with the checkpoints filed within them; the next page is fetched
    while the caller checks this one (the database works while we hash)."""
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    loads, make = orjson.loads, AuditRow._make

    async def load(start: int) -> Page | None:
        records = await driver.fetch(_PG_SEALED_ROWS, chain, start, upto, page)
        if not records:
            return None
        rows = []
        for record in records:
            values = list(record)
            values[12] = loads(values[12])
            rows.append(make(values))
        found = await driver.fetch(_PG_CHECKPOINTS, chain, start, rows[-1].seq)
        return rows, [StoredCheckpoint(int(r[0]), str(r[1])) for r in found]

    pending: asyncio.Future[Page | None] | None = asyncio.ensure_future(load(after))
    try:
        while pending is not None:
            result = await pending
            pending = None
            if result is None:
                return
            rows = result[0]
            if len(rows) == page and rows[-1].seq < upto:
                pending = asyncio.ensure_future(load(rows[-1].seq))
            yield result
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


async def pages_with_checkpoints(
    connection: AsyncConnection, chain: str, *, after: int, upto: int, page: int = VERIFY_PAGE
) -> AsyncGenerator[Page, None]:
    """(rows, checkpoints filed after the previous page up to this page's last seq)."""
    if connection.dialect.name == "postgresql":
        async for item in _pg_pages(connection, chain, after, upto, page):
            yield item
        return
    start = after
    async for rows in sealed_rows(connection, chain, after=after, upto=upto, page=page):
        found = await stored_checkpoints(connection, chain, after=start, upto=rows[-1].seq)
        start = rows[-1].seq
        yield rows, found


async def sealed_rows(
    connection: AsyncConnection,
    chain: str,
    *,
    after: int,
    upto: int,
    page: int = VERIFY_PAGE,
) -> AsyncIterator[list[AuditRow]]:
    """The chain's sealed rows after seq `after` up to `upto`, in seq order, page by page."""
    if connection.dialect.name == "postgresql":
        async for rows in _pg_sealed_rows(connection, chain, after, upto, page):
            yield rows
        return
    while after < upto:
        query = (
            select(*_SEALED_COLUMNS)
            .where(LOG.c.chain_id == chain, LOG.c.seq > after, LOG.c.seq <= upto)
            .order_by(LOG.c.seq)
            .limit(page)
        )
        rows = [_audit_row(row) for row in (await connection.execute(query)).all()]
        if not rows:
            return
        yield rows
        after = rows[-1].seq
        if len(rows) < page:
            return


async def stored_checkpoints(
    connection: AsyncConnection, chain: str, *, after: int, upto: int | None
) -> list[StoredCheckpoint]:
    query = select(CHECKPOINTS.c.seq, CHECKPOINTS.c.jws).where(
        CHECKPOINTS.c.chain_id == chain, CHECKPOINTS.c.seq > after
    )
    if upto is not None:
        query = query.where(CHECKPOINTS.c.seq <= upto)
    rows = (await connection.execute(query.order_by(CHECKPOINTS.c.seq))).all()
    return [StoredCheckpoint(int(row.seq), str(row.jws)) for row in rows]


async def rows_of_resource(
    connection: AsyncConnection, chain: str, resource_type: str, resource_id: str
) -> list[AuditRow]:
    """A resource's sealed rows in its chain, in seq order (an evidence pack's events)."""
    query = select(*_SEALED_COLUMNS).where(
        LOG.c.chain_id == chain,
        LOG.c.resource_type == resource_type,
        LOG.c.resource_id == resource_id,
    )
    # Filtered and sorted here: `seq IS NOT NULL` or ORDER BY seq would tempt the planner
    # (stale statistics right after a big sealing run) to walk the whole chain by
    # (chain_id, seq) instead of taking the resource's few rows by idx_audit_log_resource.
    rows = [_audit_row(row) for row in (await connection.execute(query)).all()]
    return sorted((row for row in rows if row.seq is not None), key=lambda row: row.seq)


async def resource_position(
    connection: AsyncConnection,
    chain: str,
    resource_type: str,
    resource_id: str,
    *,
    skip_action: str | None = None,
) -> tuple[int, int | None]:
    """(rows not sealed yet, newest sealed seq) of a resource's rows in its chain,
    leaving out the rows of `skip_action`."""
    where = [
        LOG.c.chain_id == chain,
        LOG.c.resource_type == resource_type,
        LOG.c.resource_id == resource_id,
    ]
    if skip_action is not None:
        where.append(LOG.c.action != skip_action)
    query = select(func.count().filter(LOG.c.seq.is_(None)), func.max(LOG.c.seq)).where(*where)
    unsealed, newest = (await connection.execute(query)).one()
    return int(unsealed or 0), None if newest is None else int(newest)


async def covering_checkpoint(
    connection: AsyncConnection, chain: str, seq: int
) -> tuple[int, int, str] | None:
    """(first_seq, seq, jws) of the first checkpoint at or after `seq`."""
    query = (
        select(CHECKPOINTS.c.first_seq, CHECKPOINTS.c.seq, CHECKPOINTS.c.jws)
        .where(CHECKPOINTS.c.chain_id == chain, CHECKPOINTS.c.seq >= seq)
        .order_by(CHECKPOINTS.c.seq)
        .limit(1)
    )
    row = (await connection.execute(query)).first()
    return None if row is None else (int(row.first_seq), int(row.seq), str(row.jws))


async def covering_checkpoints(
    connection: AsyncConnection, chain: str, seqs: Sequence[int]
) -> list[tuple[int, int, str]]:
    """(first_seq, seq, jws) of every checkpoint whose batch holds one of `seqs`, in one query."""
    if not seqs:
        return []
    holds = or_(
        *(and_(CHECKPOINTS.c.first_seq <= seq, CHECKPOINTS.c.seq >= seq) for seq in set(seqs))
    )
    query = (
        select(CHECKPOINTS.c.first_seq, CHECKPOINTS.c.seq, CHECKPOINTS.c.jws)
        .where(CHECKPOINTS.c.chain_id == chain, holds)
        .order_by(CHECKPOINTS.c.seq)
    )
    return [
        (int(row.first_seq), int(row.seq), str(row.jws))
        for row in (await connection.execute(query)).all()
    ]


async def batches_hashes(
    connection: AsyncConnection, chain: str, ranges: Sequence[tuple[int, int]]
) -> dict[int, str]:
    """seq -> row_hash over several seq ranges: one index range scan each (an OR of
    ranges in one statement leads the planner astray)."""
    found: dict[int, str] = {}
    for first, last in ranges:
        query = select(LOG.c.seq, LOG.c.row_hash).where(
            LOG.c.chain_id == chain, LOG.c.seq >= first, LOG.c.seq <= last
        )
        for row in (await connection.execute(query)).all():
            found[int(row.seq)] = str(row.row_hash)
    return found


async def batch_hashes(connection: AsyncConnection, chain: str, first: int, last: int) -> list[str]:
    query = (
        select(LOG.c.row_hash)
        .where(LOG.c.chain_id == chain, LOG.c.seq.between(first, last))
        .order_by(LOG.c.seq)
    )
    return [str(h) for h in (await connection.execute(query)).scalars()]
