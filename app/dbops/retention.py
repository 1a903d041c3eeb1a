"""Retention: old audit rows and expired soft-deleted mandates, in short batches.

Sealed audit rows older than AUDIT_RETENTION_DAYS are removed per chain as a
prefix BY SEQ (rows seq <= S, S the last seq whose row and every row before it
are past the cutoff), so a hash chain loses its beginning, never a piece of
its middle; unsealed rows, and rows after the chain's newest signed checkpoint,
are never removed. Each batch is its own short
transaction, which also records in `audit_anchors` the newest removed row of
the chain (chain, seq, row_hash, timestamp, count): the first kept row's
`prev_hash` is that row_hash, so verification starts from the anchor.

Soft-deleted mandates are purged once their own `retention_days` have passed
since `deleted_at`.

The payloads of webhook deliveries that succeeded more than
WEBHOOK_PAYLOAD_RETENTION_DAYS ago are removed (the delivery log row stays,
`payload_purged_at` set), also in short batches.

The service runs this daily at RETENTION_RUN_AT (UTC); on PostgreSQL an
advisory lock lets only one process run it at a time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import audit_values, record_many
from app.core.actor import Actor
from app.core.config import Settings
from app.core.database import Database
from app.core.logging import get_logger
from app.models import AuditAnchor, AuditChainHead, AuditLog, Mandate, WebhookDelivery
from app.models.base import UTCDateTime

log = get_logger(__name__)
RETENTION_ACTOR = Actor.system("retention")
ADVISORY_LOCK_KEY = 0x4D565245  # "MVRE": one retention run at a time per database


def _mandate_expired(dialect: str, now: datetime) -> ColumnElement[bool]:
    moment = bindparam("now", now, type_=UTCDateTime())
    if dialect == "sqlite":
        condition = func.julianday(Mandate.deleted_at) + Mandate.retention_days < func.julianday(
            moment
        )
    else:
        condition = Mandate.deleted_at + Mandate.retention_days * text("interval '1 day'") < moment
    return Mandate.deleted_at.is_not(None) & condition


class _Clock:
    """Longest time any one transaction was open."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.batches = 0

    def record(self, seconds: float) -> None:
        self.longest = max(self.longest, seconds)
        self.batches += 1


async def _chains_to_cut(
    connection: AsyncConnection, cutoff: datetime
) -> dict[str, tuple[int, int]]:
    """Per chain: (first sealed seq kept by no-one, S) where rows seq <= S are all past the cutoff.

    S is the last seq whose row and every row before it are older than the cutoff;
    unsealed rows are never removed (the sealer has not linked them yet).
    """
    sealed = AuditLog.seq.is_not(None)
    old_chains = (
        await connection.execute(
            select(AuditLog.chain_id, func.min(AuditLog.seq))
            .where(sealed & (AuditLog.timestamp < cutoff))
            .group_by(AuditLog.chain_id)
        )
    ).all()
    cuts: dict[str, tuple[int, int]] = {}
    for chain, oldest in old_chains:
        boundary = (
            await connection.execute(
                select(func.min(AuditLog.seq)).where(
                    (AuditLog.chain_id == chain) & sealed & (AuditLog.timestamp >= cutoff)
                )
            )
        ).scalar_one()
        if boundary is None:
            newest = (
                await connection.execute(
                    select(func.max(AuditLog.seq)).where((AuditLog.chain_id == chain) & sealed)
                )
            ).scalar_one()
            boundary = int(newest or 0) + 1
        # Never past the chain's newest checkpoint: every removed row was signed first.
        signed = (
            await connection.execute(
                select(AuditChainHead.last_checkpoint_seq).where(AuditChainHead.chain_id == chain)
            )
        ).scalar_one_or_none()
        last = min(int(boundary) - 1, int(signed or 0))
        if oldest is not None and last >= oldest:
            cuts[chain] = (int(oldest), last)
    return cuts


