"""A JWKS host that accepts and never answers, for one tenant, with more hung
submissions than the pool has connections: that tenant's other issuers and every
other tenant keep ingesting at full speed, on both databases."""

from __future__ import annotations

import pytest

from tests.drills.slow_issuer import run_slow_issuer_drill
from tests.log_scan import leaks

pytestmark = [pytest.mark.drill, pytest.mark.slow]


async def test_a_hung_key_host_stalls_nobody_else(database_url, engine_name):
    figures = await run_slow_issuer_drill(database_url, engine_name, hung=8, pool_size=2)
    summary = figures.summary()
    # The hung submissions really were hung while the others were measured...
    assert figures.still_hung_at_end == figures.hung_submissions, summary
    assert figures.hung_submissions > figures.pool_connections, summary
    # ...and the others were served as if nothing happened.
    for measured in (figures.slow_own, figures.slow_other):
        assert measured.statuses == {201: len(measured.samples)}, summary
        assert len(measured.samples) >= 20, summary
        assert measured.quantile(0.99) < 0.100, summary
    assert leaks(figures.log) == [], "the server logged a secret"
