"""PostgreSQL stopped and started under steady ingest, against a real server
process and a throwaway cluster: no 500, /readyz honest within its bounds,
every acknowledged mandate readable afterwards."""

from __future__ import annotations

import pytest

from tests.drills.cluster import Cluster
from tests.drills.restart import run_restart_drill
from tests.log_scan import leaks

pytestmark = [pytest.mark.drill, pytest.mark.slow, pytest.mark.xdist_group("pg_throwaway")]


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_a_database_restart_under_load(cluster: Cluster, cluster_url, environment):
    figures = await run_restart_drill(cluster, cluster_url, environment)
    summary = figures.summary()
    assert summary["5xx_other_than_503"] == 0, (summary, figures.log[-4000:])
    assert figures.statuses[0] == 0, summary  # the server never dropped a connection
    assert figures.statuses[503] > 0, summary  # the outage was seen, and answered 503
    assert figures.statuses[201] > 0, summary
    # While down, /readyz answers 503 within 2 s, every time.
    assert figures.readyz_down, summary
    assert all(status == 503 for status, _ in figures.readyz_down), figures.readyz_down
    assert figures.worst_readyz_down < 2.0, summary
    # Back within 5 s of the database's return; nothing acknowledged was lost.
    assert figures.recovery_seconds is not None, summary
    assert figures.recovery_seconds < 5.0, summary
    assert figures.lost == [], summary
    assert leaks(figures.log) == [], "the server logged a secret"