async def _purge_audit_log(
    database: Database, cutoff: datetime, batch: int, dry_run: bool, clock: _Clock
) -> dict[str, Any]:
    """Cut each chain as a prefix BY SEQ, anchoring the newest removed row of each batch."""
    old = AuditLog.timestamp < cutoff
    async with database.write_engine.connect() as connection:
        cuts = await _chains_to_cut(connection, cutoff)
        eligible = 0
        for chain, (first, last) in cuts.items():
            eligible += (
                await connection.execute(
                    select(func.count())
                    .select_from(AuditLog)
                    .where((AuditLog.chain_id == chain) & AuditLog.seq.between(first, last))
                )
            ).scalar_one()
        all_old = (
            await connection.execute(select(func.count()).select_from(AuditLog).where(old))
        ).scalar_one()
        await connection.rollback()
    report: dict[str, Any] = {
        "cutoff": cutoff.isoformat(timespec="seconds"),
        "eligible": int(eligible),
        "deleted": 0,
        "kept_out_of_order": int(all_old) - int(eligible),
        "anchors": 0,
    }
    if dry_run or not eligible:
        return report
    run_id = uuid.uuid4()
    anchors: dict[str, int] = {}
    for chain, (first, last) in sorted(cuts.items()):
        after = first - 1
        while after < last:
            started = time.perf_counter()
            async with database.write_engine.begin() as connection:
                rows = (
                    await connection.execute(
                        select(
                            AuditLog.id,
                            AuditLog.tenant_id,
                            AuditLog.chain_id,
                            AuditLog.seq,
                            AuditLog.row_hash,
                            AuditLog.timestamp,
                        )
                        .where(
                            (AuditLog.chain_id == chain)
                            & (AuditLog.seq > after)
                            & (AuditLog.seq <= last)
                        )
                        .order_by(AuditLog.seq)
                        .limit(batch)
                    )
                ).all()
                if not rows:
                    break
                top = rows[-1].seq
                await connection.execute(
                    delete(AuditLog).where(
                        (AuditLog.chain_id == chain)
                        & (AuditLog.seq > after)
                        & (AuditLog.seq <= top)
                    )
                )
                await _anchor(connection, rows, run_id, cutoff, anchors)
            clock.record(time.perf_counter() - started)
            report["deleted"] += len(rows)
            after = top
    report["anchors"] = len(anchors)
    return report


async def _anchor(
    connection: AsyncConnection,
    rows: Sequence[Any],
    run_id: uuid.UUID,
    cutoff: datetime,
    anchors: dict[str, int],
) -> None:
    """Record the newest removed row of the batch's chain (one anchor per chain and run)."""
    now = datetime.now(UTC)
    newest = rows[-1]
    chain = newest.chain_id
    if chain in anchors:
        await connection.execute(
            update(AuditAnchor)
            .where(AuditAnchor.id == anchors[chain])
            .values(
                last_id=newest.id,
                last_seq=newest.seq,
                last_row_hash=newest.row_hash,
                last_timestamp=newest.timestamp,
                rows_removed=AuditAnchor.rows_removed + len(rows),
                updated_at=now,
            )
        )
        return
    result = await connection.execute(
        insert(AuditAnchor).values(
            run_id=run_id,
            tenant_id=newest.tenant_id,
            chain_id=chain,
            cutoff=cutoff,
            first_id=rows[0].id,
            last_id=newest.id,
            last_seq=newest.seq,
            last_row_hash=newest.row_hash,
            last_timestamp=newest.timestamp,
            rows_removed=len(rows),
            created_at=now,
            updated_at=now,
        )
    )
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    anchors[chain] = primary_key[0]


async def _mandates(
    database: Database, now: datetime, batch: int, dry_run: bool, clock: _Clock
) -> dict[str, Any]:
    expired = _mandate_expired(database.write_engine.dialect.name, now)
    async with database.write_engine.connect() as connection:
        eligible = (
            await connection.execute(select(func.count()).select_from(Mandate).where(expired))
        ).scalar_one()
        await connection.rollback()
    report = {"eligible": int(eligible), "purged": 0}
    if dry_run or not eligible:
        return report
    while True:
        started = time.perf_counter()
        async with database.write_engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(Mandate.id, Mandate.tenant_id).where(expired).limit(batch)
                )
            ).all()
            ids = [row.id for row in rows]
            if ids:
                await connection.execute(delete(Mandate).where(Mandate.id.in_(ids)))
                # The purge is a change like any other: one audit row per mandate,
                # committed with the delete.
                await record_many(
                    connection,
                    [
                        audit_values(
                            tenant_id=row.tenant_id,
                            actor=RETENTION_ACTOR,
                            action="mandate.purged",
                            resource_type="mandate",
                            resource_id=row.id,
                            at=now,
                        )
                        for row in rows
                    ],
                )
        clock.record(time.perf_counter() - started)
        if not ids:
            break
        report["purged"] += len(ids)
    return report


async def _webhook_payloads(
    database: Database, now: datetime, days: int, batch: int, dry_run: bool, clock: _Clock
) -> dict[str, Any]:
    cutoff = now - timedelta(days=days)
    due = (
        (WebhookDelivery.status == "succeeded")
        & (WebhookDelivery.delivered_at < bindparam("cutoff", cutoff, type_=UTCDateTime()))
        & WebhookDelivery.payload_purged_at.is_(None)
    )
    async with database.write_engine.connect() as connection:
        eligible = (
            await connection.execute(select(func.count()).select_from(WebhookDelivery).where(due))
        ).scalar_one()
        await connection.rollback()
    report: dict[str, Any] = {"eligible": int(eligible), "purged": 0, "cutoff": cutoff.isoformat()}
    if dry_run or not eligible:
        return report
    while True:
        started = time.perf_counter()
        async with database.write_engine.begin() as connection:
            ids = list(
                (await connection.execute(select(WebhookDelivery.id).where(due).limit(batch)))
                .scalars()
                .all()
            )
            if ids:
                await connection.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(ids))
                    .values(payload={}, payload_purged_at=now)
                )
        clock.record(time.perf_counter() - started)
        if not ids:
            break
        report["purged"] += len(ids)
    return report


