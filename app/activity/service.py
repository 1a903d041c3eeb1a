"""What the dashboard's overview charts: a tenant's stored and rejected
submissions per hour and its verification failures by code, over the last days.

Closed hours come from the roll-up (`activity_hourly`), the rest is counted
from the audit trail live, so the figures are exact whether or not the job ran.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.activity.repository import (
    ActivityRepository,
    AuditActivityRepository,
    HourRow,
    StatusCountRepository,
    rolled_up_to,
)
from app.mandates.repository import MandateRepository
from app.models.mandate import MandateStatus

HOUR = timedelta(hours=1)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class HourCount:
    hour: datetime
    stored: int
    rejected: int


@dataclass(frozen=True, slots=True)
class ActivitySummary:
    hours: list[HourCount]  # oldest first, one per hour, the current one last
    failures: dict[str, int]  # verification code -> count, most frequent first

    @property
    def stored(self) -> int:
        return sum(h.stored for h in self.hours)

    @property
    def rejected(self) -> int:
        return sum(h.rejected for h in self.hours)


def _is_failure(row: HourRow) -> bool:
    if row.action == "mandate.rejected":
        return True
    return row.action == "mandate.verified" and row.outcome not in ("", "VALID")


async def activity(
    session: AsyncSession, tenant_id: uuid.UUID, now: datetime, days: int = 7
) -> ActivitySummary:
    """Hourly counts of the last `days` days (the current hour included)."""
    current = floor_hour(now)
    start = current - timedelta(days=days) + HOUR
    mark = await rolled_up_to(session)
    rows: list[HourRow] = []
    live_from = start
    if mark is not None and mark > start:
        rows += await ActivityRepository(session, tenant_id).hours(start, mark)
        live_from = mark
    rows += await AuditActivityRepository(session, tenant_id).live(live_from)
    stored: Counter[datetime] = Counter()
    rejected: Counter[datetime] = Counter()
    failures: Counter[str] = Counter()
    for row in rows:
        if row.hour < start:
            continue
        if row.action == "mandate.created":
            stored[row.hour] += row.count
        elif row.action == "mandate.rejected":
            rejected[row.hour] += row.count
        if _is_failure(row):
            failures[row.outcome or "UNKNOWN"] += row.count
    hours = []
    moment = start
    while moment <= current:
        hours.append(HourCount(moment, stored[moment], rejected[moment]))
        moment += HOUR
    return ActivitySummary(hours, dict(failures.most_common()))


@dataclass(frozen=True, slots=True)
class StatusCounts:
    counts: dict[str, int]  # every status, zero included
    as_of: datetime  # when they were counted (now, when counted live)


async def status_counts(
    session: AsyncSession, tenant_id: uuid.UUID, now: datetime, fresh_within: timedelta
) -> StatusCounts:
    """The tenant's mandates by status: the roll-up's count when it is at most
    `fresh_within` old, else counted now (exact, but it reads every mandate)."""
    counts, as_of = await StatusCountRepository(session, tenant_id).latest()
    if as_of is None or now - as_of > fresh_within:
        counts, as_of = await MandateRepository(session, tenant_id).counts_by_status(now), now
    return StatusCounts({s.value: counts.get(s.value, 0) for s in MandateStatus}, as_of)
