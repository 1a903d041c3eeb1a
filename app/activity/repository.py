"""Queries for the hourly activity counts: a tenant's rolled-up hours, its live
audit events since the roll-up, and (platform-wide, named so) the roll-up itself.

An hour bucket is computed by the database: `date_trunc` on PostgreSQL, the
first 13 characters of the stored text ("YYYY-MM-DD HH") on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.repository import TenantScopedRepository
from app.models import ActivityHour, ActivityRollup, AuditLog, Mandate, StatusCount

# The audit actions the dashboard counts.
COUNTED_ACTIONS = ("mandate.created", "mandate.rejected", "mandate.verified")
_ROLLUP_ROW = 1


@dataclass(frozen=True, slots=True)
class HourRow:
    hour: datetime
    action: str
    outcome: str
    count: int


def _bucket(dialect: str) -> ColumnElement[object]:
    if dialect == "postgresql":
        return func.date_trunc("hour", AuditLog.timestamp)
    return func.substr(AuditLog.timestamp, 1, 13)


def _as_hour(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.strptime(str(value), "%Y-%m-%d %H").replace(tzinfo=UTC)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


class ActivityRepository(TenantScopedRepository[ActivityHour]):
    """A tenant's rolled-up hours."""

    model = ActivityHour

    async def hours(self, start: datetime, end: datetime) -> list[HourRow]:
        query = self.base().where(ActivityHour.hour >= start, ActivityHour.hour < end)
        return [
            HourRow(row.hour, row.action, row.outcome, row.count)
            for row in await self.session.scalars(query)
        ]


class StatusCountRepository(TenantScopedRepository[StatusCount]):
    """A tenant's mandate counts by status as the roll-up last counted them."""

    model = StatusCount

    async def latest(self) -> tuple[dict[str, int], datetime | None]:
        rows = list(await self.session.scalars(self.base()))
        counted = min((row.counted_at for row in rows), default=None)
        return {row.status: row.count for row in rows}, counted


class AuditActivityRepository(TenantScopedRepository[AuditLog]):
    """A tenant's counted audit events, grouped by hour, straight from the trail."""

    model = AuditLog

    async def live(self, start: datetime) -> list[HourRow]:
        bucket = _bucket(_dialect(self.session)).label("hour")
        query = (
            select(bucket, AuditLog.action, AuditLog.outcome, func.count())
            .where(
                self.scope(),
                AuditLog.timestamp >= start,
                AuditLog.action.in_(COUNTED_ACTIONS),
            )
            .group_by(bucket, AuditLog.action, AuditLog.outcome)
        )
        rows = await self.session.execute(query)
        return [HourRow(_as_hour(h), a, o or "", int(n)) for h, a, o, n in rows]


# Platform-wide: the roll-up job counts every tenant's events at once.


async def rolled_up_to(session: AsyncSession, *, lock: bool = False) -> datetime | None:
    """Every hour before this instant is rolled up (None: nothing yet). With
    `lock`, the row is created if missing and held until the transaction ends,
    so two processes never roll up the same hours."""
    if lock:
        insert_for = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
        await session.execute(
            insert_for(ActivityRollup)
            .values(id=_ROLLUP_ROW, rolled_up_to=datetime(1970, 1, 1, tzinfo=UTC))
            .on_conflict_do_nothing(index_elements=["id"])
        )
    query = select(ActivityRollup.rolled_up_to).where(ActivityRollup.id == _ROLLUP_ROW)
    if lock and _dialect(session) == "postgresql":
        query = query.with_for_update()
    value = await session.scalar(query)
    if value is None or value.year == 1970:
        return None
    return value


async def roll_up_every_tenant(
    session: AsyncSession, start: datetime, end: datetime, keep_from: datetime
) -> int:
    """Count every tenant's events of [start, end) per hour into activity_hourly,
    move the mark to `end` and drop hours before `keep_from`; returns rows written."""
    bucket = _bucket(_dialect(session)).label("hour")
    query = (
        select(AuditLog.tenant_id, bucket, AuditLog.action, AuditLog.outcome, func.count())
        .where(
            AuditLog.tenant_id.is_not(None),
            AuditLog.timestamp >= start,
            AuditLog.timestamp < end,
            AuditLog.action.in_(COUNTED_ACTIONS),
        )
        .group_by(AuditLog.tenant_id, bucket, AuditLog.action, AuditLog.outcome)
    )
    rows: Sequence[dict[str, object]] = [
        {"tenant_id": t, "hour": _as_hour(h), "action": a, "outcome": o or "", "count": int(n)}
        for t, h, a, o, n in await session.execute(query)
    ]
    await session.execute(delete(ActivityHour).where(ActivityHour.hour < keep_from))
    if rows:
        await session.execute(insert(ActivityHour), rows)
    await session.execute(
        update(ActivityRollup).where(ActivityRollup.id == _ROLLUP_ROW).values(rolled_up_to=end)
    )
    return len(rows)


async def count_statuses_of_every_tenant(session: AsyncSession, now: datetime) -> int:
    """Replace every tenant's status counts with a fresh count (expiry exact at
    `now`); returns the rows written. Tenants without mandates get no rows."""
    grouped = await session.execute(
        select(Mandate.tenant_id, Mandate.status, func.count()).group_by(
            Mandate.tenant_id, Mandate.status
        )
    )
    counts: dict[tuple[object, str], int] = {(t, s): int(n) for t, s, n in grouped}
    # Active rows past their expiry that the sweep has not reached yet.
    lapsed = await session.execute(
        select(Mandate.tenant_id, func.count())
        .where(Mandate.status == "active", Mandate.expires_at <= now)
        .group_by(Mandate.tenant_id)
    )
    for tenant_id, n in lapsed:
        counts[(tenant_id, "active")] = counts.get((tenant_id, "active"), 0) - int(n)
        counts[(tenant_id, "expired")] = counts.get((tenant_id, "expired"), 0) + int(n)
    await session.execute(delete(StatusCount))
    rows = [
        {"tenant_id": t, "status": s, "count": n, "counted_at": now} for (t, s), n in counts.items()
    ]
    if rows:
        await session.execute(insert(StatusCount), rows)
    return len(rows)