async def run_retention(
    database: Database, *, dry_run: bool = False, now: datetime | None = None
) -> dict[str, Any]:
    """One retention pass; the report counts what was (or, dry, would be) removed."""
    settings = database.settings
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    clock = _Clock()
    lock = None
    if database.backend == "postgresql" and not dry_run:
        lock = await database.write_engine.connect()
        got = (
            await lock.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        ).scalar_one()
        await lock.commit()
        if not got:
            await lock.close()
            return {"skipped": "another retention run holds the lock", "dry_run": dry_run}
    try:
        cutoff = now - timedelta(days=settings.audit_retention_days)
        audit = await _purge_audit_log(
            database, cutoff, settings.retention_batch_size, dry_run, clock
        )
        mandates = await _mandates(database, now, settings.retention_batch_size, dry_run, clock)
        payloads = await _webhook_payloads(
            database,
            now,
            settings.webhook_payload_retention_days,
            settings.retention_batch_size,
            dry_run,
            clock,
        )
        if not dry_run and (audit["deleted"] or mandates["purged"] or payloads["purged"]):
            async with database.write_engine.begin() as connection:
                await record_many(
                    connection,
                    [
                        audit_values(
                            tenant_id=None,
                            actor=RETENTION_ACTOR,
                            action="retention.run",
                            resource_type="retention",
                            details={
                                "cutoff": audit["cutoff"],
                                "audit_rows_deleted": audit["deleted"],
                                "anchors": audit["anchors"],
                                "mandates_purged": mandates["purged"],
                                "webhook_payloads_purged": payloads["purged"],
                            },
                            at=now,
                        )
                    ],
                )
    finally:
        if lock is not None:
            await lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            await lock.commit()
            await lock.close()
    seconds = time.perf_counter() - started
    removed = audit["deleted"] + mandates["purged"]
    return {
        "dry_run": dry_run,
        "audit_log": audit,
        "mandates": mandates,
        "webhook_payloads": payloads,
        "batches": clock.batches,
        "longest_transaction_ms": round(clock.longest * 1000, 1),
        "seconds": round(seconds, 3),
        "rows_per_second": int(removed / seconds) if seconds > 0 and removed else 0,
    }


async def run_retention_once(settings: Settings, *, dry_run: bool = False) -> dict[str, Any]:
    database = Database(settings)
    try:
        return await run_retention(database, dry_run=dry_run)
    finally:
        await database.dispose()


def render_report(report: dict[str, Any]) -> str:
    if "skipped" in report:
        return f"retention skipped: {report['skipped']}"
    audit, mandates = report["audit_log"], report["mandates"]
    verb = "would delete" if report["dry_run"] else "deleted"
    lines = [
        f"audit_log: {verb} {audit['eligible'] if report['dry_run'] else audit['deleted']:,} "
        f"rows older than {audit['cutoff']}"
        + (f" ({audit['anchors']} tenant anchors kept)" if audit["anchors"] else ""),
        f"mandates:  {verb.replace('delete', 'purge')} "
        f"{mandates['eligible'] if report['dry_run'] else mandates['purged']:,} soft-deleted "
        "mandates past their retention",
    ]
    if payloads := report.get("webhook_payloads"):
        count = payloads["eligible"] if report["dry_run"] else payloads["purged"]
        lines.append(
            f"webhooks:  {verb.replace('delete', 'purge')} {count:,} delivered payloads "
            f"older than {payloads['cutoff']}"
        )
    if audit["kept_out_of_order"]:
        lines.append(
            f"audit_log: kept {audit['kept_out_of_order']:,} old rows that follow newer ones "
            "(the log is only ever cut as a prefix)"
        )
    if not report["dry_run"]:
        lines.append(
            f"{report['batches']} transactions, longest {report['longest_transaction_ms']} ms, "
            f"{report['seconds']} s"
        )
    return "\n".join(lines)


def next_run(now: datetime, run_at: str) -> datetime:
    parts = [int(part) for part in run_at.split(":")] + [0]  # HH:MM or HH:MM:SS
    hour, minute, second = parts[0], parts[1], parts[2]
    candidate = now.astimezone(UTC).replace(hour=hour, minute=minute, second=second, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


async def _schedule_loop(database: Database) -> None:
    settings = database.settings
    while True:
        now = datetime.now(UTC)
        await asyncio.sleep((next_run(now, settings.retention_run_at) - now).total_seconds())
        try:
            report = await run_retention(database)
            log.info("retention_run", **{k: v for k, v in report.items() if k != "dry_run"})
        except asyncio.CancelledError:
            raise
        except Exception as error:  # logged; the next day's run tries again
            log.error("retention_failed", error=f"{type(error).__name__}: {error}")


def start_schedule(database: Database) -> asyncio.Task[None]:
    """The daily retention job inside the service (cancel it on shutdown)."""
    return asyncio.get_running_loop().create_task(
        _schedule_loop(database), name="mandate-vault-retention"
    )
