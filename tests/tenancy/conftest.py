"""Identity tests sign in often: their login rate limits are lifted."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings


@pytest.fixture
def settings(database_url):
    return make_settings(
        database_url,
        rate_limit_login_per_minute=10_000,
        rate_limit_ip_per_minute=10_000,
        # No background sealer: these tests run CLI processes from the app's own event
        # loop, which a sealing pass holding SQLite's write lock would then block.
        audit_seal_interval=0,
    )


@pytest.fixture
def make_client(database_url):
    """An app client with settings overrides: `async with make_client(x=1) as c:`."""
    from contextlib import asynccontextmanager

    from tests.conftest import app_client

    @asynccontextmanager
    async def factory(**overrides):
        values = {
            "rate_limit_login_per_minute": 10_000,
            "rate_limit_ip_per_minute": 10_000,
            "audit_seal_interval": 0,
        }
        values.update(overrides)
        async for client in app_client(make_settings(database_url, **values)):
            yield client

    return factory
