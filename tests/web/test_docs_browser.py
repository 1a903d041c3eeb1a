"""/docs and /redoc in a real headless Chromium (Debian's, driven by Playwright)
against a real server: they render every operation, load nothing from another
host, log no console error and break no Content-Security-Policy rule; and
Swagger UI's "Try it out" sends an API key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import TEST_SECRET, free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Collects Content-Security-Policy violations the page reports (added before any
# page script runs; the page's own CSP does not apply to it).
CSP_PROBE = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""

pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, a customer_admin API key) of a real server."""
    work = tmp_path_factory.mktemp("docs-browser")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DEMO_"))}
    env.update(
        {
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'vault.db'}",
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
        }
    )
    _cli(env, work, "db", "upgrade")
    tenant = _cli(env, work, "tenants", "create", "Docs").strip()
    key = _cli(
        env, work, "api-keys", "create", "--tenant", tenant, "--role", "customer_admin",
        "--name", "docs",
    ).splitlines()[-1]  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield base, key
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():  # a failure, not a skip: the project installs it
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_system_packages.sh as root")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose requests, console errors and CSP violations are recorded; any
    request to another host is aborted and recorded."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context()  # type: ignore[attr-defined]
        self.requests: list[str] = []
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.context.add_init_script(CSP_PROBE)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        self.requests.append(url)
        if urlsplit(url).hostname not in ("127.0.0.1", None) and not url.startswith("data:"):
            self.foreign.append(url)
            route.abort()  # type: ignore[attr-defined]
        else:
            route.continue_()  # type: ignore[attr-defined]

    def check_clean(self) -> None:
        violations = self.page.evaluate("window.__csp")
        assert self.foreign == [], self.foreign
        assert self.errors == [], self.errors
        assert violations == [], violations
        self.context.close()


def test_swagger_ui_renders_offline_and_tries_a_call_with_a_key(vault, browser) -> None:
    base, key = vault
    operations = sum(
        len(item) for item in httpx.get(base + "/openapi.json").json()["paths"].values()
    )
    watched = Watched(browser)
    page = watched.page
    page.goto(base + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() == operations

    page.click("button.authorize")
    api_key = page.locator(".auth-container").filter(has=page.locator("#api_key_value"))
    api_key.locator("#api_key_value").fill(key)
    api_key.locator("button[type=submit]").click()
    page.locator(".modal-ux .close-modal").click()
    me = page.locator("#operations-auth-me_api_v1_auth_me_get")
    me.locator(".opblock-summary").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    status = me.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(timeout=10_000)
    assert status.inner_text().strip().startswith("200")
    assert '"role": "customer_admin"' in me.locator(".live-responses-table").inner_text()
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in watched.requests)
    watched.check_clean()


def test_redoc_renders_offline(vault, browser) -> None:
    base, _key = vault
    watched = Watched(browser)
    page = watched.page
    page.goto(base + "/redoc")
    page.get_by_text("/api/v1/auth/login").first.wait_for(timeout=20_000)
    sections = page.eval_on_selector_all(
        "[data-section-id]", "found => found.map(e => e.getAttribute('data-section-id'))"
    )
    for tag in ("/health", "/auth", "/tenants", "/users", "/api-keys", "/issuers", "/mandates"):
        assert tag in sections, sections
    page.get_by_text("mandates", exact=True).first.click()
    page.get_by_text("Submit a mandate").first.click()
    page.get_by_text("Idempotency-Key").first.wait_for(timeout=10_000)
    assert page.get_by_text('curl -X POST "$VAULT/api/v1/mandates"').first.is_visible()
    assert page.get_by_text("Verify Mandate").first.is_visible()
    assert any(url.endswith("/openapi.json") for url in watched.requests)
    watched.check_clean()
