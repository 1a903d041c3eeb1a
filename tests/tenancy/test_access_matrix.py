"""Every API route x every role x own tenant / other tenant / anonymous.

`EXPECTED` is the access matrix written out by hand; the app's routes and the
role table in `app/tenancy/permissions.py` must both agree with it. A route
without an entry here fails `test_every_route_has_a_matrix_entry`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.routing import APIRoute, _iter_included_route_candidates

from app.ap2.schemas import PresentationRequest
from app.ap2.service import Ap2Service
from app.core.actor import Actor as AuditActor
from app.core.clock import SYSTEM_CLOCK
from app.events.schemas import WebhookCreate
from app.events.service import WebhookService
from app.issuers.schemas import IssuerCreate
from app.issuers.service import IssuerService
from app.issuers.trust import TrustLoader
from app.main import create_app
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService
from app.models import Alert, Tenant, User
from app.tenancy import auth_service, service, tokens
from app.tenancy.deps import route_permission
from app.tenancy.permissions import ROLE_PERMISSIONS, Permission, Role
from tests.ap2.minting import party
from tests.ap2_api.helpers import checkout_chain, receipt_jwt
from tests.conftest import make_settings
from tests.mandates.minting import MintingIssuer
from tests.world import PASSWORD, World, add_identity

ADMIN, CADMIN, CUSER, RO = "admin", "customer_admin", "customer_user", "readonly"
EVERYONE = {ADMIN, CADMIN, CUSER, RO}
PUBLIC = "public"
SYSTEM = AuditActor.system("matrix-setup")

# (method, path) -> (permission, roles allowed, success status). PUBLIC: no credentials needed.
EXPECTED: dict[tuple[str, str], tuple[Permission | str, set[str] | str, int]] = {
    ("POST", "/api/v1/auth/login"): (PUBLIC, PUBLIC, 200),
    ("POST", "/api/v1/auth/refresh"): (PUBLIC, PUBLIC, 200),
    ("POST", "/api/v1/auth/accept-invite"): (PUBLIC, PUBLIC, 200),
    ("POST", "/api/v1/auth/logout"): (Permission.SELF_READ, EVERYONE, 204),
    ("GET", "/api/v1/auth/me"): (Permission.SELF_READ, EVERYONE, 200),
    ("POST", "/api/v1/auth/password"): (Permission.SELF_READ, EVERYONE, 204),
    ("POST", "/api/v1/customers"): (Permission.TENANTS_CREATE, {ADMIN}, 201),
    ("GET", "/api/v1/customers"): (Permission.TENANTS_LIST, {ADMIN}, 200),
    ("GET", "/api/v1/customers/{tenant_id}"): (Permission.TENANTS_READ, {ADMIN, CADMIN}, 200),
    ("PATCH", "/api/v1/customers/{tenant_id}"): (
        Permission.TENANTS_UPDATE,
        {ADMIN, CADMIN},
        200,
    ),
    ("DELETE", "/api/v1/customers/{tenant_id}"): (Permission.TENANTS_DEACTIVATE, {ADMIN}, 200),
    ("POST", "/api/v1/users"): (Permission.USERS_MANAGE, {ADMIN, CADMIN}, 201),
    ("GET", "/api/v1/users"): (Permission.USERS_READ, {ADMIN, CADMIN}, 200),
    ("GET", "/api/v1/users/{user_id}"): (Permission.USERS_READ, {ADMIN, CADMIN}, 200),
    ("PATCH", "/api/v1/users/{user_id}"): (Permission.USERS_MANAGE, {ADMIN, CADMIN}, 200),
    ("DELETE", "/api/v1/users/{user_id}"): (Permission.USERS_MANAGE, {ADMIN, CADMIN}, 204),
    ("POST", "/api/v1/api-keys"): (Permission.API_KEYS_MANAGE, {ADMIN, CADMIN}, 201),
    ("GET", "/api/v1/api-keys"): (Permission.API_KEYS_READ, {ADMIN, CADMIN}, 200),
    ("DELETE", "/api/v1/api-keys/{key_id}"): (Permission.API_KEYS_MANAGE, {ADMIN, CADMIN}, 204),
    ("GET", "/api/v1/admin/db"): (Permission.PLATFORM_OPERATE, {ADMIN}, 200),
    ("POST", "/api/v1/issuers"): (Permission.ISSUERS_MANAGE, {ADMIN, CADMIN}, 201),
    ("GET", "/api/v1/issuers"): (Permission.ISSUERS_READ, EVERYONE, 200),
    ("GET", "/api/v1/issuers/{issuer_id}"): (Permission.ISSUERS_READ, EVERYONE, 200),
    ("PATCH", "/api/v1/issuers/{issuer_id}"): (Permission.ISSUERS_MANAGE, {ADMIN, CADMIN}, 200),
    ("DELETE", "/api/v1/issuers/{issuer_id}"): (Permission.ISSUERS_MANAGE, {ADMIN, CADMIN}, 204),
    ("POST", "/api/v1/issuers/{issuer_id}/keys"): (Permission.ISSUERS_MANAGE, {ADMIN, CADMIN}, 200),
    ("DELETE", "/api/v1/issuers/{issuer_id}/keys/{kid}"): (
        Permission.ISSUERS_MANAGE,
        {ADMIN, CADMIN},
        200,
    ),
    ("POST", "/api/v1/mandates"): (Permission.MANDATES_WRITE, {ADMIN, CADMIN, CUSER}, 201),
    ("POST", "/api/v1/mandates/batch"): (Permission.MANDATES_WRITE, {ADMIN, CADMIN, CUSER}, 200),
    ("GET", "/api/v1/mandates"): (Permission.MANDATES_READ, EVERYONE, 200),
    ("GET", "/api/v1/mandates/{mandate_id}"): (Permission.MANDATES_READ, EVERYONE, 200),
    ("PATCH", "/api/v1/mandates/{mandate_id}"): (
        Permission.MANDATES_WRITE,
        {ADMIN, CADMIN, CUSER},
        200,
    ),
    ("DELETE", "/api/v1/mandates/{mandate_id}"): (
        Permission.MANDATES_WRITE,
        {ADMIN, CADMIN, CUSER},
        204,
    ),
    ("POST", "/api/v1/mandates/{mandate_id}/revoke"): (
        Permission.MANDATES_WRITE,
        {ADMIN, CADMIN, CUSER},
        200,
    ),
    ("POST", "/api/v1/mandates/{mandate_id}/restore"): (
        Permission.MANDATES_WRITE,
        {ADMIN, CADMIN, CUSER},
        200,
    ),
    ("POST", "/api/v1/ap2/presentations"): (Permission.AP2_PRESENT, {ADMIN, CADMIN, CUSER}, 200),
    ("GET", "/api/v1/ap2/ledger/{open_mandate_hash}"): (Permission.MANDATES_READ, EVERYONE, 200),
    ("POST", "/api/v1/ap2/ledger/{open_mandate_hash}/revoke"): (
        Permission.AP2_PRESENT,
        {ADMIN, CADMIN, CUSER},
        200,
    ),
    ("POST", "/api/v1/ap2/receipts"): (Permission.AP2_PRESENT, {ADMIN, CADMIN, CUSER}, 201),
    ("GET", "/api/v1/ap2/rejections"): (Permission.MANDATES_READ, EVERYONE, 200),
    ("GET", "/api/v1/ap2/rejections/{rejection_id}"): (Permission.MANDATES_READ, EVERYONE, 200),
    ("POST", "/api/v1/mandates/{mandate_id}/dispute-check"): (
        Permission.MANDATES_READ,
        EVERYONE,
        200,
    ),
    ("POST", "/api/v1/mandates/{mandate_id}/verify"): (
        Permission.MANDATES_WRITE,
        {ADMIN, CADMIN, CUSER},
        200,
    ),
    ("GET", "/api/v1/mandates/{mandate_id}/audit"): (
        Permission.AUDIT_READ,
        {ADMIN, CADMIN, RO},
        200,
    ),
    ("GET", "/api/v1/mandates/{mandate_id}/evidence"): (
        Permission.AUDIT_READ,
        {ADMIN, CADMIN, RO},
        200,
    ),
    ("GET", "/api/v1/audit"): (Permission.AUDIT_READ, {ADMIN, CADMIN, RO}, 200),
    ("GET", "/api/v1/audit/export"): (Permission.AUDIT_READ, {ADMIN, CADMIN, RO}, 200),
    ("GET", "/api/v1/audit/verify"): (Permission.AUDIT_READ, {ADMIN, CADMIN, RO}, 200),
    ("GET", "/api/v1/alerts"): (Permission.ALERTS_READ, EVERYONE, 200),
    ("GET", "/api/v1/alert-types"): (Permission.ALERTS_READ, EVERYONE, 200),
    ("GET", "/api/v1/alerts/{alert_id}"): (Permission.ALERTS_READ, EVERYONE, 200),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): (
        Permission.ALERTS_MANAGE,
        {ADMIN, CADMIN, CUSER},
        200,
    ),
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): (
        Permission.ALERTS_MANAGE,
        {ADMIN, CADMIN, CUSER},
        200,
    ),
    ("GET", "/api/v1/event-types"): (Permission.SELF_READ, EVERYONE, 200),
    **{
        (method, path): (Permission.WEBHOOKS_MANAGE, {ADMIN, CADMIN}, success)
        for method, path, success in [
            ("POST", "/api/v1/webhooks", 201),
            ("GET", "/api/v1/webhooks", 200),
            ("GET", "/api/v1/webhooks/{webhook_id}", 200),
            ("PATCH", "/api/v1/webhooks/{webhook_id}", 200),
            ("DELETE", "/api/v1/webhooks/{webhook_id}", 204),
            ("GET", "/api/v1/webhooks/{webhook_id}/secret", 200),
            ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret", 200),
            ("POST", "/api/v1/webhooks/{webhook_id}/test", 202),
            ("GET", "/api/v1/webhooks/{webhook_id}/deliveries", 200),
            ("POST", "/api/v1/webhooks/{webhook_id}/recover", 200),
            ("POST", "/api/v1/webhook-deliveries/{delivery_id}/resend", 202),
        ]
    },
}
# Outside /api: open by design (probes, docs, the dashboard's own pages).
OUTSIDE_API = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/static",
    "/.well-known/jwks.json",  # the vault's public keys, for anyone checking its signatures
}
# Routes keyed by a value anyone can compute rather than a row id: another tenant's value
# is like a missing one, and for these a missing one is not a 404. Revoking an open
# mandate by its hash works before its first presentation, so the caller's tenant gets a
# revoked ledger of its own and the other tenant's is untouched (tests/ap2_api).
NOT_A_ROW_ID = {("POST", "/api/v1/ap2/ledger/{open_mandate_hash}/revoke")}
# Routes whose effect does not depend on a tenant ("other tenant" means nothing there).
TENANTLESS = {
    ("GET", "/api/v1/admin/db"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/customers"),
    ("GET", "/api/v1/customers"),
    ("GET", "/api/v1/event-types"),
    ("GET", "/api/v1/alert-types"),
}


def api_routes(app) -> dict[tuple[str, str], APIRoute]:
    found = {}
    for route in _iter_included_route_candidates(app.routes):
        if isinstance(route, APIRoute) and route.path.startswith("/api/"):
            for method in route.methods:
                found[(method, route.path)] = route
    return found


def test_every_route_has_a_matrix_entry(tmp_path):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    routes = api_routes(app)
    assert set(routes) == set(EXPECTED), "add the new route to EXPECTED (and the README matrix)"
    others = {
        getattr(r, "path", None)
        for r in _iter_included_route_candidates(app.routes)
        if not getattr(r, "path", "/api/").startswith("/api/")
        # The dashboard's pages have their own check (tests/dashboard/test_pages.py).
        and not getattr(getattr(r, "endpoint", None), "__module__", "").startswith("app.dashboard")
    }
    assert others <= OUTSIDE_API
    for key, route in routes.items():
        declared = route_permission(route.dependant)
        permission, roles, _ = EXPECTED[key]
        if permission == PUBLIC:
            assert declared is None, key
            continue
        assert declared == permission, key
        # The hand-written expectation and the code's role table agree.
        assert roles == {r.value for r in Role if permission in ROLE_PERMISSIONS[r]}, key


@dataclass
class Call:
    path: str
    json: dict | None = None
    after: Callable[[], Awaitable[None]] | None = None


async def build_call(key, database, world: World, tenant_id, actor_user_id) -> Call:
    """A request that succeeds for an allowed caller acting on `tenant_id`."""
    method, path = key
    settings = database.settings
    unique = uuid.uuid4().hex[:10]
    if path == "/api/v1/auth/login":
        async with database.sessions.begin() as session:
            who = await add_identity(session, settings, tenant_id, RO, f"l{unique}@x.example")
        return Call(path, {"email": who.email, "password": PASSWORD})
    if path == "/api/v1/auth/refresh":
        async with database.sessions.begin() as session:
            who = await add_identity(session, settings, tenant_id, RO, f"r{unique}@x.example")
        return Call(path, {"refresh_token": who.refresh_token})
    if path == "/api/v1/auth/accept-invite":
        async with database.sessions.begin() as session:
            user = await service.create_user_record(
                session, tenant_id=tenant_id, email=f"i{unique}@x.example", role=RO, password=None
            )
            token = tokens.create_invite_token(
                settings.secret_key.get_secret_value(),
                user.id,
                user.password_hash,
                timedelta(hours=1),
            )
        return Call(path, {"token": token, "password": "Quiet-Meadow-Compass-77"})
    if path == "/api/v1/auth/password":
        return Call(path, {"current_password": PASSWORD, "new_password": PASSWORD})
    if path in ("/api/v1/auth/logout", "/api/v1/auth/me", "/api/v1/customers") and method in (
        "GET",
        "POST",
    ):
        if path == "/api/v1/customers" and method == "POST":
            return Call(path, {"name": f"New {unique}"})
        return Call(path)
    if path == "/api/v1/customers/{tenant_id}":
        concrete = f"/api/v1/customers/{tenant_id}"
        if method == "PATCH":
            return Call(concrete, {"name": f"Renamed {unique}"})
        if method == "DELETE":

            async def reactivate() -> None:
                async with database.sessions.begin() as session:
                    tenant = await session.get(Tenant, tenant_id)
                    tenant.is_active = True

            return Call(concrete, after=reactivate)
        return Call(concrete)
    if path == "/api/v1/users":
        if method == "POST":
            return Call(path, {"email": f"n{unique}@x.example", "role": RO})
        return Call(path)
    if path == "/api/v1/users/{user_id}":
        async with database.sessions.begin() as session:
            who = await add_identity(session, settings, tenant_id, RO, f"t{unique}@x.example")
        concrete = f"/api/v1/users/{who.user_id}"
        return Call(concrete, {"full_name": "Renamed"} if method == "PATCH" else None)
    if path == "/api/v1/api-keys":
        if method == "POST":
            return Call(path, {"name": f"key {unique}", "role": RO})
        return Call(path)
    if path == "/api/v1/api-keys/{key_id}":
        async with database.sessions.begin() as session:
            key = (await service.create_api_key(session, None, tenant_id, name="t", role=RO)).key
        return Call(f"/api/v1/api-keys/{key.id}")
    if path == "/api/v1/admin/db":
        return Call(path)
    if path.startswith("/api/v1/issuers"):
        return await issuer_call(method, path, database, tenant_id, unique)
    if path.startswith("/api/v1/ap2") or path.endswith("/dispute-check"):
        return await ap2_call(path, database, tenant_id, unique)
    if path.startswith("/api/v1/audit"):
        return Call(path)
    if path.startswith("/api/v1/mandates"):
        return await mandate_call(method, path, database, tenant_id)
    if path in ("/api/v1/alerts", "/api/v1/alert-types"):
        return Call(path)
    if path.startswith("/api/v1/alerts/"):
        async with database.sessions.begin() as session:
            alert = Alert(alert_type="backup_stale", dedupe_key=unique, title="t", severity="info")
            alert.tenant_id = tenant_id
            session.add(alert)
        return Call(path.replace("{alert_id}", str(alert.id)))
    if path == "/api/v1/event-types":
        return Call(path)
    if path.startswith(("/api/v1/webhooks", "/api/v1/webhook-deliveries")):
        return await webhook_call(method, path, database, tenant_id)
    raise AssertionError(f"no request builder for {key}")


async def issuer_call(method: str, path: str, database, tenant_id, unique: str) -> Call:
    issuer = MintingIssuer(did=f"did:web:{unique}.example")
    if path == "/api/v1/issuers":
        return Call(path, {"did": issuer.did, "jwks": issuer.jwks()} if method == "POST" else None)
    second = MintingIssuer(did=issuer.did, kid="k2")
    async with database.sessions.begin() as session:
        row = await IssuerService(session, tenant_id, SYSTEM, None).create(
            IssuerCreate(
                did=issuer.did, jwks={"keys": issuer.jwks()["keys"] + second.jwks()["keys"]}
            )
        )
    concrete = f"/api/v1/issuers/{row.id}"
    if path.endswith("/keys"):
        return Call(concrete + "/keys", {"jwk": MintingIssuer(kid="k3").jwks()["keys"][0]})
    if path.endswith("/{kid}"):
        return Call(concrete + "/keys/k2")
    return Call(concrete, {"name": "Renamed"} if method == "PATCH" else None)


async def ap2_call(path: str, database, tenant_id, unique: str) -> Call:
    """AP2 v0.2 calls: a fresh root issuer per call, chains minted on the real clock."""
    now_ts = int(time.time())
    root_key = party(f"k{unique}")
    did = f"did:web:{unique}.example"
    async with database.sessions.begin() as session:
        await IssuerService(session, tenant_id, SYSTEM, None).create(
            IssuerCreate(did=did, jwks={"keys": [root_key.public_jwk()]})
        )
    presented = checkout_chain(now_ts, issuer=root_key)
    if path in ("/api/v1/ap2/presentations", "/api/v1/ap2/rejections"):
        return Call(path, presented.body() if path.endswith("presentations") else None)
    async with database.sessions.begin() as session:
        ap2 = Ap2Service(session, tenant_id, SYSTEM, TrustLoader(None), database.settings)
        answer = (await ap2.present(PresentationRequest(**presented.body()))).answer
    assert answer.mandate_id is not None, answer
    if path.endswith("/{rejection_id}"):
        async with database.sessions.begin() as session:
            ap2 = Ap2Service(session, tenant_id, SYSTEM, TrustLoader(None), database.settings)
            replay = (await ap2.present(PresentationRequest(**presented.body()))).answer
        assert replay.rejection_id is not None, replay
        return Call(path.replace("{rejection_id}", str(replay.rejection_id)))
    if path == "/api/v1/ap2/receipts":
        receipt = receipt_jwt(
            root_key,
            root_key.kid or "",
            {
                "iss": did,
                "iat": now_ts,
                "reference": presented.reference,
                "status": "Success",
                "order_id": "o-1",
            },
        )
        return Call(path, {"receipt": receipt})
    if path.endswith("/dispute-check"):
        return Call(path.replace("{mandate_id}", str(answer.mandate_id)))
    concrete = path.replace("{open_mandate_hash}", presented.open_mandate_hash)
    return Call(concrete, {"reason": "matrix"} if path.endswith("/revoke") else None)


# A public address, so no DNS is needed to register it.
HOOK_URL = "https://93.184.216.34/hook"


async def webhook_call(method: str, path: str, database, tenant_id) -> Call:
    if path == "/api/v1/webhooks":
        return Call(path, {"url": HOOK_URL} if method == "POST" else None)
    async with database.sessions.begin() as session:
        webhooks = WebhookService(session, tenant_id, SYSTEM, database.settings, SYSTEM_CLOCK)
        row, _ = await webhooks.create(WebhookCreate(url=HOOK_URL))
        sent = await webhooks.send_test(row.id)
    if path.endswith("/resend"):
        return Call(f"/api/v1/webhook-deliveries/{sent.delivery_id}/resend")
    concrete = path.replace("{webhook_id}", str(row.id))
    if path.endswith("/recover"):
        return Call(concrete + "?since=2026-01-01T00:00:00Z")
    return Call(concrete, {"description": "renamed"} if method == "PATCH" else None)


async def mandate_call(method: str, path: str, database, tenant_id) -> Call:
    issuer = MintingIssuer()
    async with database.sessions.begin() as session:
        await issuer.register(session, tenant_id)
    if path == "/api/v1/mandates":
        return Call(path, {"vc_jwt": issuer.token()} if method == "POST" else None)
    if path == "/api/v1/mandates/batch":
        return Call(path, {"items": [{"vc_jwt": issuer.token()}]})
    async with database.sessions.begin() as session:
        mandates = MandateService(session, tenant_id, SYSTEM, TrustLoader(None), database.settings)
        mandate = (await mandates.ingest(MandateCreate(vc_jwt=issuer.token()))).mandate
        if path.endswith("/restore"):
            await mandates.delete(mandate.id)
    concrete = path.replace("{mandate_id}", str(mandate.id))
    bodies = {"PATCH": {"labels": {"team": "a"}}}
    if path.endswith("/revoke"):
        return Call(concrete, {"reason": "matrix"})
    return Call(concrete, bodies.get(method))


async def credentials(database, world: World, kind: str, role: str) -> dict[str, str]:
    identity = world.admin if role == ADMIN else world.a[role]
    if kind == "api_key":
        return identity.key()
    # A fresh session per request: logout and password changes end sessions.
    async with database.sessions.begin() as session:
        user = await session.get(User, identity.user_id)
        pair = await auth_service.issue_session(session, database.settings, user, None)
    return {"Authorization": f"Bearer {pair.access_token}"}


@pytest.mark.parametrize("kind", ["user", "api_key"])
async def test_access_matrix(client, database, world, kind):
    failures = []
    for key, (_permission, allowed, success) in EXPECTED.items():
        method, _ = key
        scopes = ["own"] if key in TENANTLESS else ["own", "other"]
        # Anonymous.
        call = await build_call(key, database, world, world.tenant_a, None)
        response = await client.request(method, call.path, json=call.json)
        want = success if allowed == PUBLIC else 401
        if response.status_code != want:
            failures.append((key, "anonymous", response.status_code, want, response.text[:200]))
        if call.after:
            await call.after()
        if allowed == PUBLIC:
            continue
        for role in sorted(EVERYONE):
            for scope in scopes:
                target = world.tenant_a if scope == "own" else world.tenant_b
                headers = await credentials(database, world, kind, role)
                if role == ADMIN or (scope == "other" and "{" not in key[1]):
                    headers["X-Tenant-ID"] = str(target)
                call = await build_call(key, database, world, target, None)
                response = await client.request(method, call.path, json=call.json, headers=headers)
                if call.after:
                    await call.after()
                if role not in allowed:
                    want, code = 403, "permission_denied"
                elif kind == "api_key" and key == ("POST", "/api/v1/auth/password"):
                    want, code = 403, "not_a_user"
                elif scope == "other" and role != ADMIN and key not in NOT_A_ROW_ID:
                    want, code = 404, None
                else:
                    want, code = success, None
                got_code = response.json().get("code") if response.status_code >= 400 else None
                if response.status_code != want or (code and got_code != code):
                    failures.append(
                        (key, role, scope, response.status_code, want, response.text[:200])
                    )
    assert not failures, "\n".join(map(str, failures))
