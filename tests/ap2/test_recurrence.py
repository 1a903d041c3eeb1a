"""Recurrence spacing: fixed spans and calendar months clamped to the month's end (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.ap2.verification.recurrence import add_months, next_allowed
from app.ap2.verification.shapes import Frequency


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (_utc(2026, 1, 31, 10), 1, _utc(2026, 2, 28, 10)),
        (_utc(2024, 1, 31, 10), 1, _utc(2024, 2, 29, 10)),  # leap year
        (_utc(2100, 1, 31), 1, _utc(2100, 2, 28)),  # divisible by 100: not a leap year
        (_utc(2000, 1, 31), 1, _utc(2000, 2, 29)),  # divisible by 400: a leap year
        (_utc(2026, 3, 31), 1, _utc(2026, 4, 30)),
        (_utc(2026, 1, 15, 8, 30, 5, 7), 1, _utc(2026, 2, 15, 8, 30, 5, 7)),
        (_utc(2026, 11, 30), 3, _utc(2027, 2, 28)),
        (_utc(2026, 12, 31), 1, _utc(2027, 1, 31)),
        (_utc(2024, 2, 29), 12, _utc(2025, 2, 28)),
        (_utc(2023, 2, 28), 12, _utc(2024, 2, 28)),
        (_utc(2026, 8, 31), 3, _utc(2026, 11, 30)),
    ],
)
def test_add_months(start: datetime, months: int, end: datetime) -> None:
    assert add_months(start, months) == end


def test_months_are_counted_in_utc() -> None:
    # 2026-02-01T01:00+02:00 is 2026-01-31T23:00Z: one month on is 2026-02-28T23:00Z.
    local = datetime(2026, 2, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert add_months(local, 1) == _utc(2026, 2, 28, 23)


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [
        (Frequency.ON_DEMAND, None),
        (Frequency.DAILY, _utc(2026, 1, 31, 12) + timedelta(hours=24)),
        (Frequency.WEEKLY, _utc(2026, 2, 7, 12)),
        (Frequency.BIWEEKLY, _utc(2026, 2, 14, 12)),
        (Frequency.MONTHLY, _utc(2026, 2, 28, 12)),
        (Frequency.QUARTERLY, _utc(2026, 4, 30, 12)),
        (Frequency.ANNUALLY, _utc(2027, 1, 31, 12)),
    ],
)
def test_next_allowed(frequency: Frequency, expected: datetime | None) -> None:
    assert next_allowed(_utc(2026, 1, 31, 12), frequency) == expected


def test_past_the_last_representable_year_nothing_is_allowed() -> None:
    late = _utc(9999, 12, 31)
    for frequency in (Frequency.DAILY, Frequency.MONTHLY, Frequency.ANNUALLY):
        assert next_allowed(late, frequency) == datetime.max.replace(tzinfo=UTC)
