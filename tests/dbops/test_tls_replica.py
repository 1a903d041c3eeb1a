"""TLS to PostgreSQL and read-replica routing, on a real TLS primary and a real
streaming replica (`pg_basebackup -R`) that this session creates."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import asyncpg
import pytest
from sqlalchemy import func, insert, select, text

from app.core.database import Database
from app.dbops import migrations
from app.dbops.metrics import READ_FALLBACKS, instrument
from app.models import Tenant
from tests.conftest import app_client, make_settings
from tests.dbops.dbops_data import bulk_audit_rows, counts, run_cli, seed
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.pg_cluster, pytest.mark.xdist_group("pg_cluster")]


@pytest.fixture
def pair_database(pg_pair):
    """A migrated database of this test's own on the throwaway primary."""
    name = f"mvt_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:{pg_pair.primary_port}/postgres"
        )
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    migrations.upgrade(pg_pair.url(name))
    yield name
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def ssl_in_use(database: Database) -> bool:
    async with database.write_engine.connect() as connection:
        return (
            await connection.execute(
                text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            )
        ).scalar_one()


async def test_ssl_require(pg_pair, pair_database):
    database = Database(make_settings(pg_pair.url(pair_database, query="?ssl=require")))
    try:
        assert await ssl_in_use(database) is True
    finally:
        await database.dispose()
    plain = Database(make_settings(pg_pair.url(pair_database, query="?ssl=disable")))
    try:
        assert await ssl_in_use(plain) is False
    finally:
        await plain.dispose()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_ssl_verify_full_with_the_ca_file(pg_pair, pair_database, host):
    url = pg_pair.url(pair_database, query="?ssl=verify-full").replace("127.0.0.1", host)
    database = Database(make_settings(url, db_ssl_ca_file=str(pg_pair.ca_file)))
    try:
        assert await ssl_in_use(database) is True
    finally:
        await database.dispose()


async def test_ssl_verify_full_refuses_an_unknown_ca(pg_pair, pair_database, tmp_path):
    from tests.dbops.pg_cluster import make_certificates

    other_ca, _, _ = make_certificates(tmp_path)  # a CA that did not sign the server
    url = pg_pair.url(pair_database, query="?ssl=verify-full")
    database = Database(make_settings(url, db_ssl_ca_file=str(other_ca)))
    try:
        with pytest.raises(Exception, match="(?i)certificate verify failed"):
            await ssl_in_use(database)
    finally:
        await database.dispose()


def test_backup_restore_and_status_over_verified_tls(pg_pair, pair_database, tmp_path):
    from tests.conftest import TEST_SECRET
    from tests.dbops.pg_cluster import make_certificates

    url = pg_pair.url(pair_database, query="?ssl=verify-full").replace("127.0.0.1", "localhost")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "READ_DB", "PG"))},
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": url,
        "DB_SSL_CA_FILE": str(pg_pair.ca_file),
        "BACKUP_DIR": str(tmp_path / "b"),
    }
    seed(pg_pair.url(pair_database), mandates=4)
    status = json.loads(run_cli(env, "db", "status", "--json").output)
    assert status["reachable"] is True
    assert run_cli(env, "db", "backup").exit_code == 0
    backup = next((tmp_path / "b").glob("mandate_vault_backup_*.sql.gz"))
    seed(pg_pair.url(pair_database), mandates=2)
    result = run_cli(env, "db", "restore", str(backup), "--yes")
    assert result.exit_code == 0, result.output
    assert counts(pg_pair.url(pair_database))["mandates"] == 4
    # pg_dump / psql really were asked for verified TLS: a wrong CA stops them.
    (tmp_path / "other").mkdir()
    other_ca, _, _ = make_certificates(tmp_path / "other")
    wrong = run_cli({**env, "DB_SSL_CA_FILE": str(other_ca)}, "db", "backup")
    assert wrong.exit_code == 4
    assert "certificate verify failed" in wrong.output
    missing = run_cli({**env, "DB_SSL_CA_FILE": str(tmp_path / "missing.crt")}, "db", "backup")
    assert missing.exit_code == 2
    assert "DB_SSL_CA_FILE: no such file" in missing.output


