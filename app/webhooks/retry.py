"""When to try a message again, when to give up, when to disable an endpoint.

Pure functions of the attempt number, its outcome, the time and the endpoint's
failure streak; the random draw for jitter is an argument too, so every
decision can be replayed in a test.
"""

from __future__ import annotations

import email.utils
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.webhooks.results import AttemptOutcome

# Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: the Standard Webhooks example.
STANDARD_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_DISABLE_AFTER = timedelta(days=5)
_MAX_DELAY_DIGITS = 10


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"
    DISABLE_ENDPOINT = "disable_endpoint"


class DisableReason(StrEnum):
    GONE = "gone"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Entry n of `schedule` is the wait before attempt n+1; its length is the attempt count."""

    schedule: tuple[float, ...] = STANDARD_SCHEDULE
    jitter: float = 0.1
    retry_after_max: float = 86400.0
    disable_after: timedelta = DEFAULT_DISABLE_AFTER

    def __post_init__(self) -> None:
        if not self.schedule or any(not 0 <= delay < float("inf") for delay in self.schedule):
            raise ValueError("a retry schedule is one or more finite delays of 0 s or more")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction from 0 up to 1")
        if not 0 <= self.retry_after_max < float("inf"):
            raise ValueError("retry_after_max is a finite number of seconds")
        if self.disable_after <= timedelta(0):
            raise ValueError("disable_after is a positive duration")

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)

    def first_attempt_at(self, created_at: datetime) -> datetime:
        """When a new message is first due."""
        return created_at + timedelta(seconds=self.schedule[0])


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after an attempt."""

    verdict: Verdict
    next_attempt_at: datetime | None = None
    disable_reason: DisableReason | None = None


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    """An endpoint's failure streak: when it began and how long it is."""

    failing_since: datetime | None = None
    consecutive_failures: int = 0
    last_success_at: datetime | None = None


def jittered(delay: float, jitter: float, draw: float) -> float:
    """`delay` spread by +/- `jitter` of itself; `draw` is uniform in [0, 1)."""
    return delay * (1 + jitter * (2 * draw - 1))


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP-date), or None if unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text)) if len(text) <= _MAX_DELAY_DIGITS else None
    if len(text) > 64:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def decide(
    policy: RetryPolicy,
    *,
    attempt: int,
    outcome: AttemptOutcome,
    now: datetime,
    failing_since: datetime | None,
    retry_after_seconds: float | None = None,
    draw: Callable[[], float] = _random.random,
) -> Decision:
    """The verdict after attempt number `attempt` (1 for the first) ended in `outcome`.

    `failing_since` is the endpoint's first failure with no success after it, as
    it stood before this attempt (None when its last attempt succeeded).
    """
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    if outcome is AttemptOutcome.SUCCESS:
        return Decision(Verdict.DELIVERED)
    if outcome is AttemptOutcome.GONE:
        return Decision(Verdict.DISABLE_ENDPOINT, disable_reason=DisableReason.GONE)
    if should_disable(policy, failing_since=failing_since, now=now):
        return Decision(Verdict.DISABLE_ENDPOINT, disable_reason=DisableReason.FAILING)
    if attempt >= policy.max_attempts:
        return Decision(Verdict.GIVE_UP)
    delay = jittered(policy.schedule[attempt], policy.jitter, draw())
    if outcome is AttemptOutcome.THROTTLED and retry_after_seconds is not None:
        delay = max(delay, min(max(retry_after_seconds, 0.0), policy.retry_after_max))
    return Decision(Verdict.RETRY, next_attempt_at=now + timedelta(seconds=delay))


def should_disable(policy: RetryPolicy, *, failing_since: datetime | None, now: datetime) -> bool:
    """True once an endpoint has failed for `disable_after` without one success."""
    return failing_since is not None and now - failing_since >= policy.disable_after


def record_outcome(
    health: EndpointHealth, outcome: AttemptOutcome, now: datetime
) -> EndpointHealth:
    """The endpoint's streak after one more attempt."""
    if outcome is AttemptOutcome.SUCCESS:
        return EndpointHealth(failing_since=None, consecutive_failures=0, last_success_at=now)
    return EndpointHealth(
        failing_since=health.failing_since or now,
        consecutive_failures=health.consecutive_failures + 1,
        last_success_at=health.last_success_at,
    )
