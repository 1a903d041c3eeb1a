"""The dashboard in a real browser (Debian's chromium through Playwright)
against a real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.tenancy import service
from tests.dashboard.conftest import (
    LiveServer,
    browser_sign_in,
    mint_mandates,
)
from tests.world import PASSWORD, add_identity

pytestmark = pytest.mark.xdist_group("dashboard-browser")
AXE = Path(__file__).with_name("vendor") / "axe.min.js"


def new_user(live: LiveServer, role: str, tenant: str = "a") -> str:
    """A user of its own (tests that lock or sign out must not share one)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@{tenant}.example"
    tenant_id = live.world.tenant_a if tenant == "a" else live.world.tenant_b

    async def add(database):
        async with database.sessions.begin() as session:
            await add_identity(session, live.settings, tenant_id, role, email)

    live.run(add)
    return email


def mandates_of(
    live: LiveServer, count: int, tenant: str = "a", **token
) -> tuple[str, list[uuid.UUID]]:
    tenant_id = live.world.tenant_a if tenant == "a" else live.world.tenant_b

    async def mint(database):
        issuer, ids = await mint_mandates(database, live.settings, tenant_id, count, **token)
        return issuer.did, ids

    return live.run(mint)


def test_sign_in_wrong_password_lockout_and_sign_out(live: LiveServer, page, context) -> None:
    email = new_user(live, "customer_admin")
    browser_sign_in(page, live, email, "not-the-password-at-all")
    assert "/login" in page.url
    message = page.locator("main .form-error").inner_text()
    assert "Email or password is wrong" in message
    browser_sign_in(page, live, email)
    assert page.url == live.url + "/"
    assert page.locator("h1").inner_text().startswith("Overview")
    cookie = next(c for c in context.cookies() if c["name"] == "mv_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"

    page.click("text=Sign out")
    page.wait_for_url("**/login?reason=signed_out")
    assert "You are signed out" in page.locator("main").inner_text()
    # The old cookie, put back, no longer opens anything.
    context.add_cookies([{**cookie}])
    page.goto(live.url + "/mandates")
    assert "/login" in page.url
    assert "Your session has ended" in page.locator("main").inner_text()

    locked = new_user(live, "customer_user")
    for _ in range(5):
        browser_sign_in(page, live, locked, "wrong-password-again-1")
    browser_sign_in(page, live, locked)  # the right password, but locked now
    assert "/login" in page.url
    assert "locked" in page.locator("main .form-error").inner_text()


def test_search_page_forward_and_back_open_and_revoke(live: LiveServer, page) -> None:
    issuer_did, ids = mandates_of(live, 5)
    mandates_of(live, 2)  # another issuer: filtered out
    browser_sign_in(page, live, new_user(live, "customer_admin"))
    page.goto(live.url + "/mandates")
    page.select_option("#f-status", "active")
    page.fill("#f-issuer_did", issuer_did)
    page.click("text=More filters")
    page.fill("#f-limit", "2")
    page.click("form button:has-text('Search')")
    page.wait_for_url("**issuer_did=*")
    rows = page.locator("table.mandates tbody tr[data-mandate]")

    def shown(*expected: uuid.UUID) -> None:
        # htmx swaps the results in place: wait for the swap, then read the rows.
        expect(rows.first).to_have_attribute("data-mandate", str(expected[0]))
        expect(rows).to_have_count(len(expected))
        assert [rows.nth(i).get_attribute("data-mandate") for i in range(rows.count())] == [
            str(i) for i in expected
        ]

    shown(ids[4], ids[3])
    page.click("a[rel=next]")
    shown(ids[2], ids[1])
    page.click("a[rel=next]")
    shown(ids[0])
    expect(page.locator("a[rel=next]")).to_have_count(0)
    page.click("a[rel=prev]")
    shown(ids[2], ids[1])
    page.click("a[rel=prev]")
    shown(ids[4], ids[3])
    expect(page.locator("a[rel=prev]")).to_have_count(0)

    page.click(f"tr[data-mandate='{ids[3]}'] a")
    page.wait_for_url(f"**/mandates/{ids[3]}")
    assert page.locator("[data-field=status]").inner_text() == "active"
    page.click("[data-actions] >> text=Revoke")
    page.wait_for_url("**/revoke")
    page.fill("#f-reason", "card reported stolen")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**/mandates/{ids[3]}?done=revoke")
    assert page.locator("[data-field=status]").inner_text() == "revoked"
    assert page.locator("[data-field=revocation_reason]").inner_text() == "card reported stolen"
    audit = page.locator("table.audit tr[data-action='mandate.revoked']")
    assert audit.count() == 1
    assert "card reported stolen" in audit.inner_text()


def test_readonly_sees_no_actions_and_a_forged_post_is_refused(live: LiveServer, page) -> None:
    _, ids = mandates_of(live, 1)
    browser_sign_in(page, live, new_user(live, "readonly"))
    page.goto(f"{live.url}/mandates/{ids[0]}")
    assert page.locator("[data-actions]").count() == 0
    assert page.locator("text=Import JSON Lines").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        f"{live.url}/mandates/{ids[0]}/revoke",
        form={"csrf_token": token, "reason": "forged"},
        headers={"accept": "text/html"},
    )
    assert forged.status == 403
    assert "does not allow mandates:write" in forged.text()
    page.goto(f"{live.url}/mandates/{ids[0]}")
    assert page.locator("[data-field=status]").inner_text() == "active"