async def wait_replicated(url: str, database_name: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            connection = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                if await connection.fetchval("SELECT to_regclass('public.alembic_version')"):
                    return
            finally:
                await connection.close()
        except (asyncpg.InvalidCatalogNameError, OSError):
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{database_name} never reached the replica")


async def test_reads_use_the_replica_and_fall_back_to_the_primary(pg_pair, pair_database):
    await wait_replicated(pg_pair.url(pair_database, port=pg_pair.replica_port), pair_database)
    proxy = TcpProxy("127.0.0.1", pg_pair.replica_port)
    await proxy.start()
    settings = make_settings(
        pg_pair.url(pair_database),
        read_db_url=pg_pair.url(pair_database, port=proxy.port),
        read_db_retry_seconds=0.3,
        db_connect_timeout=2,
    )
    database = Database(settings)
    instrument(database)
    counted = READ_FALLBACKS.labels("replica_marked_down")._value.get()

    async def read_in_recovery() -> bool:
        async with database.read_sessions() as session:
            return await session.scalar(text("SELECT pg_is_in_recovery()"))

    try:
        # Writes and read-your-own-write go to the primary; lag-tolerant reads to the replica.
        async with database.sessions() as session, session.begin():
            assert await session.scalar(text("SELECT pg_is_in_recovery()")) is False
            await session.execute(insert(Tenant), [{"name": "r", "slug": "replicated"}])
        assert await read_in_recovery() is True
        deadline = time.monotonic() + 10
        seen = 0
        while time.monotonic() < deadline and not seen:
            async with database.read_sessions() as session:
                seen = await session.scalar(select(func.count()).select_from(Tenant))
        assert seen == 1
        assert database.read_fallbacks == 0

        await proxy.stop()  # the replica becomes unreachable
        assert await read_in_recovery() is False  # served by the primary
        assert database.read_fallbacks == 1
        assert await read_in_recovery() is False  # within the retry window: not retried
        assert database.read_fallbacks == 2
        assert READ_FALLBACKS.labels("replica_marked_down")._value.get() == counted + 1

        await proxy.start()  # same port: the replica is back
        await asyncio.sleep(0.35)
        assert await read_in_recovery() is True
        assert database.read_fallbacks == 2
    finally:
        await proxy.stop()
        await database.dispose()


async def test_status_and_metrics_show_the_replica(pg_pair, pair_database):
    await wait_replicated(pg_pair.url(pair_database, port=pg_pair.replica_port), pair_database)
    settings = make_settings(
        pg_pair.url(pair_database),
        read_db_url=pg_pair.url(pair_database, port=pg_pair.replica_port),
    )
    from app.dbops.monitor import status

    database = Database(settings)
    try:
        data = await status(database)
    finally:
        await database.dispose()
    assert data["engines"]["read"]["in_recovery"] is True
    assert data["engines"]["write"]["in_recovery"] is False
    assert "read" in data["pools"]
    async for client in app_client(settings):
        body = (await client.get("/metrics")).text
    assert 'mandate_vault_db_pool_size{engine="read"}' in body


def test_server_stopped_halfway_through_a_restore(pg_pair, pair_database, tmp_path):
    """The throwaway primary is stopped (immediate shutdown) mid-COPY and started
    again: the restore waits for it, puts the safety backup back and says so."""
    import threading

    from tests.conftest import TEST_SECRET
    from tests.dbops.pg_cluster import _wait_streaming

    url = pg_pair.url(pair_database)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "READ_DB", "PG"))},
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": url,
        "BACKUP_DIR": str(tmp_path / "b"),
    }
    seed(url, mandates=3)
    dsn = url.replace("+asyncpg", "")

    bulk_audit_rows(dsn, 300_000)
    assert run_cli(env, "db", "backup").exit_code == 0
    backup = next((tmp_path / "b").glob("mandate_vault_backup_*.sql.gz"))
    seed(url, mandates=4, audits=0)
    before = counts(url)
    stopped: list[bool] = []

    def stop_and_start():
        async def wait_for_copy():
            connection = await asyncpg.connect(dsn)
            try:
                for _ in range(1500):
                    if await connection.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                        "'mandate-vault-restore' AND state = 'active' AND query LIKE 'COPY%'"
                    ):
                        return True
                    await asyncio.sleep(0.01)
            finally:
                await connection.close()
            return False

        if asyncio.run(wait_for_copy()):
            pg_pair.ctl(pg_pair.primary, "stop")
            stopped.append(True)
            time.sleep(1.0)
            pg_pair.ctl(pg_pair.primary, "start")

    thread = threading.Thread(target=stop_and_start)
    thread.start()
    try:
        result = run_cli(env, "db", "restore", str(backup), "--yes", "--recovery-wait", "30")
    finally:
        thread.join()
        if not (pg_pair.primary / "postmaster.pid").exists():
            pg_pair.ctl(pg_pair.primary, "start")
        _wait_streaming(pg_pair)
    assert stopped, "the restore finished before the server could be stopped"
    assert result.exit_code == 6, result.output
    assert "restore failed" in result.output
    assert "was put back" in result.output
    assert "connection to server was lost" in result.output
    assert counts(url) == before
