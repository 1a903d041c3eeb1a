"""/healthz and /readyz, including a database that goes away and comes back."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from app.dbops import migrations
from tests.conftest import app_client, make_settings
from tests.tcp_proxy import TcpProxy


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_reports_each_check(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["write_db"]["ok"] is True
    assert body["checks"]["schema"] == {
        "ok": True,
        "current": list(migrations.head_revisions()),
        "head": list(migrations.head_revisions()),
    }


async def test_readyz_names_a_schema_behind_head(empty_database_url):
    async for client in app_client(make_settings(empty_database_url)):
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready"
    assert body["failing"] == ["schema"]
    assert body["checks"]["write_db"]["ok"] is True


async def test_readyz_when_sqlite_file_cannot_be_opened(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'vault.db'}"
    async for client in app_client(make_settings(url)):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert set(response.json()["failing"]) >= {"write_db"}
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_readyz_survives_an_outage_and_recovers(database_url):
    target = make_url(database_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    via_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = make_settings(via_proxy, db_connect_timeout=1)
    try:
        async for client in app_client(settings, probe=True):
            assert (await client.get("/readyz")).status_code == 200

            await proxy.stop()
            started = time.perf_counter()
            down = await client.get("/readyz")
            assert time.perf_counter() - started < 2
            assert down.status_code == 503
            assert "write_db" in down.json()["failing"]
            # A data route answers 503 too, never a 500.
            page = await client.get("/probe/db")
            assert page.status_code == 503
            assert page.json()["code"] == "database_unavailable"

            await proxy.start()
            deadline = time.perf_counter() + 10
            status = None
            while time.perf_counter() < deadline:
                status = (await client.get("/readyz")).status_code
                if status == 200:
                    break
            assert status == 200
            assert (await client.get("/probe/db")).status_code == 200
    finally:
        await proxy.stop()


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_readyz_answers_in_time_when_the_server_never_answers(database_url):
    """A host that accepts TCP but never speaks: the check gives up within its bound."""
    import asyncio

    async def silent(reader, writer):
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = (
        make_url(database_url)
        .set(host="127.0.0.1", port=port)
        .render_as_string(hide_password=False)
    )
    try:
        async for client in app_client(make_settings(url, readiness_timeout=1.0)):
            started = time.perf_counter()
            response = await client.get("/readyz")
            assert time.perf_counter() - started < 2
            assert response.status_code == 503
            assert response.json()["checks"]["write_db"]["error"].startswith("no answer within")
    finally:
        server.close()


async def test_home_page_shows_health_and_no_tenant_data(client, database):
    from sqlalchemy import text

    async with database.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO customers (id, name, slug, is_active, settings, created_at, updated_at) "
                "VALUES ('0123456789abcdef0123456789abcdef', 'Secret Tenant Ltd', 'secret', "
                "true, '{}', '2030-01-01 00:00:00', '2030-01-01 00:00:00')"
            )
        )
    page = await client.get("/")
    assert page.status_code == 200
    assert "Service health" in page.text
    assert 'data-check="write_db"' in page.text
    assert "Secret Tenant" not in page.text