def test_a_post_without_the_csrf_token_is_refused(live: LiveServer, page) -> None:
    _, ids = mandates_of(live, 1)
    browser_sign_in(page, live, new_user(live, "customer_admin"))
    page.goto(f"{live.url}/mandates/{ids[0]}")
    refused = page.request.post(
        f"{live.url}/mandates/{ids[0]}/revoke",
        form={"reason": "no token"},
        headers={"accept": "text/html"},
    )
    assert refused.status == 403
    assert "not sent from this site" in refused.text()
    page.reload()
    assert page.locator("[data-field=status]").inner_text() == "active"


def test_another_tenants_mandate_is_the_404_page(live: LiveServer, page) -> None:
    _, theirs = mandates_of(live, 1, tenant="b")
    browser_sign_in(page, live, new_user(live, "customer_admin"))
    response = page.goto(f"{live.url}/mandates/{theirs[0]}")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert page.goto(f"{live.url}/mandates/not-a-uuid").status == 404


def test_create_an_api_key_and_see_its_secret_once(live: LiveServer, page) -> None:
    browser_sign_in(page, live, new_user(live, "customer_admin"))
    page.goto(live.url + "/team")
    name = f"ci-{uuid.uuid4().hex[:6]}"
    page.fill("#f-name", name)
    page.locator("form[action='/team/keys'] #f-role").select_option("readonly")
    page.click("form[action='/team/keys'] button[type=submit]")
    page.wait_for_selector("[data-secret]")
    secret = page.locator("[data-secret]").input_value()
    assert secret.startswith("mvk_")
    page.click("text=Copy to clipboard")
    # The key works against the API, and the team page never shows the secret again.
    answer = page.request.get(live.url + "/api/v1/auth/me", headers={"X-API-Key": secret})
    assert answer.status == 200
    assert answer.json()["role"] == "readonly"
    page.goto(live.url + "/team")
    assert page.locator(f"tr[data-key='{name}']").count() == 1
    assert secret not in page.content()


def _axe(page) -> list[dict]:
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
    )
    return [v for v in result if v["impact"] == "critical"]


