"""db status / db monitor, /metrics and the slow query log, on both engines."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.core.database import Database
from app.dbops import migrations
from app.dbops.metrics import instrument
from app.dbops.monitor import admin_snapshot, monitor
from tests.conftest import app_client, free_port, make_settings
from tests.dbops.dbops_data import run_cli, seed


def test_status_cli(database_url, cli_env, engine_name):
    result = run_cli(cli_env, "db", "status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["engine"] == ("sqlite" if engine_name == "sqlite" else "postgresql")
    assert data["reachable"] is True
    assert data["engines"]["write"]["latency_ms"] >= 0
    assert data["migrations"]["current"] == list(migrations.head_revisions())
    assert data["migrations"]["pending"] == []
    assert set(data["pools"]["write"]) == {"size", "checked_out", "overflow", "checked_in"}
    text_output = run_cli(cli_env, "db", "status").output
    assert "reachable" in text_output
    assert "pending none" in text_output
    assert "pool write:" in text_output


def test_status_names_pending_migrations(empty_database_url, cli_env):
    data = json.loads(
        run_cli({**cli_env, "DATABASE_URL": empty_database_url}, "db", "status", "--json").output
    )
    assert data["migrations"]["current"] == []
    assert data["migrations"]["pending"][-1] == migrations.head_revisions()[0]


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_status_of_an_unreachable_database(database_url, cli_env):
    url = database_url.replace(":5432/", f":{free_port()}/")
    result = run_cli({**cli_env, "DATABASE_URL": url, "DB_CONNECT_TIMEOUT": "2"}, "db", "status")
    assert result.exit_code == 4
    assert "UNREACHABLE" in result.output


def test_monitor(database_url, cli_env, engine_name):
    seed(database_url, mandates=3, audits=2)
    result = run_cli(cli_env, "db", "monitor", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["database_size_bytes"] > 0
    if engine_name == "sqlite":
        assert data["journal_mode"] == "wal"
        assert data["page_count"] > 0
        assert data["row_counts"]["mandates"] == 3
        assert data["file_bytes"] > 0
    else:
        assert data["connections"]["total"] >= 1
        tables = {t["table"]: t for t in data["tables"]}
        assert "mandates" in tables
        assert tables["mandates"]["total_bytes"] > 0
        assert any(i["index"] == "idx_mandates_tenant_status" for i in data["indexes"])
        assert all(not i["primary"] for i in data["unused_indexes"])
        assert "hit_ratio" in data["cache"]
    assert "engine:" in run_cli(cli_env, "db", "monitor").output


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_monitor_sees_a_long_running_query(database):
    async with database.write_engine.connect() as busy:
        import asyncio

        task = asyncio.create_task(busy.execute(text("SELECT pg_sleep(1.5)")))
        await asyncio.sleep(0.6)
        data = await monitor(database, long_running_seconds=0.3)
        await task
    assert any("pg_sleep" in q["query"] for q in data["long_running_queries"])
    assert data["connections"]["by_state"].get("active", 0) >= 1


async def test_admin_snapshot_is_the_route_payload(database):
    snapshot = await admin_snapshot(database)
    assert snapshot["status"]["reachable"] is True
    assert snapshot["monitor"]["database_size_bytes"] > 0
    json.dumps(snapshot)  # serialisable as the route's body


async def test_metrics_endpoint(database_url):
    settings = make_settings(database_url)
    async for client in app_client(settings):
        await client.get("/readyz")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    for name in (
        'mandate_vault_db_pool_size{engine="write"}',
        'mandate_vault_db_pool_checked_out{engine="write"}',
        'mandate_vault_db_pool_overflow{engine="write"}',
        "mandate_vault_db_size_bytes ",
        'mandate_vault_db_query_duration_seconds_count{engine="write"}',
        "mandate_vault_db_slow_queries_total",
    ):
        assert name in body, name


async def test_metrics_can_be_turned_off(database_url):
    async for client in app_client(make_settings(database_url, metrics_enabled=False)):
        assert (await client.get("/metrics")).status_code == 404


async def test_slow_queries_are_logged_without_parameters_and_counted(
    database_url, engine_name, capsys
):
    from app.core.logging import configure_logging
    from app.dbops.metrics import SLOW_QUERIES

    settings = make_settings(database_url, slow_query_ms=40, log_level="WARNING")
    configure_logging(settings)
    database = Database(settings)
    instrument(database)
    before = SLOW_QUERIES.labels("write")._value.get()
    slow = (
        "SELECT :secret AS s, pg_sleep(0.08)"
        if engine_name == "postgres"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
        "SELECT :secret AS s, count(*) FROM c"
    )
    try:
        async with database.write_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))  # fast: not logged
            await connection.execute(text(slow), {"secret": "tok_live_SECRET_VALUE"})
    finally:
        await database.dispose()
    logged = capsys.readouterr().err
    assert "slow_query" in logged
    assert "duration_ms" in logged
    assert "SELECT" in logged
    assert "tok_live_SECRET_VALUE" not in logged
    assert logged.count("slow_query") == 1
    assert SLOW_QUERIES.labels("write")._value.get() == before + 1


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_statements_the_driver_sends_are_timed_too(database_url, capsys):
    """A hot read on the driver (app.core.driver) lands in the same histogram and
    slow-query log as SQLAlchemy's statements, without its parameters."""
    from sqlalchemy import func, literal, select

    from app.core.driver import select_rows
    from app.core.logging import configure_logging
    from app.dbops.metrics import QUERY_SECONDS, SLOW_QUERIES

    settings = make_settings(database_url, slow_query_ms=40, log_level="WARNING")
    configure_logging(settings)
    database = Database(settings)
    instrument(database)
    slow_before = SLOW_QUERIES.labels("write")._value.get()
    timed_before = _histogram_count(QUERY_SECONDS, "write")
    query = select(literal("tok_live_SECRET_VALUE").label("s"), func.pg_sleep(0.08).label("slept"))
    try:
        async with database.primary_reads() as session:
            rows = await select_rows(session, query)
    finally:
        await database.dispose()
    assert rows[0].s == "tok_live_SECRET_VALUE"
    logged = capsys.readouterr().err
    assert logged.count("slow_query") == 1
    assert "pg_sleep" in logged
    assert "tok_live_SECRET_VALUE" not in logged
    assert SLOW_QUERIES.labels("write")._value.get() == slow_before + 1
    assert _histogram_count(QUERY_SECONDS, "write") == timed_before + 1


def _histogram_count(histogram, engine: str) -> float:
    return next(
        sample.value
        for metric in histogram.collect()
        for sample in metric.samples
        if sample.name.endswith("_count") and sample.labels.get("engine") == engine
    )


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_monitor_of_an_unreachable_database(database_url, cli_env):
    url = database_url.replace(":5432/", f":{free_port()}/")
    result = run_cli({**cli_env, "DATABASE_URL": url, "DB_CONNECT_TIMEOUT": "2"}, "db", "monitor")
    assert result.exit_code == 4
    assert "cannot reach the database" in result.output
    assert "Traceback" not in result.output
