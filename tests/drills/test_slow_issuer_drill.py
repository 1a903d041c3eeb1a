"""A JWKS host that accepts and never answers, for one tenant, with more hung
submissions than the pool has connections: that tenant's other issuers and every
other tenant keep ingesting at full speed, on both databases."""

from __future__ import annotations

import warnings

import pytest

from tests.drills.slow_issuer import SlowIssuerFigures, run_slow_issuer_drill
from tests.log_scan import leaks

# One engine after the other: two servers at once would measure each other.
pytestmark = [pytest.mark.drill, pytest.mark.slow, pytest.mark.xdist_group("slow_issuer")]


def structural_failures(figures: SlowIssuerFigures) -> list[str]:
    """What a stall caused by the slow issuer would break, in any round."""
    summary = figures.summary()
    found = []
    if figures.still_hung_at_end != figures.hung_submissions:
        found.append(f"the submissions were not all hung to the end: {summary}")
    if figures.hung_submissions <= figures.pool_connections:
        found.append("fewer hung submissions than pooled connections")
    for own, other in figures.windows:
        for measured in (own, other):
            if measured.statuses != {201: len(measured.samples)} or len(measured.samples) < 10:
                found.append(f"other ingests failed or were too few: {summary}")
            if measured.quantile(0.5) >= 0.250:  # a stall is seconds, not milliseconds
                found.append(f"other ingests stalled: {summary}")
    return found


def meets_the_bar(figures: SlowIssuerFigures) -> bool:
    """p99 under 100 ms for the slow tenant's other issuer and for the other tenant,
    in the quietest window; on a machine that missed the bar before the slow issuer
    came into play, within 1.5 x that round's own baseline instead."""
    for who, baseline in ((0, figures.baseline_own), (1, figures.baseline_other)):
        p99 = figures.best(who).quantile(0.99)
        bar = 0.100 if baseline.quantile(0.99) < 0.100 else 1.5 * baseline.quantile(0.99)
        if p99 >= bar:
            return False
    return True


async def test_a_hung_key_host_stalls_nobody_else(database_url, engine_name):
    # Up to three rounds on one server: a stall caused by the slow issuer fails every
    # round (checked in each); the machine's other load fails one now and then.
    rounds = await run_slow_issuer_drill(
        database_url, engine_name, hung=8, pool_size=2, attempts=3, enough=meets_the_bar
    )
    for figures in rounds:
        assert structural_failures(figures) == []
    summaries = [figures.summary() for figures in rounds]
    assert meets_the_bar(rounds[-1]), summaries
    if len(rounds) > 1 or rounds[-1].baseline_own.quantile(0.99) >= 0.100:
        warnings.warn(f"slow-issuer drill on a loaded machine: {summaries}", stacklevel=1)
    assert leaks(rounds[-1].log) == [], "the server logged a secret"