def test_main_pages_pass_axe_and_render_at_phone_width(live: LiveServer, page, context) -> None:
    _, ids = mandates_of(live, 2)
    browser_sign_in(page, live, live.world.admin.email)

    async def choose(database):
        async with database.read_sessions() as session:
            return (await service.get_tenant(session, _admin(live), live.world.tenant_a)).name

    tenant_name = live.run(choose)
    page.goto(live.url + "/platform")
    page.click(f"text=Look at {tenant_name}")
    expect(page.locator("h1")).to_have_text(f"Overview: {tenant_name}")
    for path in (
        "/",
        "/mandates",
        f"/mandates/{ids[0]}",
        "/issuers",
        "/alerts",
        "/webhooks",
        "/audit",
        "/audit/verify",
        "/team",
        "/platform",
        "/mandates/import",
    ):
        response = page.goto(live.url + path)
        assert response.status == 200, path
        assert _axe(page) == [], path
    page.set_viewport_size({"width": 390, "height": 800})
    for path in ("/", "/mandates", f"/mandates/{ids[0]}"):
        page.goto(live.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, (path, width)
    # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def _admin(live: LiveServer):
    from app.tenancy.principal import Principal

    return Principal("user", live.world.admin.user_id, None, "admin", live.world.admin.email)


def test_import_a_file_with_progress_and_a_summary(live: LiveServer, page, tmp_path) -> None:
    _, ids = mandates_of(live, 1)
    browser_sign_in(page, live, new_user(live, "customer_user"))
    # Two tokens of an issuer the tenant does not trust, and one already stored.
    from tests.mandates.minting import MintingIssuer

    stranger = MintingIssuer()
    lines = [
        json.dumps({"vc_jwt": stranger.token()}),
        json.dumps(stranger.token(subject="did:example:x")),
    ]
    file = tmp_path / "mandates.jsonl"
    file.write_text("\n".join(lines) + "\n")
    page.goto(live.url + "/mandates/import")
    page.set_input_files("#f-file", str(file))
    page.click("main form button[type=submit]")
    page.wait_for_selector(".import-summary")
    summary = page.locator(".import-summary")
    assert summary.locator("[data-code=ISSUER_UNKNOWN] td.num").inner_text() == "2"
    assert summary.locator("[data-created]").inner_text() == "0"

    bad = tmp_path / "not.jsonl"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    page.goto(live.url + "/mandates/import")
    page.set_input_files("#f-file", str(bad))
    page.click("main form button[type=submit]")
    expect(page.locator("#e-file")).to_contain_text("not a JSON Lines file")


def test_a_user_deactivated_on_the_team_page_is_signed_out(live: LiveServer, page, browser) -> None:
    email = new_user(live, "customer_user")
    browser_sign_in(page, live, email)
    assert page.url == live.url + "/"
    admin_context = browser.new_context()
    try:
        admin = admin_context.new_page()
        browser_sign_in(admin, live, new_user(live, "customer_admin"))
        admin.goto(live.url + "/team")
        admin.click(f"tr[data-user='{email}'] >> text=Deactivate")
        admin.wait_for_url("**/deactivate")
        admin.click("main form button[type=submit]")
        admin.wait_for_url("**/team?done=deactivate")
        assert "deactivated" in admin.locator(f"tr[data-user='{email}']").inner_text()
    finally:
        admin_context.close()
    page.goto(live.url + "/mandates")
    assert "/login" in page.url
    assert "Your session has ended" in page.locator("main").inner_text()
    browser_sign_in(page, live, email, PASSWORD)
    assert "/login" in page.url


def test_pages_read_without_javascript(live: LiveServer, browser) -> None:
    _, ids = mandates_of(live, 3)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        browser_sign_in(page, live, new_user(live, "readonly"))
        assert page.locator("h1").inner_text().startswith("Overview")
        page.goto(live.url + "/mandates?limit=2")
        assert page.locator("table.mandates tbody tr[data-mandate]").count() == 2
        page.click("a[rel=next]")
        assert "cursor=" in page.url
        page.goto(f"{live.url}/mandates/{ids[0]}")
        assert page.locator("[data-field=status]").inner_text() == "active"
        page.click("text=Reveal token")
        assert page.locator("#raw-token").input_value().count(".") == 2
    finally:
        context.close()


def alert_of(live: LiveServer, title: str, tenant: str = "a") -> uuid.UUID:
    tenant_id = live.world.tenant_a if tenant == "a" else live.world.tenant_b

    async def add(database):
        from app.models import Alert

        async with database.sessions.begin() as session:
            alert = Alert(
                alert_type="verification_failures",
                dedupe_key=uuid.uuid4().hex,
                severity="warning",
                title=title,
                message="An integration may be sending bad tokens.",
            )
            alert.tenant_id = tenant_id
            session.add(alert)
        return alert.id

    return live.run(add)


def test_alerts_are_acknowledged_and_resolved_from_the_page(live: LiveServer, page) -> None:
    title = f"Refusals {uuid.uuid4().hex[:6]}"
    alert_id = alert_of(live, title)
    alert_of(live, "Another tenant's alert", tenant="b")
    browser_sign_in(page, live, new_user(live, "customer_user"))
    page.goto(live.url + "/")
    expect(page.locator(f"text={title}")).to_be_visible()  # the overview's open alerts
    page.goto(live.url + "/alerts")
    row = page.locator(f"tr[data-alert='{alert_id}']")
    expect(row).to_contain_text("open")
    assert page.locator("text=Another tenant's alert").count() == 0
    row.locator("text=Acknowledge").click()
    expect(page.locator("[role=status]")).to_have_text("The alert is acknowledged.")
    expect(page.locator(f"tr[data-alert='{alert_id}']")).to_contain_text("acknowledged")
    page.locator(f"tr[data-alert='{alert_id}']").locator("text=Resolve").click()
    expect(page.locator("[role=status]")).to_have_text("The alert is resolved.")
    assert page.locator(f"tr[data-alert='{alert_id}']").count() == 0  # unresolved by default
    page.select_option("#f-state", "resolved")
    page.click("text=Filter")
    expect(page.locator(f"tr[data-alert='{alert_id}']")).to_contain_text("manual")


def test_readonly_sees_alerts_without_actions(live: LiveServer, page) -> None:
    alert_id = alert_of(live, "Read only")
    browser_sign_in(page, live, new_user(live, "readonly"))
    page.goto(live.url + "/alerts")
    row = page.locator(f"tr[data-alert='{alert_id}']")
    expect(row).to_contain_text("Read only")
    assert row.locator("button").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        f"{live.url}/alerts/{alert_id}/resolve",
        form={"csrf_token": token},
        headers={"accept": "text/html"},
    )
    assert forged.status == 403


