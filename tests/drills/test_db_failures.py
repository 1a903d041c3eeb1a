"""Every connection-class failure, produced for real on a throwaway cluster, is
classified by its driver exception and answers 503 from every route, the auth
dependency included, without counting against the client."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.database import Database
from app.core.db_failures import DbFailure, classify, driver_error
from app.main import create_app
from app.web.sessions import SessionDep
from tests.conftest import add_database_probe, make_settings
from tests.drills.cluster import Cluster
from tests.world import World, build_world

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("pg_throwaway")]
PROBLEM = "application/problem+json"


async def _failure_of(url: str, **overrides) -> BaseException:
    """The exception a fresh engine raises for one query against `url`."""
    database = Database(make_settings(url, **overrides))
    try:
        async with database.write_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        return error
    finally:
        await database.dispose()
    raise AssertionError(f"{url} answered")


@contextlib.asynccontextmanager
async def serving(url: str, **overrides):
    """The app on `url` with the probe routes, and an HTTP client on it."""
    settings = make_settings(url, db_connect_timeout=2, db_pool_timeout=1, **overrides)
    app = create_app(settings)
    add_database_probe(app)

    @app.get("/probe/sleep")
    async def sleep(session: SessionDep) -> dict[str, int]:
        await session.execute(text("SELECT pg_sleep(20)"))
        return {"slept": 1}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def assert_outage(response: httpx.Response, code: str = "database_unavailable") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code
    assert int(response.headers["retry-after"]) >= 1


async def _world(url: str) -> World:
    settings = make_settings(url)
    database = Database(settings)
    try:
        return await build_world(database, settings)
    finally:
        await database.dispose()


async def test_a_stopped_server_is_503_everywhere_and_never_429(cluster: Cluster, cluster_url):
    world = await _world(cluster_url)
    key = world.a["customer_admin"].key()
    bearer = world.a["customer_admin"].bearer()
    async with serving(cluster_url, auth_cache_ttl_seconds=0) as client:
        assert (await client.get("/api/v1/mandates", headers=key)).status_code == 200
        cluster.stop("fast")

        error = await _failure_of(cluster_url)
        assert classify(error) is DbFailure.UNAVAILABLE
        assert isinstance(driver_error(error), OSError)  # connection refused

        assert_outage(await client.get("/probe/db"))
        # The API-key and the access-token lookups answer the outage, not 401,
        # and more attempts than the per-IP limit (120 a minute) are not throttled.
        for _ in range(65):
            assert_outage(await client.get("/api/v1/mandates", headers=key))
            assert_outage(await client.get("/api/v1/auth/me", headers=bearer))
        assert_outage(
            await client.post(
                "/api/v1/auth/login",
                json={"email": "customer_admin@a.example", "password": "x" * 12},
            )
        )
        cluster.start()
        assert (await client.get("/api/v1/mandates", headers=key)).status_code == 200


async def test_a_server_shutting_down_is_cannot_connect_now(cluster: Cluster, cluster_url):
    holder = await asyncpg.connect(cluster.dsn(make_url(cluster_url).database), timeout=5)
    try:
        # A smart shutdown waits for the open session; new connections are refused
        # with 57P03 "the database system is shutting down" meanwhile.
        cluster.stop("smart", wait=False)
        error: BaseException | None = None
        for _ in range(100):
            error = await _failure_of(cluster_url)
            if getattr(driver_error(error), "sqlstate", None) == "57P03":
                break
            await asyncio.sleep(0.05)
        assert error is not None
        assert type(driver_error(error)).__name__ == "CannotConnectNowError"
        assert classify(error) is DbFailure.UNAVAILABLE
        async with serving(cluster_url) as client:
            assert_outage(await client.get("/probe/db"))
    finally:
        await holder.close()
        cluster.wait_stopped()


async def test_a_backend_killed_mid_query_is_503(cluster: Cluster, cluster_url):
    name = make_url(cluster_url).database
    async with serving(cluster_url) as client:
        pending = asyncio.ensure_future(client.get("/probe/sleep"))
        for _ in range(200):
            await asyncio.sleep(0.05)
            found = await _sleeping_backends(cluster, name)
            if found:
                break
        assert found, "the probe's query never started"
        await cluster.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND query LIKE 'SELECT pg_sleep%'"
        )
        assert_outage(await asyncio.wait_for(pending, 10))
        # The pool drops the dead connection; the next request is served.
        assert (await client.get("/probe/db")).status_code == 200


async def _sleeping_backends(cluster: Cluster, name: str) -> int:
    connection = await asyncpg.connect(cluster.dsn(), timeout=5)
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
            "AND query LIKE 'SELECT pg_sleep%' AND state = 'active'",
            name,
        )
    finally:
        await connection.close()


async def test_connection_limits_are_busy(cluster: Cluster, cluster_url):
    # Superusers ignore connection limits: a role of one connection stands in
    # for a server whose slots are all taken.
    role = f"limited_{uuid.uuid4().hex[:8]}"
    await cluster.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
    limited = make_url(cluster_url).set(username=role).render_as_string(hide_password=False)
    holder = await asyncpg.connect(
        make_url(limited).set(drivername="postgresql").render_as_string(hide_password=False),
        timeout=5,
    )
    try:
        error = await _failure_of(limited)
        assert getattr(driver_error(error), "sqlstate", None) == "53300"  # too many connections
        assert classify(error) is DbFailure.BUSY
        async with serving(limited) as client:
            assert_outage(await client.get("/probe/db"), "db_pool_exhausted")
    finally:
        await holder.close()
    # Our own pool running dry is the same answer, after DB_POOL_TIMEOUT.
    settings = make_settings(cluster_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.3)
    database = Database(settings)
    app = create_app(settings, database=database)
    add_database_probe(app)
    held = await database.write_engine.connect()
    try:
        await held.execute(text("SELECT 1"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert_outage(await client.get("/probe/db"), "db_pool_exhausted")
    finally:
        await held.close()
        await database.dispose()


async def test_a_refused_tls_upgrade_is_503(cluster: Cluster, cluster_url):
    """The throwaway cluster runs without TLS; a client that requires it is refused."""
    url = f"{cluster_url}?ssl=require"
    error = await _failure_of(url)
    assert isinstance(driver_error(error), ConnectionError)
    assert classify(error) is DbFailure.UNAVAILABLE
    async with serving(url) as client:
        assert_outage(await client.get("/probe/db"))


async def test_a_bad_query_stays_a_500_and_logs_no_parameters(cluster_url, capsys):
    """Not an outage: a constraint failing at commit is the 500 it is, and the log
    names the error class and SQLSTATE, never the values."""
    settings = make_settings(cluster_url, log_level="INFO")
    app = create_app(settings)
    marker = f"secret-slug-{uuid.uuid4().hex[:8]}"

    @app.post("/probe/duplicate")
    async def duplicate(session: SessionDep) -> dict[str, str]:
        from tests.factories import new_customer

        session.add(new_customer(slug=marker))
        session.add(new_customer(slug=marker))
        return {"status": "created"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        response = await client.post("/probe/duplicate")
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")
    err = capsys.readouterr().err
    assert "database_error" in err
    assert "23505" in err
    assert marker not in err
