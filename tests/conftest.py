"""Fixtures: real SQLite files and real PostgreSQL databases.

Each engine gets a template migrated once per test process; every test that
asks for `database_url` gets its own copy (a file copy for SQLite,
`CREATE DATABASE ... TEMPLATE` for PostgreSQL), so tests never share rows.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.config import Settings, load_settings
from app.core.database import Database
from app.dbops import migrations
from app.main import create_app
from app.web.sessions import SessionDep
from tests.world import World, build_world

# The suite never reads a developer's own `.env` (in the checkout, beside the
# commands it runs): every setting a test relies on is given explicitly. Tests of
# the settings file itself set or remove this variable.
os.environ.setdefault("MANDATE_VAULT_ENV_FILE", os.devnull)

TEST_SECRET = "test-secret-" + "x" * 40
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
ENGINES = ["sqlite", "postgres"]
# The tables the operations guide lists (`sqlite3 test.db ".tables"`).
GUIDE_TABLES = frozenset(
    {"alerts", "audit_log", "customers", "mandates", "users", "webhook_deliveries", "webhooks"}
)


def run_command(
    args: list[str], *, env: dict[str, str], cwd: Path | str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one of the project's commands the way a person would: as a process."""
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_cli(
    *args: str, env: dict[str, str], cwd: Path | str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`mandate-vault ARGS...` in a subprocess."""
    return run_command([sys.executable, "-m", "app.cli", *args], env=env, cwd=cwd, stdin=stdin)


# TEST_PORTS=8720-8739 keeps the servers the tests start in that range (a machine
# shared by several test runs); unset, the kernel picks any free port.
_PORT_RANGE = os.environ.get("TEST_PORTS", "")
_next_port = [0]


def free_port() -> int:
    if not _PORT_RANGE:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    low, _, high = _PORT_RANGE.partition("-")
    ports = range(int(low), int(high or low) + 1)
    for _ in ports:
        port = ports[_next_port[0] % len(ports)]
        _next_port[0] += 1
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in TEST_PORTS={_PORT_RANGE}")


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _pg_execute(*statements: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(PG_ADMIN_URL), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def pg_url(database: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


def create_pg_database(name: str, template: str | None = None) -> str:
    clause = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"{clause}'))
    return pg_url(name)


def drop_pg_database(name: str) -> None:
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Fixtures only PostgreSQL tests use (`database_url` asks for postgres_available on
# every engine, so a test counts as PostgreSQL's only when it asks for it itself).
POSTGRES_ONLY_FIXTURES = frozenset({"postgres_template", "pg_pair", "throwaway_cluster"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs PostgreSQL, so `-m "not postgres"` runs the rest."""
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and params.params.get("engine_name") == "postgres"
        function = getattr(item, "function", None)
        own = set(inspect.signature(function).parameters) if function else set()
        fixtures = set(getattr(item, "fixturenames", ()))
        if on_postgres or "postgres_available" in own or fixtures & POSTGRES_ONLY_FIXTURES:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    try:
        asyncio.run(_pg_execute("SELECT 1"))
    except Exception as error:
        message = f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()} is not reachable ({error!r})"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{message} and REQUIRE_POSTGRES=1", pytrace=False)
        return False
    return True


def require_postgres(available: bool) -> None:
    if not available:
        pytest.skip(
            "POSTGRESQL TESTS SKIPPED: no server at TEST_DATABASE_URL "
            "(set REQUIRE_POSTGRES=1 to make this a failure)"
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrations.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_available: bool) -> Iterator[str]:
    if not postgres_available:
        yield ""
        return
    name = f"mvt_tpl_{uuid.uuid4().hex[:12]}"
    url = create_pg_database(name)
    try:
        migrations.upgrade(url)
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(
    engine_name: str,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_available: bool,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """A migrated, empty database of this test's own."""
    if engine_name == "sqlite":
        path = tmp_path / "vault.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    require_postgres(postgres_available)
    template = request.getfixturevalue("postgres_template")
    name = f"mvt_{uuid.uuid4().hex[:16]}"
    url = create_pg_database(name, template=template)
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def empty_database_url(engine_name: str, tmp_path: Path, postgres_available: bool) -> Iterator[str]:
    """A database with no schema at all."""
    if engine_name == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    require_postgres(postgres_available)
    name = f"mvt_{uuid.uuid4().hex[:16]}"
    url = create_pg_database(name)
    try:
        yield url
    finally:
        drop_pg_database(name)


def make_settings(database_url: str, **overrides) -> Settings:
    values = {
        "_env_file": None,
        "environment": "test",
        "secret_key": TEST_SECRET,
        "database_url": database_url,
        "log_level": "WARNING",
        # Tests that want the alert sweep run it themselves, on their own clock.
        "alert_sweep_seconds": 0,
        "webhook_worker_in_server": False,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


async def terminate_backend(database_url: str, pid: int) -> None:
    """Close a PostgreSQL backend from a connection of its own (not the pool's),
    and wait until it is gone."""
    other = Database(make_settings(database_url))
    try:
        async with other.write_engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(200):  # the backend exits a moment after the signal
                gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
                if (await connection.execute(gone, {"pid": pid})).scalar() == 0:
                    break
                await asyncio.sleep(0.01)
    finally:
        await other.dispose()


def add_database_probe(app) -> None:
    """GET /probe/db: one query through the request's session, for outage tests."""

    @app.get("/probe/db")
    async def probe(session: SessionDep) -> dict[str, int]:
        return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}


async def app_client(
    settings: Settings, *, probe: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    if probe:
        add_database_probe(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def world(database: Database, settings: Settings) -> World:
    return await build_world(database, settings)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for c in app_client(settings):
        yield c


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """Environment for running the project's commands in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "READ_DB"))}
    env.update(
        {
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "WEBHOOK_WORKER_IN_SERVER": "false",
        }
    )
    env.pop("WRITE_DB_URL", None)
    return env


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """The secret-in-logs scan over the whole suite: a test whose captured log or
    stderr holds a credential (an API key, a token, a test password) fails."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.passed:
        return
    from tests.log_scan import leaks

    captured = "\n".join(
        text for name, text in report.sections if "stderr" in name or " log " in name
    )
    found = leaks(captured)
    if found:
        report.outcome = "failed"
        report.longrepr = f"secret-like strings in this test's log output: {sorted(set(found))}"
