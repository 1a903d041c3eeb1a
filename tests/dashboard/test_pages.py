"""The dashboard over HTTP in-process, on both engines: sessions and their
expiry, CSRF, permissions, and the bad inputs of the issue (a clear message
on the page, never a 500, nothing half-done)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.routing import APIRoute

from app.activity.jobs import roll_up
from app.activity.service import activity
from app.dashboard.deps import page_permission
from app.dashboard.session import BrowserSession, SessionCodec
from app.main import create_app
from app.tenancy import service
from app.web.static import StaticAssets
from tests.clock import ManualClock
from tests.conftest import make_settings
from tests.dashboard.conftest import HTML, csrf_of, mint_mandates, sign_in
from tests.mandates.minting import MintingIssuer
from tests.world import World


async def admin_of(dash: httpx.AsyncClient, world: World) -> httpx.AsyncClient:
    assert (await sign_in(dash, world.a["customer_admin"].email)).status_code == 303
    return dash


async def test_pages_need_a_session_and_a_tampered_cookie_is_refused(dash, world):
    page = await dash.get("/mandates")
    assert (page.status_code, page.headers["location"]) == (
        303,
        "/login?reason=missing&next=/mandates",
    )
    await admin_of(dash, world)
    assert (await dash.get("/mandates")).status_code == 200
    cookie = dash.cookies["mv_session"]
    head, body, signature = cookie.split(".")
    dash.cookies.set("mv_session", f"{head}.{body}.{signature[:-2]}AA")
    refused = await dash.get("/mandates")
    assert refused.headers["location"].startswith("/login?reason=invalid")
    login = await dash.get(refused.headers["location"])
    assert "Your session could not be read" in login.text


async def test_a_session_ends_after_idle_time_and_its_lifetime(settings, world):
    clock = ManualClock()
    app = create_app(settings.model_copy(update={"rate_limit_enabled": False}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=HTML) as c:
            assert (await sign_in(c, world.a["readonly"].email)).status_code == 303
            clock.advance(29 * 60)
            assert (await c.get("/mandates")).status_code == 200  # use slides the idle window
            clock.advance(29 * 60)
            assert (await c.get("/mandates")).status_code == 200
            clock.advance(31 * 60)
            expired = await c.get("/mandates")
            assert expired.headers["location"].startswith("/login?reason=expired")
            assert "Your session expired" in (await c.get(expired.headers["location"])).text
    codec = SessionCodec(settings)
    now = datetime.now(UTC)
    old = BrowserSession(uuid.uuid4(), uuid.uuid4(), now - timedelta(hours=13), now)
    assert codec.decode(codec.encode(old), now).value == "expired"  # past DASHBOARD_SESSION_HOURS


async def test_login_form_refuses_a_post_without_its_token_and_never_enumerates(dash, world):
    refused = await dash.post("/login", data={"email": world.a["readonly"].email, "password": "x"})
    assert refused.status_code == 403
    assert "not sent from this site" in refused.text
    unknown = await sign_in(dash, "nobody@nowhere.example", "whatever-password-1")
    wrong = await sign_in(dash, world.a["readonly"].email, "whatever-password-1")
    assert unknown.status_code == wrong.status_code == 401
    message = re.compile(r'<p class="form-error" role="alert">([^<]+)</p>')
    assert message.search(unknown.text).group(1) == message.search(wrong.text).group(1)
    cross = await dash.post(
        "/login",
        data={
            "csrf_token": csrf_of((await dash.get("/login")).text),
            "email": "a@b.c",
            "password": "p",
        },
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert cross.status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("issuer_did=" + "x" * 5000, "issuer_did"),
        ("amount_min=lots", "amount_min"),
        ("expires_before=tomorrow", "expires_before"),
        ("status=paused", "status"),
        ("limit=100000", "limit"),
        ("label=no-separator", "label"),
        ("cursor=forged", "cursor"),
        ("subject_did=%00", "subject_did"),
    ],
)
async def test_bad_filters_are_named_on_the_page(dash, world, query, field):
    await admin_of(dash, world)
    page = await dash.get(f"/mandates?{query}")
    assert page.status_code == 422, page.text[:500]
    assert f'id="e-{field}"' in page.text or f"{field}:" in page.text
    assert "Fix the highlighted filters" in page.text or "no longer fits" in page.text


async def test_csv_export_follows_the_filter_and_defuses_formulas(dash, world, database, settings):
    issuer, ids = await mint_mandates(database, settings, world.tenant_a, 3)
    other, _ = await mint_mandates(database, settings, world.tenant_a, 1, scope="=HYPERLINK(1)")
    await admin_of(dash, world)
    export = await dash.get("/mandates/export.csv", params={"issuer_did": issuer.did})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("id,mandate_type,status")
    assert {line.split(",")[0] for line in lines[1:]} == {str(i) for i in ids}
    scoped = await dash.get("/mandates/export.csv", params={"issuer_did": other.did})
    assert "'=HYPERLINK(1)" in scoped.text


async def test_import_refuses_what_is_not_json_lines_or_too_large_and_stores_nothing(
    dash, world, database, settings
):
    await admin_of(dash, world)
    form = await dash.get("/mandates/import")
    token = csrf_of(form.text)

    async def upload(content: bytes, name: str = "m.jsonl") -> httpx.Response:
        return await dash.post(
            "/mandates/import",
            data={"csrf_token": token},
            files={"file": (name, content, "application/octet-stream")},
        )

    issuer = MintingIssuer()
    async with database.sessions.begin() as session:
        await issuer.register(session, world.tenant_a)
    good = json.dumps({"vc_jwt": issuer.token()}).encode()
    for content, message in (
        (b"id,token\n1,abc\n", "not a JSON Lines file"),
        (good + b"\n{not json\n", "line 2"),
        (b"\n\n", "no lines"),
    ):
        refused = await upload(content)
        assert refused.status_code == 422, refused.text[:300]
        assert message in refused.text
    cap = settings.dashboard_import_max_bytes
    assert (await upload(b'"x"\n' * (cap // 4 + 10))).status_code == 413
    async with database.read_sessions() as session:
        from app.issuers.trust import TrustLoader
        from app.mandates.service import MandateService
        from tests.dashboard.conftest import SETUP_ACTOR

        counts = await MandateService(
            session, world.tenant_a, SETUP_ACTOR, TrustLoader(None), settings
        ).counts_by_status()
    assert sum(counts.values()) == 0
    done = await upload(good + b"\n" + good + b"\n" + json.dumps("not.a.token").encode() + b"\n")
    assert done.status_code == 200
    assert "<strong data-created>1</strong>" in done.text
    assert "<strong data-duplicates>1</strong>" in done.text
    assert 'data-code="INVALID_FORMAT"' in done.text


async def test_a_double_submitted_key_form_creates_one_key(dash, world, database):
    await admin_of(dash, world)
    team = await dash.get("/team")
    token = csrf_of(team.text)
    form_token = re.search(r'name="form_token" value="([^"]+)"', team.text).group(1)
    data = {"csrf_token": token, "form_token": form_token, "name": "twice", "role": "readonly"}
    first = await dash.post("/team/keys", data=data)
    second = await dash.post("/team/keys", data=data)
    assert first.status_code == 200
    assert "mvk_" in first.text
    assert second.status_code == 409
    assert "already created" in second.text
    assert "mvk_" not in second.text.replace("<code>mvk_", "")
    async with database.read_sessions() as session:
        keys = await service.list_api_keys(session, world.tenant_a, limit=100, offset=0)
    assert [k.name for k in keys].count("twice") == 1


async def test_readonly_gets_403_pages_and_another_tenant_404s(dash, world, database, settings):
    _, theirs = await mint_mandates(database, settings, world.tenant_b, 1)
    assert (await sign_in(dash, world.a["readonly"].email)).status_code == 303
    token = csrf_of((await dash.get("/mandates")).text)
    for path in ("/team", "/platform", "/mandates/import"):
        assert (await dash.get(path)).status_code == 403, path
    forged = await dash.post("/issuers", data={"csrf_token": token, "did": "did:web:x.example"})
    assert forged.status_code == 403
    assert "issuers:manage" in forged.text
    missing = await dash.get(f"/mandates/{theirs[0]}")
    assert missing.status_code == 404
    assert "Not found" in missing.text


async def test_issuer_forms_name_the_field_and_a_failing_jwks_url_is_recorded(
    dash, world, database
):
    await admin_of(dash, world)
    token = csrf_of((await dash.get("/issuers")).text)
    bad = await dash.post(
        "/issuers",
        data={
            "csrf_token": token,
            "did": "did:web:bank.example",
            "source": "jwks",
            "jwks": "{nope",
        },
    )
    assert bad.status_code == 422
    assert 'id="e-jwks"' in bad.text
    assert "not JSON" in bad.text
    baddid = await dash.post("/issuers", data={"csrf_token": token, "did": "bank", "source": "did"})
    assert baddid.status_code == 422
    assert 'id="e-did"' in baddid.text
    issuer = MintingIssuer()
    made = await dash.post(
        "/issuers",
        data={
            "csrf_token": token,
            "did": issuer.did,
            "source": "jwks",
            "jwks": json.dumps(issuer.jwks()),
        },
    )
    assert made.status_code == 303
    detail = await dash.get(made.headers["location"])
    assert 'data-kid="k1"' in detail.text
    assert "ES256" in detail.text
    again = await dash.post(
        "/issuers",
        data={
            "csrf_token": token,
            "did": issuer.did,
            "source": "jwks",
            "jwks": json.dumps(issuer.jwks()),
        },
    )
    assert again.status_code == 409
    assert "already registered" in again.text


async def test_the_activity_rollup_counts_what_the_live_query_counts(database, settings, world):
    await mint_mandates(database, settings, world.tenant_a, 3)
    now = datetime.now(UTC)
    async with database.read_sessions() as session:
        live = await activity(session, world.tenant_a, now)
    # Roll up as if an hour had passed: the stored hours then come from the table.
    assert await roll_up(database, now + timedelta(hours=1, minutes=10)) >= 1
    async with database.read_sessions() as session:
        rolled = await activity(session, world.tenant_a, now)
        other = await activity(session, world.tenant_b, now)
    assert live.stored == rolled.stored == 3
    assert [h.stored for h in live.hours] == [h.stored for h in rolled.hours]
    assert other.stored == 0
    assert await roll_up(database, now + timedelta(hours=1, minutes=10)) == 0  # nothing twice


def test_every_dashboard_route_declares_a_permission_or_is_public(tmp_path):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    public = {"/", "/login", "/logout", "/tenant", "/accept-invite"}
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.endpoint.__module__.startswith(
            "app.dashboard"
        ):
            continue
        if route.path in public:
            continue
        assert page_permission(route.dependant) is not None, route.path


def test_static_assets_are_hashed_compressed_and_within_budget():
    assets = StaticAssets()
    # What the dashboard's pages load (the API docs pages carry their own, larger libraries).
    docs = ("docs/", "vendor/swagger-ui/", "vendor/redoc/")
    served = [
        a.name
        for a in assets.assets()
        if a.name.endswith((".js", ".css")) and not a.name.startswith(docs)
    ]
    assert {"vendor/htmx.min.js", "vendor/pico.min.css", "dashboard/dashboard.css"} <= set(served)
    assert re.fullmatch(
        r"/static/vendor/htmx\.min\.[0-9a-f]{10}\.js", assets.url("vendor/htmx.min.js")
    )
    assert assets.compressed_bytes(served) < 150 * 1024


async def test_static_answers_carry_long_cache_and_the_csp(client):
    home = await client.get("/", headers=HTML)
    url = re.search(r'src="(/static/vendor/htmx[^"]+)"', home.text).group(1)
    asset = await client.get(url, headers={"accept-encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-encoding"] == "gzip"
    assert "script-src 'self'" in home.headers["content-security-policy"]
    assert "<style" not in home.text
    assert " style=" not in home.text
    assert (await client.get("/static/vendor/htmx.min.js")).status_code == 404


async def test_unknown_api_paths_stay_problem_json(client):
    answer = await client.get("/api/v1/nothing", headers=HTML)
    assert answer.headers["content-type"] == "application/problem+json"
    page = await client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")


async def test_platform_admin_chooses_a_tenant_and_sees_the_database(dash, world, tmp_path):
    assert (await sign_in(dash, world.admin.email)).status_code == 303
    overview = await dash.get("/")
    assert "choose a tenant" in overview.text
    assert 'data-panel="database"' in overview.text
    assert (await dash.get("/mandates")).status_code == 409
    token = csrf_of(overview.text)
    chosen = await dash.post(
        "/tenant", data={"csrf_token": token, "tenant_id": str(world.tenant_b), "next": "/"}
    )
    assert chosen.status_code == 303
    assert "Tenant B" in (await dash.get("/mandates")).text
    platform = await dash.get("/platform")
    assert platform.status_code == 200
    assert "Database status" in platform.text
    bogus = await dash.post("/tenant", data={"csrf_token": token, "tenant_id": str(uuid.uuid4())})
    assert bogus.status_code == 404


async def test_revoking_twice_says_so_and_the_reason_is_required(dash, world, database, settings):
    _, ids = await mint_mandates(database, settings, world.tenant_a, 1)
    await admin_of(dash, world)
    token = csrf_of((await dash.get(f"/mandates/{ids[0]}/revoke")).text)
    empty = await dash.post(f"/mandates/{ids[0]}/revoke", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 422
    assert 'id="e-reason"' in empty.text
    for _ in range(2):
        done = await dash.post(
            f"/mandates/{ids[0]}/revoke", data={"csrf_token": token, "reason": "fraud"}
        )
        assert done.status_code == 303
    restore = await dash.post(f"/mandates/{ids[0]}/restore", data={"csrf_token": token})
    assert restore.status_code == 409
    assert "only a deleted mandate can be restored" in restore.text


async def test_fetching_a_jwks_url_that_fails_is_shown_with_its_error(settings, world):
    import http.server
    import threading

    issuer = MintingIssuer()
    body = json.dumps(issuer.jwks()).encode()

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    app = create_app(
        settings.model_copy(update={"rate_limit_enabled": False, "jwks_allow_http": True})
    )
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=HTML
            ) as c:
                await sign_in(c, world.a["customer_admin"].email)
                token = csrf_of((await c.get("/issuers")).text)
                made = await c.post(
                    "/issuers",
                    data={
                        "csrf_token": token,
                        "did": issuer.did,
                        "source": "jwks_url",
                        "jwks_url": url,
                    },
                )
                assert made.status_code == 303
                detail = made.headers["location"].split("?")[0]
                assert 'data-kid="k1"' in (await c.get(detail)).text
                server.shutdown()
                server.server_close()
                failed = await c.post(detail + "/refresh", data={"csrf_token": token})
                assert failed.headers["location"].endswith("?done=refresh_failed")
                page = await c.get(failed.headers["location"])
                assert "could not be fetched" in page.text
                assert 'data-kid="k1"' in page.text  # the last good keys stay
                api = await c.get(
                    "/api/v1/issuers/" + detail.rsplit("/", 1)[1],
                    headers={"X-API-Key": world.a["customer_admin"].api_key},
                )
                assert api.json()["jwks_error"].startswith("jwks_url could not be fetched")
                assert api.json()["jwks_failing_since"] is not None
    finally:
        server.server_close()


async def test_status_counts_come_from_the_rollup_while_fresh(database, settings, world):
    from app.activity.service import status_counts

    _, ids = await mint_mandates(database, settings, world.tenant_a, 2)
    now = datetime.now(UTC)
    await roll_up(database, now)
    await mint_mandates(database, settings, world.tenant_a, 1)
    async with database.read_sessions() as session:
        snapshot = await status_counts(session, world.tenant_a, now, timedelta(minutes=5))
        live = await status_counts(
            session, world.tenant_a, now + timedelta(minutes=10), timedelta(minutes=5)
        )
        empty = await status_counts(session, world.tenant_b, now, timedelta(minutes=5))
    assert (snapshot.counts["active"], snapshot.as_of) == (2, now)
    assert live.counts["active"] == 3
    assert empty.counts == {"active": 0, "expired": 0, "revoked": 0, "deleted": 0}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=gone", "state"),
        ("type=bogus", "type"),
        ("severity=x", "severity"),
        ("cursor=bad", "cursor"),
    ],
)
async def test_bad_alert_filters_are_named_on_the_page(dash, world, query, field):
    await admin_of(dash, world)
    page = await dash.get(f"/alerts?{query}")
    assert page.status_code == 422, page.text[:500]
    assert f'id="e-{field}"' in page.text or f"{field}:" in page.text


async def test_another_tenants_alert_is_the_404_page_and_stays_open(dash, world, database):
    from app.models import Alert

    async with database.sessions.begin() as session:
        theirs = Alert(alert_type="backup_stale", dedupe_key="x", severity="info", title="theirs")
        theirs.tenant_id = world.tenant_b
        session.add(theirs)
    assert (await sign_in(dash, world.a["customer_admin"].email)).status_code == 303
    token = csrf_of((await dash.get("/alerts")).text)
    for action in ("acknowledge", "resolve", "nonsense"):
        answer = await dash.post(f"/alerts/{theirs.id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 404, action
    not_an_id = await dash.post("/alerts/not-an-id/resolve", data={"csrf_token": token})
    assert not_an_id.status_code == 404
    async with database.sessions() as session:
        assert (await session.get(Alert, theirs.id)).resolved_at is None
