"""A JWKS host that accepts and never answers, for one tenant, with more hung
submissions than the pool has connections: that tenant's other issuers and every
other tenant keep ingesting at full speed, on both databases."""

from __future__ import annotations

import warnings

import pytest

from tests.drills.slow_issuer import run_slow_issuer_drill
from tests.log_scan import leaks

# One engine after the other: two servers at once would measure each other.
pytestmark = [pytest.mark.drill, pytest.mark.slow, pytest.mark.xdist_group("slow_issuer")]


async def test_a_hung_key_host_stalls_nobody_else(database_url, engine_name):
    figures = await run_slow_issuer_drill(database_url, engine_name, hung=8, pool_size=2)
    summary = figures.summary()
    # The hung submissions really were hung while the others were measured...
    assert figures.still_hung_at_end == figures.hung_submissions, summary
    assert figures.hung_submissions > figures.pool_connections, summary
    # ...and the others were served as if nothing happened: every request of every
    # window a 201 at a normal median, and p99 under 100 ms in the quietest window
    # (a stall caused by the slow issuer would be in all of them; the machine's
    # other load is not the service's doing).
    for own, other in figures.windows:
        for measured in (own, other):
            assert measured.statuses == {201: len(measured.samples)}, summary
            assert len(measured.samples) >= 10, summary
            assert measured.quantile(0.5) < 0.100, summary
    for who, baseline in ((0, figures.baseline_own), (1, figures.baseline_other)):
        p99 = figures.best(who).quantile(0.99)
        if baseline.quantile(0.99) < 0.100:
            assert p99 < 0.100, summary
        else:
            # The machine itself missed the bar before the slow issuer came into play
            # (other work on its cores): hold the drill to the baseline measured in the
            # same run instead, and say so.
            warnings.warn(f"slow-issuer drill on a loaded machine: {summary}", stacklevel=1)
            assert p99 < 1.5 * baseline.quantile(0.99), summary
    assert leaks(figures.log) == [], "the server logged a secret"
