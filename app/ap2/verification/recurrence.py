"""`payment.agent_recurrence` spacing: the earliest instant the next approval may happen.

Fixed spans for DAILY / WEEKLY / BIWEEKLY; calendar months in UTC for MONTHLY (1),
QUARTERLY (3) and ANNUALLY (12), the day clamped to the month's end (Jan 31 + 1
month = Feb 28, or Feb 29 in a leap year); ON_DEMAND has no spacing.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from app.ap2.verification.shapes import Frequency

_SPANS = {
    Frequency.DAILY: timedelta(hours=24),
    Frequency.WEEKLY: timedelta(days=7),
    Frequency.BIWEEKLY: timedelta(days=14),
}
_MONTHS = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.ANNUALLY: 12}


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` (taken in UTC) plus calendar months, the day clamped to the month's end."""
    utc = moment.astimezone(UTC)
    index = utc.year * 12 + (utc.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(utc.day, calendar.monthrange(year, month)[1])
    return utc.replace(year=year, month=month, day=day)


_NEVER = datetime.max.replace(tzinfo=UTC)


def next_allowed(last_approval: datetime, frequency: Frequency) -> datetime | None:
    """Earliest next approval after `last_approval`; None when the frequency has no spacing."""
    span = _SPANS.get(frequency)
    months = _MONTHS.get(frequency)
    try:
        if span is not None:
            return last_approval.astimezone(UTC) + span
        if months is not None:
            return add_months(last_approval, months)
    except (OverflowError, ValueError):
        return _NEVER  # past year 9999: no later approval can be represented
    return None
