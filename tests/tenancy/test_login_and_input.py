"""Sign-in, lockout, enumeration, the password policy, and bad input answered
with problem+json and a stable code (never a 500)."""

from __future__ import annotations

import time
import uuid

import pytest

from app.tenancy.passwords import problems
from tests.world import PASSWORD

LOGIN = "/api/v1/auth/login"


async def test_login_returns_a_token_pair_that_works(client, world):
    who = world.a["customer_admin"]
    response = await client.post(LOGIN, json={"email": who.email.upper(), "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["expires_in"] == 15 * 60
    assert response.headers["cache-control"] == "no-store"
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["name"] == who.email
    assert "users:manage" in me.json()["permissions"]


async def test_unknown_email_and_wrong_password_look_the_same(client, world):
    known = await client.post(
        LOGIN, json={"email": world.a["readonly"].email, "password": "wrong-" + PASSWORD}
    )
    unknown = await client.post(
        LOGIN, json={"email": "nobody@nowhere.example", "password": PASSWORD}
    )
    assert known.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(known) == strip(unknown)
    # About the same time: both run one argon2 verification.
    timings = {"known": [], "unknown": []}
    for _ in range(3):
        for label, email in (("known", world.a["readonly"].email), ("unknown", "ghost@x.example")):
            started = time.perf_counter()
            await client.post(LOGIN, json={"email": email, "password": "nope-nope-nope"})
            timings[label].append(time.perf_counter() - started)
    fast, slow = sorted((min(timings["known"]), min(timings["unknown"])))
    assert slow / fast < 3


async def test_five_failures_lock_the_account(client, world):
    who = world.a["customer_user"]
    for _ in range(5):
        r = await client.post(LOGIN, json={"email": who.email, "password": "not-the-password-1"})
        assert r.json()["code"] == "invalid_credentials"
    # Locked: even the right password gets the same answer.
    locked = await client.post(LOGIN, json={"email": who.email, "password": PASSWORD})
    assert locked.status_code == 401
    assert locked.json()["code"] == "invalid_credentials"
    other = await client.post(
        LOGIN, json={"email": world.a["readonly"].email, "password": PASSWORD}
    )
    assert other.status_code == 200


async def test_login_throttle_per_ip(make_client, world):
    async with make_client(rate_limit_login_per_minute=3) as client:
        codes = [
            (
                await client.post(LOGIN, json={"email": "x@y.example", "password": "p" * 12})
            ).status_code
            for _ in range(5)
        ]
        assert codes[:3] == [401, 401, 401]
        assert codes[3:] == [429, 429]
        limited = await client.post(LOGIN, json={"email": "x@y.example", "password": "p" * 12})
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-1A!", "at least 12"),
        ("password1234", "too common"),
        ("Qwertyuiop!!", "too common"),
        ("aaaaaaaaaaaaaaaa", "too common"),
        ("newbie-Rocket-7781", "name part"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_password_policy(password, reason):
    found = problems(password, "newbie@acme.example")
    assert any(reason in p for p in found), found


def test_a_good_password_passes():
    assert problems("Velvet-Harbour-Lantern-42", "someone@acme.example") == []


async def test_bad_inputs_get_problem_json(client, world):
    boss = world.a["customer_admin"].bearer()
    cases = [
        (
            "POST",
            LOGIN,
            b"{not json",
            {"content-type": "application/json"},
            422,
            "invalid_json",
        ),
        ("POST", LOGIN, {"email": 5, "password": []}, {}, 422, "validation_error"),
        (
            "POST",
            LOGIN,
            {"email": "a@b.example", "password": "x" * 1025},
            {},
            422,
            "validation_error",
        ),
        (
            "POST",
            "/api/v1/users",
            {"email": "n@a.example", "role": "emperor"},
            boss,
            422,
            "validation_error",
        ),
        (
            "POST",
            "/api/v1/users",
            {"email": "n@a.example", "role": "admin"},
            boss,
            422,
            "validation_error",
        ),
        ("POST", "/api/v1/users", {"email": "not-an-email"}, boss, 422, "validation_error"),
        (
            "POST",
            "/api/v1/users",
            {"email": "n@a.example", "password": "password1234"},
            boss,
            422,
            "weak_password",
        ),
        (
            "POST",
            "/api/v1/users",
            {"email": "n@a.example", "tenant_id": str(world.tenant_b)},
            boss,
            422,
            "validation_error",
        ),
        ("POST", "/api/v1/users", {"email": world.b["readonly"].email}, boss, 409, "email_taken"),
        ("POST", "/api/v1/api-keys", {"name": "k", "role": "admin"}, boss, 422, "validation_error"),
        ("GET", "/api/v1/users/not-a-uuid", None, boss, 422, "validation_error"),
        ("GET", f"/api/v1/users/{uuid.uuid4()}", None, boss, 404, "user_not_found"),
        ("GET", "/api/v1/users?limit=100000", None, boss, 422, "validation_error"),
        ("GET", "/api/v1/users", None, {**boss, "X-Tenant-ID": "garbage"}, 404, "tenant_not_found"),
        (
            "PATCH",
            f"/api/v1/customers/{world.tenant_a}",
            {"is_active": False},
            boss,
            403,
            "admin_only_field",
        ),
        (
            "PATCH",
            f"/api/v1/customers/{world.tenant_a}",
            {"slug": "x"},
            boss,
            422,
            "validation_error",
        ),
        ("GET", "/api/v1/users", None, world.admin.bearer(), 400, "tenant_required"),
        (
            "GET",
            "/api/v1/users",
            None,
            {**world.admin.bearer(), "X-Tenant-ID": str(uuid.uuid4())},
            404,
            "tenant_not_found",
        ),
    ]
    for method, path, body, headers, status, code in cases:
        if isinstance(body, bytes):
            response = await client.request(method, path, content=body, headers=headers)
        else:
            response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (path, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, (path, body, response.text)


async def test_role_escalation_is_refused(client, world, database):
    from app.tenancy import service
    from app.tenancy.principal import Principal

    boss = world.a["customer_admin"]
    # Tenant admins give roles up to their own.
    ok = await client.post(
        "/api/v1/users",
        json={"email": "peer@a.example", "role": "customer_admin"},
        headers=boss.bearer(),
    )
    assert ok.status_code == 201
    assert ok.json()["invite_token"]
    # A customer_user holding a key cannot mint a stronger one (blocked at the permission).
    r = await client.post(
        "/api/v1/api-keys",
        json={"name": "x", "role": "customer_admin"},
        headers=world.a["customer_user"].key(),
    )
    assert r.json()["code"] == "permission_denied"
    # Below the HTTP layer the rank rule holds too.
    weak = Principal("user", uuid.uuid4(), world.tenant_a, "customer_user", "w@a.example")
    async with database.sessions() as session:
        with pytest.raises(Exception, match="cannot grant") as caught:
            await service.create_api_key(
                session, weak, world.tenant_a, name="x", role="customer_admin"
            )
        assert caught.value.code == "role_escalation"
    # Nobody changes their own role or deactivates themselves.
    me = await client.patch(
        f"/api/v1/users/{boss.user_id}", json={"role": "readonly"}, headers=boss.bearer()
    )
    assert me.status_code == 409
    assert me.json()["code"] == "cannot_modify_self"


async def test_other_tenant_ids_answer_exactly_like_missing_ones(client, world):
    boss = world.a["customer_admin"].bearer()
    for path in ("/api/v1/users/{}", "/api/v1/customers/{}"):
        foreign = world.b["readonly"].user_id if "users" in path else world.tenant_b
        a = await client.get(path.format(foreign), headers=boss)
        b = await client.get(path.format(uuid.uuid4()), headers=boss)
        assert a.status_code == b.status_code == 404
        assert {k: v for k, v in a.json().items() if k not in ("instance", "request_id")} == {
            k: v for k, v in b.json().items() if k not in ("instance", "request_id")
        }
    foreign_key = await client.delete(
        f"/api/v1/api-keys/{world.b['readonly'].key_id}", headers=boss
    )
    assert foreign_key.status_code == 404
    assert (
        await client.get("/api/v1/auth/me", headers=world.b["readonly"].key())
    ).status_code == 200


async def test_invite_then_accept(client, world):
    boss = world.a["customer_admin"].bearer()
    invited = await client.post(
        "/api/v1/users", json={"email": "newbie@a.example", "role": "readonly"}, headers=boss
    )
    token = invited.json()["invite_token"]
    cannot = await client.post(
        LOGIN, json={"email": "newbie@a.example", "password": "anything-at-all"}
    )
    assert cannot.status_code == 401
    weak = await client.post(
        "/api/v1/auth/accept-invite", json={"token": token, "password": "newbie-is-here-1"}
    )
    assert weak.json()["code"] == "weak_password"
    accepted = await client.post(
        "/api/v1/auth/accept-invite", json={"token": token, "password": "Copper-Lantern-Field-9"}
    )
    assert accepted.status_code == 200
    again = await client.post(
        "/api/v1/auth/accept-invite", json={"token": token, "password": "Copper-Lantern-Field-10"}
    )
    assert again.json()["code"] == "invalid_invite"
    login = await client.post(
        LOGIN, json={"email": "newbie@a.example", "password": "Copper-Lantern-Field-9"}
    )
    assert login.status_code == 200
