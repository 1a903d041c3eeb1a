"""Key fetching isolates tenants: single flight per URL, a negative cache with
exponential backoff and jitter, a per-tenant cap, and no database connection (nor
SQLite's write lock) held while a key host is slow."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from app.core.database import pool_figures
from app.issuers.jwks import JwksClient, JwksFetchError
from app.issuers.schemas import IssuerCreate
from app.issuers.service import IssuerService
from app.issuers.trust import TrustLoader
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService
from app.models import Tenant
from tests.clock import ManualClock
from tests.conftest import make_settings
from tests.drills.slow_issuer import HangingJwksHost
from tests.mandates.conftest import ACTOR
from tests.mandates.minting import MintingIssuer
from tests.mandates.test_jwks_url import JwksServer


@pytest.fixture
async def host():
    hanging = HangingJwksHost()
    await hanging.start()
    yield hanging
    await hanging.stop()


def _client(http, clock, **overrides) -> JwksClient:
    settings = make_settings(
        "sqlite+aiosqlite:///unused.db", jwks_allow_http=True, jwks_fetch_timeout=5, **overrides
    )
    return JwksClient(http, settings, clock)


async def test_one_fetch_per_url_in_flight(host):
    issuer = MintingIssuer()
    host.document = json.dumps(issuer.jwks()).encode()
    host.hanging = True
    async with httpx.AsyncClient() as http:
        client = _client(http, ManualClock())
        waiting = [asyncio.create_task(client.fetch(host.url)) for _ in range(10)]
        await asyncio.sleep(0.3)
        assert len(host.held) == 1  # ten callers, one request
        # A caller that gives up does not cancel the fetch the others wait for.
        waiting[0].cancel()
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in waiting[1:])
        host.hanging = False
        for writer in host.held:
            writer.close()
        results = await asyncio.gather(*waiting[1:], return_exceptions=True)
        assert all(isinstance(r, JwksFetchError) and r.attempted for r in results)
        assert len(host.held) == 1


async def test_a_failing_source_backs_off_exponentially_with_jitter():
    server = JwksServer()
    server.status = 500
    clock = ManualClock()
    try:
        async with httpx.AsyncClient() as http:
            client = _client(
                http,
                clock,
                jwks_backoff_seconds=10,
                jwks_backoff_max_seconds=25,
                jwks_backoff_jitter=0.5,
            )
            waits = []
            for _ in range(4):
                hits = server.hits
                with pytest.raises(JwksFetchError) as failed:
                    await client.fetch(server.url)
                assert failed.value.attempted
                assert server.hits == hits + 1
                waits.append(client.backoff(server.url))
                # Within the wait: refused at once, nothing sent.
                with pytest.raises(JwksFetchError, match="not asked again") as skipped:
                    await client.fetch(server.url)
                assert not skipped.value.attempted
                assert server.hits == hits + 1
                clock.advance(waits[-1] + 0.01)
            # 10, 20, 25 (the cap), 25; each shortened by up to half.
            for wait, full in zip(waits, (10, 20, 25, 25), strict=True):
                assert full * 0.5 <= wait <= full
            # An operator registering the issuer is not made to wait; a success clears it.
            issuer = MintingIssuer()
            server.serve(issuer)
            assert await client.fetch(server.url, explicit=True)
            assert client.backoff(server.url) == 0
    finally:
        server.httpd.shutdown()


async def test_a_tenant_has_a_cap_on_fetches_in_flight(host):
    host.hanging = True
    a, b = uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient() as http:
        client = _client(http, ManualClock(), jwks_max_fetches_per_tenant=2)
        held = [asyncio.create_task(client.fetch(f"{host.url}?n={n}", tenant=a)) for n in range(2)]
        await asyncio.sleep(0.2)
        with pytest.raises(JwksFetchError, match="already in flight") as capped:
            await client.fetch(f"{host.url}?n=3", tenant=a)
        assert not capped.value.attempted
        other = asyncio.create_task(client.fetch(f"{host.url}?n=4", tenant=b))
        await asyncio.sleep(0.2)
        assert len(host.held) == 3  # tenant B's fetch went out
        await client.aclose()
        for task in [*held, other]:
            with pytest.raises((asyncio.CancelledError, JwksFetchError)):
                await task


async def test_a_hung_key_host_holds_no_connection_nor_the_write_lock(database_url, host):
    settings = make_settings(
        database_url,
        jwks_allow_http=True,
        jwks_fetch_timeout=10,
        jwks_refresh_seconds=1,
        db_pool_size=1,
        db_max_overflow=0,
    )
    from app.core.database import Database

    database = Database(settings)
    clock = ManualClock()
    slow = MintingIssuer()
    host.document = json.dumps(slow.jwks()).encode()
    try:
        async with httpx.AsyncClient() as http:
            jwks = JwksClient(http, settings, clock)
            trust = TrustLoader(jwks, database)
            async with database.sessions.begin() as session:
                tenant = Tenant(name="T", slug=f"t-{uuid.uuid4().hex[:8]}")
                session.add(tenant)
                await session.flush()
                await IssuerService(session, tenant.id, ACTOR, jwks).create(
                    IssuerCreate(did=slow.did, jwks_url=host.url)
                )
            host.hanging = True
            clock.advance(2)  # the keys are stale: the next ingest must fetch

            async def ingest() -> None:
                async with database.sessions() as session:
                    service = MandateService(session, tenant.id, ACTOR, trust, settings, clock)
                    await service.ingest(MandateCreate(vc_jwt=slow.token()))
                    await session.commit()

            pending = asyncio.create_task(ingest())
            await asyncio.sleep(0.5)
            assert not pending.done()
            assert len(host.held) == 1
            # The only pooled connection is free, and another writer commits at once.
            assert pool_figures(database.write_engine)["checked_out"] == 0
            async with asyncio.timeout(2), database.sessions.begin() as session:
                session.add(Tenant(name="U", slug=f"u-{uuid.uuid4().hex[:8]}"))
            host.hanging = False
            for writer in host.held:
                writer.close()
            await asyncio.wait_for(pending, 10)  # the last good keys verify it
    finally:
        await database.dispose()


async def test_resolving_keys_costs_no_query_once_issuers_are_known(database_url):
    """Inline-key issuers (the common case) need one issuer query per ingest, as before."""
    from sqlalchemy import event

    from app.core import driver
    from app.core.database import Database

    settings = make_settings(database_url)
    database = Database(settings)
    issuer = MintingIssuer()
    statements: list[str] = []
    try:
        async with httpx.AsyncClient() as http:
            trust = TrustLoader(JwksClient(http, settings, ManualClock()), database)
            async with database.sessions.begin() as session:
                tenant = Tenant(name="T", slug=f"t-{uuid.uuid4().hex[:8]}")
                session.add(tenant)
                await session.flush()
                await issuer.register(session, tenant.id)

            async def ingest() -> None:
                async with database.sessions() as session:
                    service = MandateService(session, tenant.id, ACTOR, trust, settings)
                    outcome = await service.ingest(MandateCreate(vc_jwt=issuer.token()))
                    await session.commit()
                assert outcome.created

            await ingest()
            for engine in database.engines().values():
                event.listen(
                    engine.sync_engine,
                    "before_cursor_execute",
                    lambda _c, _cur, statement, *_: statements.append(statement),
                )
                # and the statements the driver sends itself (the ingest's inserts on PostgreSQL)
                driver.timers[engine.sync_engine.pool] = lambda _s, statement, _m: (
                    statements.append(statement)
                )
            await ingest()
    finally:
        await database.dispose()
    # The snapshot's rows are reused within TRUST_CACHE_SECONDS: no issuer query at all.
    assert sum("FROM issuers" in s for s in statements) == 0, statements
    assert any("INSERT INTO mandates" in s for s in statements)
