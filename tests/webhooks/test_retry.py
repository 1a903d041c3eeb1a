"""The retry policy: schedule, jitter, Retry-After, giving up, disabling an endpoint."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.webhooks.results import AttemptOutcome
from app.webhooks.retry import (
    STANDARD_SCHEDULE,
    DisableReason,
    EndpointHealth,
    RetryPolicy,
    Verdict,
    decide,
    jittered,
    parse_retry_after,
    record_outcome,
    should_disable,
)

NOW = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
POLICY = RetryPolicy()
FAILURES = [
    outcome
    for outcome in AttemptOutcome
    if outcome not in (AttemptOutcome.SUCCESS, AttemptOutcome.GONE)
]


def middle() -> float:
    return 0.5


def test_the_standard_schedule_without_jitter() -> None:
    assert STANDARD_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert POLICY.max_attempts == 8
    assert POLICY.first_attempt_at(NOW) == NOW
    waits = []
    for attempt in range(1, 8):
        decision = decide(
            POLICY,
            attempt=attempt,
            outcome=AttemptOutcome.HTTP_ERROR,
            now=NOW,
            failing_since=NOW,
            draw=middle,
        )
        assert decision.verdict is Verdict.RETRY
        assert decision.next_attempt_at is not None
        waits.append((decision.next_attempt_at - NOW).total_seconds())
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert timedelta(seconds=sum(waits)) == timedelta(hours=27, minutes=35, seconds=5)


@pytest.mark.parametrize("outcome", FAILURES)
def test_every_failure_retries_then_gives_up_after_the_last_attempt(
    outcome: AttemptOutcome,
) -> None:
    assert (
        decide(POLICY, attempt=1, outcome=outcome, now=NOW, failing_since=None).verdict
        is Verdict.RETRY
    )
    last = decide(POLICY, attempt=8, outcome=outcome, now=NOW, failing_since=NOW)
    assert last == type(last)(Verdict.GIVE_UP)


@pytest.mark.parametrize("attempt", [1, 4, 8])
def test_success_is_delivered_whatever_the_streak(attempt: int) -> None:
    decision = decide(
        POLICY,
        attempt=attempt,
        outcome=AttemptOutcome.SUCCESS,
        now=NOW,
        failing_since=NOW - timedelta(days=30),
    )
    assert decision.verdict is Verdict.DELIVERED
    assert decision.next_attempt_at is None


@pytest.mark.parametrize("attempt", [1, 8])
def test_gone_disables_at_once(attempt: int) -> None:
    decision = decide(
        POLICY, attempt=attempt, outcome=AttemptOutcome.GONE, now=NOW, failing_since=None
    )
    assert (decision.verdict, decision.disable_reason) == (
        Verdict.DISABLE_ENDPOINT,
        DisableReason.GONE,
    )


def test_five_days_of_failure_without_success_disables() -> None:
    five_days = NOW - timedelta(days=5)
    disabled = decide(
        POLICY, attempt=2, outcome=AttemptOutcome.TIMEOUT, now=NOW, failing_since=five_days
    )
    assert (disabled.verdict, disabled.disable_reason) == (
        Verdict.DISABLE_ENDPOINT,
        DisableReason.FAILING,
    )
    almost = decide(
        POLICY,
        attempt=2,
        outcome=AttemptOutcome.TIMEOUT,
        now=NOW,
        failing_since=five_days + timedelta(seconds=1),
    )
    assert almost.verdict is Verdict.RETRY
    first_failure = decide(
        POLICY, attempt=1, outcome=AttemptOutcome.TIMEOUT, now=NOW, failing_since=None
    )
    assert first_failure.verdict is Verdict.RETRY
    custom = RetryPolicy(disable_after=timedelta(hours=1))
    assert should_disable(custom, failing_since=NOW - timedelta(hours=1), now=NOW)
    assert not should_disable(custom, failing_since=None, now=NOW)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(3600.0, 3600.0), (1.0, 300.0), (0.0, 300.0), (10**9, 86400.0), (-50.0, 300.0)],
)
def test_retry_after_is_honoured_for_throttling_up_to_the_cap(
    retry_after: float, expected: float
) -> None:
    decision = decide(
        POLICY,
        attempt=2,
        outcome=AttemptOutcome.THROTTLED,
        now=NOW,
        failing_since=NOW,
        retry_after_seconds=retry_after,
        draw=middle,
    )
    assert decision.next_attempt_at == NOW + timedelta(seconds=expected)


def test_retry_after_is_ignored_for_other_failures() -> None:
    decision = decide(
        POLICY,
        attempt=1,
        outcome=AttemptOutcome.HTTP_ERROR,
        now=NOW,
        failing_since=None,
        retry_after_seconds=3600,
        draw=middle,
    )
    assert decision.next_attempt_at == NOW + timedelta(seconds=5)


@given(draw=st.floats(min_value=0, max_value=1, exclude_max=True), attempt=st.integers(1, 7))
def test_jitter_stays_within_its_fraction(draw: float, attempt: int) -> None:
    decision = decide(
        POLICY,
        attempt=attempt,
        outcome=AttemptOutcome.HTTP_ERROR,
        now=NOW,
        failing_since=NOW,
        draw=lambda: draw,
    )
    assert decision.next_attempt_at is not None
    wait = (decision.next_attempt_at - NOW).total_seconds()
    base = STANDARD_SCHEDULE[attempt]
    assert base * 0.9 - 1e-6 <= wait <= base * 1.1 + 1e-6


def test_jitter_spreads_retries_apart() -> None:
    assert jittered(300, 0.1, 0.0) == pytest.approx(270)
    assert jittered(300, 0.1, 0.999999) == pytest.approx(330, abs=0.01)
    assert jittered(0, 0.1, 0.3) == 0
    waits = {
        decide(
            POLICY, attempt=3, outcome=AttemptOutcome.TIMEOUT, now=NOW, failing_since=NOW
        ).next_attempt_at
        for _ in range(20)
    }
    assert len(waits) > 1  # the default draw is random


def test_a_configured_schedule_is_used() -> None:
    policy = RetryPolicy(schedule=(0, 1, 2), jitter=0)
    assert decide(
        policy, attempt=2, outcome=AttemptOutcome.TIMEOUT, now=NOW, failing_since=NOW
    ).next_attempt_at == (NOW + timedelta(seconds=2))
    assert decide(
        policy, attempt=3, outcome=AttemptOutcome.TIMEOUT, now=NOW, failing_since=NOW
    ).verdict is (Verdict.GIVE_UP)
    delayed = RetryPolicy(schedule=(30, 60))
    assert delayed.first_attempt_at(NOW) == NOW + timedelta(seconds=30)


@pytest.mark.parametrize(
    "values",
    [
        {"schedule": ()},
        {"schedule": (0, -1)},
        {"schedule": (0, float("inf"))},
        {"schedule": (0, float("nan"))},
        {"jitter": 1.0},
        {"jitter": -0.1},
        {"retry_after_max": float("inf")},
        {"disable_after": timedelta(0)},
    ],
)
def test_bad_policies_are_refused(values: dict) -> None:
    with pytest.raises(ValueError, match="schedule|jitter|retry_after_max|disable_after"):
        RetryPolicy(**values)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="counted from 1"):
        decide(POLICY, attempt=0, outcome=AttemptOutcome.TIMEOUT, now=NOW, failing_since=None)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (email.utils.format_datetime(NOW + timedelta(minutes=5), usegmt=True), 300.0),
        ("Wed, 01 Jul 2026 08:10:00 GMT", 600.0),
        ("Wednesday, 01-Jul-26 08:10:00 GMT", 600.0),
        ("Wed, 01 Jul 2026 07:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    "header",
    [None, "", "soon", "-5", "1.5", "1e3", "12345678901", "٣", "Wed, 99 Foo 2026", "x" * 10_000],
)
def test_unusable_retry_after_is_none(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


@given(st.text(max_size=80))
def test_parse_retry_after_never_raises_on_hostile_headers(header: str) -> None:
    value = parse_retry_after(header, now=NOW)
    assert value is None or value >= 0


def test_endpoint_health_streaks() -> None:
    health = EndpointHealth()
    health = record_outcome(health, AttemptOutcome.TIMEOUT, NOW)
    assert (health.failing_since, health.consecutive_failures) == (NOW, 1)
    later = NOW + timedelta(hours=3)
    health = record_outcome(health, AttemptOutcome.HTTP_ERROR, later)
    assert (health.failing_since, health.consecutive_failures) == (NOW, 2)
    health = record_outcome(health, AttemptOutcome.SUCCESS, later)
    assert health == EndpointHealth(
        failing_since=None, consecutive_failures=0, last_success_at=later
    )
    health = record_outcome(health, AttemptOutcome.GONE, later + timedelta(seconds=1))
    assert health.failing_since == later + timedelta(seconds=1)
    assert health.last_success_at == later
