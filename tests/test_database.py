"""The database layer on real engines: pragmas, pools, exact money, aware timestamps."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.core.database import Database, pool_figures
from app.core.db_failures import DbFailure, classify
from app.core.driver import select_rows, write_rows
from app.main import create_app
from app.models import Mandate, Tenant
from app.web.sessions import SessionDep
from tests.conftest import add_database_probe, make_settings, terminate_backend
from tests.factories import new_customer, new_mandate
from tests.tcp_proxy import TcpProxy


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_sqlite_pragmas_on_every_connection(database):
    for engine in database.engines().values():
        async with engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            busy = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        assert (mode, fks, busy) == ("wal", 1, 30000)


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_sqlite_enforces_foreign_keys(database):
    async with database.sessions() as session:
        session.add(new_mandate(uuid.uuid4()))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_pool_status_reports_every_engine(database, settings):
    status = database.pool_status()
    assert "write" in status
    assert status["write"] == {
        "size": settings.pool_size,
        "checked_out": 0,
        "overflow": 0,  # never negative (SQLAlchemy counts from -pool_size)
        "checked_in": 0,
    }
    async with database.write_engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        assert pool_figures(database.write_engine)["checked_out"] == 1
        assert pool_figures(database.write_engine)["overflow"] == 0
    assert pool_figures(database.write_engine)["checked_in"] == 1


async def test_pool_overflow_counts_connections_beyond_the_pool(database_url):
    small = Database(make_settings(database_url, db_pool_size=1, db_max_overflow=2))
    try:
        # Checked out, not begun: SQLite's writers would queue on the write lock.
        async with small.write_engine.connect(), small.write_engine.connect():
            figures = pool_figures(small.write_engine)
            assert (figures["checked_out"], figures["overflow"]) == (2, 1)
    finally:
        await small.dispose()


def test_guide_pool_snippet_works(cli_env, tmp_path):
    snippet = (
        "from app.core.database import engine\n"
        "pool = engine.pool\n"
        "print(f'Pool size: {pool.size()}')\n"
        "print(f'Checked out: {pool.checkedout()}')\n"
        "print(f'Overflow: {pool.overflow()}')\n"
        "print(f'Checked in: {pool.checkedin()}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=tmp_path,
        env={**cli_env, "DB_POOL_SIZE": "7"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.splitlines() == [
        "Pool size: 7",
        "Checked out: 0",
        "Overflow: -7",
        "Checked in: 0",
    ]


async def test_money_is_exact_and_comparable(database):
    amounts = [Decimal("0.01"), Decimal("19.99"), Decimal("500.00"), Decimal("1234567890123.4567")]
    async with database.sessions() as session, session.begin():
        tenant = new_customer()
        session.add(tenant)
        await session.flush()
        for amount in amounts:
            session.add(new_mandate(tenant.id, amount_limit=amount, currency="USD"))
    async with database.sessions() as session:
        stored = sorted(await session.scalars(select(Mandate.amount_limit)))
        assert stored == amounts
        assert all(isinstance(a, Decimal) for a in stored)
        between = await session.scalars(
            select(Mandate.amount_limit).where(
                Mandate.amount_limit > Decimal("19.98"), Mandate.amount_limit <= Decimal("500")
            )
        )
        assert sorted(between) == [Decimal("19.99"), Decimal("500.00")]


async def test_timestamps_come_back_timezone_aware(database):
    when = datetime(2031, 5, 4, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    async with database.sessions() as session, session.begin():
        tenant = new_customer()
        session.add(tenant)
        await session.flush()
        session.add(new_mandate(tenant.id, expires_at=when))
    async with database.sessions() as session:
        stored = await session.scalar(select(Mandate.expires_at))
        created = await session.scalar(select(Tenant.created_at))
    assert stored == when
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert created.tzinfo is not None
    async with database.sessions() as session:
        later = await session.scalar(
            select(Mandate.id).where(Mandate.expires_at > datetime(2031, 5, 4, 10, 29, tzinfo=UTC))
        )
        assert later is not None


async def test_naive_datetimes_are_refused(database):
    async with database.sessions() as session:
        tenant = new_customer()
        session.add(tenant)
        await session.flush()
        session.add(new_mandate(tenant.id, expires_at=datetime(2031, 1, 1)))
        with pytest.raises(Exception, match="naive datetime"):
            await session.flush()


async def test_concurrent_writers_do_not_fail(database):
    """Fifty transactions that read then write, all at once."""
    async with database.sessions() as session, session.begin():
        tenant = new_customer()
        session.add(tenant)
    tenant_id = tenant.id

    async def write(i: int) -> None:
        async with database.sessions() as session, session.begin():
            await session.scalar(select(Tenant).where(Tenant.id == tenant_id))
            session.add(new_mandate(tenant_id, scope=f"s{i}"))

    await asyncio.gather(*(write(i) for i in range(50)))
    async with database.sessions() as session:
        count = len((await session.scalars(select(Mandate.id))).all())
    assert count == 50


async def test_pool_exhaustion_answers_503_with_retry_after(database_url):
    settings = make_settings(database_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.5)
    database = Database(settings)
    app = create_app(settings, database=database)
    add_database_probe(app)
    holders = [await engine.connect() for engine in database.engines().values()]
    try:
        for connection in holders:
            await connection.execute(text("SELECT 1"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            started = time.perf_counter()
            response = await client.get("/probe/db")
            elapsed = time.perf_counter() - started
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "db_pool_exhausted"
        assert int(response.headers["retry-after"]) >= 1
        assert 0.4 < elapsed < 3
    finally:
        for connection in holders:
            await connection.close()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.get("/probe/db")).status_code == 200
    await database.dispose()


async def test_a_failed_commit_is_never_reported_as_success(settings):
    app = create_app(settings)

    @app.post("/probe/duplicate")
    async def duplicate(session: SessionDep) -> dict[str, str]:
        # Two tenants with one slug: the unique constraint fails at commit time.
        session.add(new_customer(slug="same"))
        session.add(new_customer(slug="same"))
        return {"status": "created"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        response = await client.post("/probe/duplicate")
        assert (response.status_code, response.json()["code"]) == (500, "internal_error")
        assert response.headers["content-type"] == "application/problem+json"
    database = Database(settings)
    async with database.sessions() as session:
        assert (await session.scalars(select(Tenant.id))).all() == []
    await database.dispose()


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_unix_socket_url_form_connects(database_url):
    """The `?host=/path` form (Cloud SQL's socket style) reaches the server over a socket."""
    import glob

    sockets = glob.glob("/var/run/postgresql/.s.PGSQL.*")
    if not sockets:
        pytest.skip("no local PostgreSQL unix socket on this machine")
    name = make_url(database_url).database
    url = f"postgresql+asyncpg://postgres@/{name}?host=/var/run/postgresql"
    database = Database(make_settings(url))
    try:
        async with database.write_engine.connect() as connection:
            over_socket = (
                await connection.execute(text("SELECT inet_server_addr() IS NULL"))
            ).scalar()
        assert over_socket is True
    finally:
        await database.dispose()


async def _backend_pid(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")))


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_an_idle_pooled_connection_is_tested_and_replaced(database_url):
    """A connection idle past DB_POOL_PRE_PING_IDLE_SECONDS is pinged on checkout;
    the server closed it, so the pool opens another and the query succeeds."""
    database = Database(make_settings(database_url, db_pool_pre_ping_idle_seconds=0.2))
    try:
        first = await _backend_pid(database)
        await terminate_backend(database_url, first)
        await asyncio.sleep(0.3)
        assert await _backend_pid(database) != first
    finally:
        await database.dispose()


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_a_connection_in_steady_use_skips_the_ping(database_url):
    """Within the idle bound no ping is spent: a connection the server closed a
    moment ago fails its query (the request would answer 503) and is dropped."""
    database = Database(make_settings(database_url, db_pool_pre_ping_idle_seconds=60))
    try:
        first = await _backend_pid(database)
        await terminate_backend(database_url, first)
        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(database)
        _assert_lost(failed.value)
        assert await _backend_pid(database) != first
    finally:
        await database.dispose()


def _assert_lost(error: DBAPIError) -> None:
    """What makes the request answer 503 and the pool drop the connection. Its
    wording depends on how far the server's goodbye had come in (closed, or the
    protocol out of step), so only its class is asserted."""
    assert classify(error) is DbFailure.UNAVAILABLE
    assert error.connection_invalidated


async def _driver_pid(database: Database) -> int:
    async with database.primary_reads() as session:
        rows = await select_rows(session, select(func.pg_backend_pid().label("pid")))
    return int(rows[0].pid)


async def _sole_write(database: Database) -> list[object]:
    async with database.unit_of_work_session() as session:
        statement = update(Tenant).where(Tenant.id == uuid.uuid4()).values(name="x")
        return await write_rows(session, statement.returning(Tenant.id), {}, sole=True)


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_a_goodbye_that_comes_before_the_close_is_a_lost_connection(database_url):
    """The server's FATAL message reaches the client while the close is still on
    its way (a busy client, or a slow network): asyncpg, idle, takes the message
    for a protocol error, and the next statement fails as "another operation is
    in progress" rather than "connection is closed". Each way a statement goes
    out treats it as a lost connection, and the one after it runs on a new one."""
    target = make_url(database_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432, close_delay=5)
    await proxy.start()
    via_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    database = Database(make_settings(via_proxy, db_pool_pre_ping_idle_seconds=60))

    async def goodbye(pid: int) -> None:
        await terminate_backend(database_url, pid)
        await asyncio.sleep(0.2)  # the message is in, the close held back

    try:
        # Through a session: the statement fails as lost, the next one succeeds.
        first = await _backend_pid(database)
        await goodbye(first)
        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(database)
        _assert_lost(failed.value)
        second = await _backend_pid(database)
        assert second != first

        # A sole write sent alone on the driver: the same.
        await goodbye(second)
        with pytest.raises(DBAPIError) as failed:
            await _sole_write(database)
        _assert_lost(failed.value)
        assert await _sole_write(database) == []

        # A read on the driver drops the connection and is answered on a new one.
        third = await _driver_pid(database)
        await goodbye(third)
        assert await _driver_pid(database) != third
    finally:
        await database.dispose()
        await proxy.stop()