def _wait_for(condition, seconds: float = 15.0):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("gave up waiting")


def test_webhook_test_event_resend_and_secret_rotation(live: LiveServer, page) -> None:
    from standardwebhooks.webhooks import Webhook as Verifier

    from tests.webhooks.receiver import Receiver

    browser_sign_in(page, live, new_user(live, "customer_admin"))
    with Receiver() as receiver:
        page.goto(live.url + "/webhooks")
        page.fill("#f-url", receiver.url("/hook"))
        page.click("text=Add endpoint")
        expect(page.locator("h1")).to_have_text("Endpoint added")
        secret = page.locator("#secret").input_value()
        assert secret.startswith("whsec_")
        page.click("text=Back to the endpoint")
        page.click("text=Send a test event")
        expect(page.locator("[role=status]")).to_contain_text("webhook.test event is on its way")
        (first,) = _wait_for(lambda: receiver.requests)
        Verifier(secret).verify(first.body, first.headers)  # raises if the signature is wrong
        assert json.loads(first.body)["type"] == "webhook.test"

        def delivered() -> bool:
            page.reload()
            return page.locator("tr[data-delivery] .badge").first.inner_text() == "succeeded"

        _wait_for(delivered)
        page.locator("tr[data-delivery]").first.locator("text=Resend").click()
        expect(page.locator("[role=status]")).to_have_text(
            "The delivery is queued to be sent again."
        )
        _, second = _wait_for(lambda: receiver.requests if len(receiver.requests) >= 2 else None)
        assert second.headers["webhook-id"] == first.headers["webhook-id"]

        page.click("text=Rotate secret")
        page.click("button:has-text('Rotate the secret')")
        expect(page.locator("h1")).to_have_text("New signing secret")
        rotated = page.locator("#secret").input_value()
        assert rotated.startswith("whsec_")
        assert rotated != secret


def test_the_evidence_pack_downloaded_from_the_page_verifies(
    live: LiveServer, page, tmp_path
) -> None:
    import os

    import httpx

    from tests.conftest import TEST_SECRET, run_cli

    _, ids = mandates_of(live, 1)
    browser_sign_in(page, live, new_user(live, "customer_admin"))
    page.goto(f"{live.url}/mandates/{ids[0]}")
    expect(page.locator("[data-panel=chain-status]")).to_contain_text("Verify the chain")
    with page.expect_download() as download:
        page.click("[data-evidence]")
    pack = tmp_path / "pack.zip"
    download.value.save_as(pack)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(httpx.get(live.url + "/.well-known/jwks.json").text)
    env = {**os.environ, "SECRET_KEY": TEST_SECRET, "DATABASE_URL": live.settings.database_url}
    checked = run_cli("evidence", "verify", str(pack), "--jwks", str(jwks), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    page.goto(live.url + "/audit/verify")
    expect(page.locator("[data-chain-status]")).to_have_text("intact")
