"""The throwaway PostgreSQL cluster the outage tests stop, start and starve.

One per test process, started on first use; every test that uses it runs in
the `pg_throwaway` xdist group (one worker), so no two tests stop it at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from app.dbops import migrations
from tests.conftest import REQUIRE_POSTGRES
from tests.drills.cluster import Cluster, start_cluster


@pytest.fixture(scope="session")
def throwaway_cluster() -> Iterator[Cluster]:
    try:
        cluster = start_cluster()
    except Exception as error:
        message = f"cannot create a throwaway PostgreSQL cluster: {error}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{message} (REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(f"CLUSTER TESTS SKIPPED: {message}")
    yield cluster
    cluster.remove()


@pytest.fixture
def cluster(throwaway_cluster: Cluster) -> Iterator[Cluster]:
    """The cluster, running; started again afterwards if a test left it down."""
    if not throwaway_cluster.running():
        throwaway_cluster.start()
    yield throwaway_cluster
    if not throwaway_cluster.running():
        throwaway_cluster.start()


@pytest.fixture
def cluster_url(cluster: Cluster) -> str:
    """A migrated database of this test's own on the throwaway cluster."""
    url = cluster.create_database(f"mvd_{uuid.uuid4().hex[:12]}")
    migrations.upgrade(url)
    return url
