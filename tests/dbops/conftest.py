"""The session's throwaway PostgreSQL cluster pair (TLS primary + streaming replica)."""

from __future__ import annotations

import pytest

from tests.conftest import REQUIRE_POSTGRES


@pytest.fixture(scope="session")
def pg_pair():
    from tests.dbops.pg_cluster import start_pair

    try:
        pair = start_pair()
    except Exception as error:
        message = f"cannot create a throwaway PostgreSQL cluster pair: {error}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{message} (REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(f"CLUSTER TESTS SKIPPED: {message}")
    yield pair
    pair.stop()
