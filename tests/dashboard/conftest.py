"""Fixtures of the dashboard tests.

In-process: `dash`, an httpx client on the app that asks for HTML, with
`sign_in` to get a session the way a browser does (GET the form, POST it).

In a real browser: one Debian chromium for the browser tests (never a downloaded
browser), driven by Playwright, against a real uvicorn server on a free port
per engine (`live`). Each test gets its own browser context; every page is
watched for console errors and CSP violations, and screenshots of the open
pages are saved under test-results/dashboard/ when a test fails.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from app.core.actor import Actor
from app.core.config import Settings
from app.core.database import Database
from app.issuers.trust import TrustLoader
from app.main import create_app
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService
from tests.conftest import (
    TEST_SECRET,
    create_pg_database,
    drop_pg_database,
    free_port,
    make_settings,
)
from tests.mandates.minting import MintingIssuer
from tests.world import PASSWORD, World, build_world

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("DASHBOARD_TEST_OUTPUT", ROOT / "test-results" / "dashboard"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HTML = {"accept": "text/html"}
SETUP_ACTOR = Actor.system("dashboard-test")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CLIENT_ERROR = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d ")
T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on a thread of its own (Playwright's sync API
    owns the test thread's event loop)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as error:
            box["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def in_thread(function: Any, *args: Any) -> Any:
    """Call a function that runs its own event loop (the PostgreSQL helpers)."""

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function(*args)
        except BaseException as error:
            box["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/login", headers=HTML)
    return await client.post(
        "/login",
        data={"csrf_token": csrf_of(form.text), "email": email, "password": password},
        headers=HTML,
    )


async def mint_mandates(
    database: Database, settings: Settings, tenant_id: uuid.UUID, count: int, **token: Any
) -> tuple[MintingIssuer, list[uuid.UUID]]:
    """A registered issuer and `count` stored mandates of it (newest last)."""
    issuer = MintingIssuer()
    ids = []
    async with database.sessions.begin() as session:
        await issuer.register(session, tenant_id)
    for index in range(count):
        async with database.sessions.begin() as session:
            service = MandateService(session, tenant_id, SETUP_ACTOR, TrustLoader(None), settings)
            outcome = await service.ingest(
                MandateCreate(vc_jwt=issuer.token(subject=f"did:example:agent-{index}", **token))
            )
            assert outcome.mandate is not None, outcome.result
            ids.append(outcome.mandate.id)
    return issuer, ids


@pytest.fixture
async def dash(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"rate_limit_enabled": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=HTML
        ) as client:
            yield client


# A real server and a real browser.


@dataclass
class LiveServer:
    url: str
    engine: str
    settings: Settings
    world: World
    process: subprocess.Popen[str]
    log: Path

    def database(self) -> Database:
        return Database(self.settings)

    def run(self, coro_factory: Any) -> Any:
        """Run `coro_factory(database)` against the server's database."""

        async def go() -> Any:
            database = self.database()
            try:
                return await coro_factory(database)
            finally:
                await database.dispose()

        return run_async(go())


def _start_server(url: str, tmp: Path, engine: str) -> tuple[subprocess.Popen[str], str, Path]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "READ_DB", "DEMO_"))}
    env.update(
        {
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": url,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            # Many sign-ins from one address in a few seconds: the per-IP limit
            # is the API's business (tested there); lockout is per account and stays.
            "RATE_LIMIT_ENABLED": "false",
            "BACKUP_DIR": str(tmp / "backups"),
            "EXPIRY_SWEEP_SECONDS": "0",
            "ALERT_SWEEP_SECONDS": "0",
            # The webhook tests deliver to a receiver on 127.0.0.1 over plain HTTP.
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
            "WEBHOOK_ALLOW_HTTP": "true",
            "RETENTION_SCHEDULE_ENABLED": "false",
            "DASHBOARD_IMPORT_MAX_BYTES": "200000",
        }
    )
    env.pop("WRITE_DB_URL", None)
    log = tmp / f"server-{engine}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base, log
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    pytest.fail("the server did not start in 30 s")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    postgres_available: bool,
    postgres_template: str,
) -> Iterator[LiveServer]:
    """A server on a free port over a fresh database of its engine, with the world in it."""
    engine = request.param
    tmp = tmp_path_factory.mktemp(f"live-{engine}")
    name = None
    if engine == "sqlite":
        path = tmp / "vault.db"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        if not postgres_available:
            pytest.skip("POSTGRESQL TESTS SKIPPED: no server at TEST_DATABASE_URL")
        name = f"mvt_{uuid.uuid4().hex[:16]}"
        url = in_thread(create_pg_database, name, postgres_template)
    settings = make_settings(url)

    async def world_of() -> World:
        database = Database(settings)
        try:
            return await build_world(database, settings)
        finally:
            await database.dispose()

    world = run_async(world_of())
    process, base, log = _start_server(url, tmp, engine)
    try:
        yield LiveServer(base, engine, settings, world, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if name is not None:
            in_thread(drop_pg_database, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium for the browser tests. Module-scoped on purpose: while
    Playwright's sync API is running, its event loop is the thread's, and every
    other test's asyncio.run() would fail."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_system_packages.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@dataclass
class Watched:
    """What the browser reported while a test ran."""

    problems: list[str] = field(default_factory=list)


WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (own cookies) whose pages are watched."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.add_init_script(WATCH_CSP)
    watched = Watched()

    def console(message: Any) -> None:
        # Chrome reports every 4xx answer as a console error; the tests cause
        # those on purpose (a wrong password, a refused POST) and check them.
        if message.type == "error" and not CLIENT_ERROR.search(message.text):
            watched.problems.append(f"console {message.type}: {message.text}")

    def watch(page: Any) -> None:
        page.on("console", console)
        page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))

    ctx.on("page", watch)
    ctx.watched = watched
    yield ctx
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for index, page in enumerate(ctx.pages):
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            page.screenshot(path=str(OUTPUT / f"{safe}-{index}.png"), full_page=True)
    violations = []
    for page in ctx.pages:
        if not page.is_closed() and page.url.startswith("http"):
            violations += page.evaluate("window.__cspViolations || []")
    ctx.close()
    assert not violations, f"CSP violations: {violations}"
    assert not watched.problems, f"browser console errors: {watched.problems}"


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def browser_sign_in(page: Any, live: LiveServer, email: str, password: str = PASSWORD) -> None:
    page.goto(live.url + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    with page.expect_navigation():  # the sign-in form posts for real (not through htmx)
        page.click("main button[type=submit]")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests against the PostgreSQL server are PostgreSQL tests too."""
    for item in items:
        params = getattr(item, "callspec", None)
        if params is not None and params.params.get("live") == "postgres":
            item.add_marker(pytest.mark.postgres)
