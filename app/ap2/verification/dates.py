"""Dates of mandate contents as exact instants, and the vault clock in the same terms.

`YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDThh:mm:ss[.fraction]` with `Z` or `+hh:mm` /
`-hh:mm`. An instant is a Fraction of epoch seconds, so any fraction of a second
compares exactly.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction

_DATE = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,32}))?"
    r"(?P<z>Z|[+-]\d{2}:\d{2}))?",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


class InvalidDate(ValueError):
    """A value that is not a date or date-time of the contract's form."""


def parse_instant(value: object) -> Fraction:
    """Epoch seconds (exact) of a contract date; raises InvalidDate."""
    if type(value) is not str:
        raise InvalidDate("date must be a string")
    match = _DATE.fullmatch(value)
    if match is None:
        raise InvalidDate(f"{value[:40]!r} is not YYYY-MM-DD or an RFC 3339 date-time")
    year, month, day = int(match["y"]), int(match["mo"]), int(match["d"])
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise InvalidDate(f"{value[:40]!r} is not a calendar date")
    seconds = (datetime(year, month, day, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
    if match["h"] is None:
        return Fraction(seconds)
    hour, minute, second = int(match["h"]), int(match["mi"]), int(match["s"])
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidDate(f"{value[:40]!r} has an out-of-range time")
    offset = 0
    zone = match["z"]
    if zone != "Z":
        zone_hours, zone_minutes = int(zone[1:3]), int(zone[4:6])
        if zone_hours > 23 or zone_minutes > 59:
            raise InvalidDate(f"{value[:40]!r} has an out-of-range offset")
        offset = (zone_hours * 3600 + zone_minutes * 60) * (-1 if zone[0] == "-" else 1)
    total = Fraction(seconds + hour * 3600 + minute * 60 + second - offset)
    if match["f"]:
        total += Fraction(int(match["f"]), 10 ** len(match["f"]))
    return total


def clock_instant(now: datetime) -> Fraction:
    """Epoch seconds (exact to the microsecond) of an aware datetime."""
    return Fraction((now - _EPOCH) // _MICRO, 1_000_000)


def micros(now: datetime) -> int:
    """Epoch microseconds of an aware datetime; ValueError for a naive one."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return (now - _EPOCH) // _MICRO
