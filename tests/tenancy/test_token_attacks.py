"""Forged, stale and revoked credentials: each refused with 401/403 and a stable code."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.tenancy import tokens
from tests.conftest import TEST_SECRET
from tests.world import PASSWORD


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def assert_refused(client, headers, status, code):
    response = await client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_access_token(client, world):
    good = claims_of(world.a["readonly"].access_token)
    past = int(time.time()) - 3600
    expired = jwt.encode({**good, "iat": past - 900, "exp": past}, TEST_SECRET, algorithm="HS256")
    await assert_refused(client, {"Authorization": f"Bearer {expired}"}, 401, "token_expired")


async def test_wrong_signature_and_other_secret(client, world):
    token = world.a["readonly"].access_token
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    await assert_refused(
        client, {"Authorization": f"Bearer {head}.{body}.{flipped}"}, 401, "invalid_token"
    )
    forged = jwt.encode(claims_of(token), "another-secret-" + "y" * 40, algorithm="HS256")
    await assert_refused(client, {"Authorization": f"Bearer {forged}"}, 401, "invalid_token")


async def test_alg_none_and_other_algorithms(client, world):
    claims = claims_of(world.a["customer_admin"].access_token)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    await assert_refused(client, {"Authorization": f"Bearer {unsigned}"}, 401, "invalid_token")
    for alg in ("HS384", "HS512"):
        other = jwt.encode(claims, TEST_SECRET + "x" * 40, algorithm=alg)
        await assert_refused(client, {"Authorization": f"Bearer {other}"}, 401, "invalid_token")


async def test_truncated_and_garbled_tokens(client, world):
    token = world.a["readonly"].access_token
    for bad in (token[: len(token) // 2], token[:-1], "not-a-jwt", "a.b.c", "%%%%", "x" * 5000):
        await assert_refused(client, {"Authorization": f"Bearer {bad}"}, 401, "invalid_token")
    await assert_refused(
        client, {"Authorization": b"Bearer " + "é".encode() * 20}, 401, "invalid_token"
    )
    await assert_refused(
        client, {"Authorization": "Basic dXNlcjpwYXNz"}, 401, "invalid_authorization"
    )
    await assert_refused(client, {"Authorization": "Bearer"}, 401, "invalid_authorization")
    await assert_refused(client, {}, 401, "not_authenticated")
    await assert_refused(client, {"X-API-Key": "mvk_" + "A" * 43}, 401, "invalid_api_key")


async def test_token_with_a_valid_signature_but_wrong_shape(client, world):
    claims = claims_of(world.a["readonly"].access_token)
    for changed in (
        {**claims, "typ": "invite"},
        {**claims, "sub": "not-a-uuid"},
        {**claims, "sub": str(uuid.uuid4())},
        {**claims, "iss": "someone-else"},
        {k: v for k, v in claims.items() if k != "sid"},
    ):
        token = jwt.encode(changed, TEST_SECRET, algorithm="HS256")
        await assert_refused(client, {"Authorization": f"Bearer {token}"}, 401, "invalid_token")


async def test_refresh_rotation_and_reuse_ends_the_session(client, world):
    who = world.a["customer_user"]
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != who.refresh_token
    assert rotated["token_type"] == "bearer"

    reused = await client.post("/api/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert reused.status_code == 401
    assert reused.json()["code"] == "refresh_token_reused"
    # The whole session is gone: the rotated refresh token and its access token too.
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert after.status_code == 401
    assert after.json()["code"] == "refresh_token_revoked"
    await assert_refused(
        client, {"Authorization": f"Bearer {rotated['access_token']}"}, 401, "session_revoked"
    )
    garbage = await client.post("/api/v1/auth/refresh", json={"refresh_token": "mvr_nope"})
    assert garbage.json()["code"] == "invalid_refresh_token"


async def test_logout_ends_access_and_refresh(client, world):
    who = world.a["readonly"]
    assert (await client.get("/api/v1/auth/me", headers=who.bearer())).status_code == 200
    out = await client.post("/api/v1/auth/logout", headers=who.bearer())
    assert out.status_code == 204
    await assert_refused(client, who.bearer(), 401, "session_revoked")
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert again.status_code == 401


async def test_api_key_after_revocation(client, world):
    admin, victim = world.a["customer_admin"], world.a["customer_user"]
    assert (await client.get("/api/v1/auth/me", headers=victim.key())).status_code == 200
    revoked = await client.delete(f"/api/v1/api-keys/{victim.key_id}", headers=admin.bearer())
    assert revoked.status_code == 204
    # Immediately, in this process, although the key was cached a moment ago.
    await assert_refused(client, victim.key(), 401, "api_key_revoked")
    await assert_refused(
        client, {"Authorization": f"Bearer {victim.api_key}"}, 401, "api_key_revoked"
    )


async def test_expired_api_key(client, database, world):
    from app.tenancy import service

    async with database.sessions.begin() as session:
        created = await service.create_api_key(
            session, None, world.tenant_a, name="short", role="readonly", expires_in_days=1
        )
        created.key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    await assert_refused(client, {"X-API-Key": created.secret}, 401, "api_key_expired")


async def test_deactivated_tenant_is_refused_then_readmitted(client, world):
    root = world.admin
    member = world.b["customer_admin"]
    assert (await client.get("/api/v1/users", headers=member.key())).status_code == 200
    off = await client.delete(f"/api/v1/customers/{world.tenant_b}", headers=root.bearer())
    assert off.status_code == 200
    assert off.json()["is_active"] is False
    await assert_refused(client, member.key(), 403, "tenant_inactive")
    await assert_refused(client, member.bearer(), 403, "tenant_inactive")
    login = await client.post(
        "/api/v1/auth/login", json={"email": member.email, "password": PASSWORD}
    )
    assert login.status_code == 403
    assert login.json()["code"] == "tenant_inactive"
    # Data intact: the platform admin still sees the tenant's users.
    users = await client.get(
        "/api/v1/users", headers={**root.key(), "X-Tenant-ID": str(world.tenant_b)}
    )
    assert len(users.json()) == 3
    on = await client.patch(
        f"/api/v1/customers/{world.tenant_b}", json={"is_active": True}, headers=root.bearer()
    )
    assert on.json()["is_active"] is True
    assert (await client.get("/api/v1/users", headers=member.key())).status_code == 200
    # Tenant A never noticed.
    assert (
        await client.get("/api/v1/users", headers=world.a["customer_admin"].key())
    ).status_code == 200


async def test_deactivated_and_deleted_users(client, world):
    boss, worker = world.a["customer_admin"], world.a["customer_user"]
    off = await client.patch(
        f"/api/v1/users/{worker.user_id}", json={"is_active": False}, headers=boss.bearer()
    )
    assert off.status_code == 200
    await assert_refused(client, worker.bearer(), 401, "session_revoked")
    login = await client.post(
        "/api/v1/auth/login", json={"email": worker.email, "password": PASSWORD}
    )
    assert login.status_code == 403
    assert login.json()["code"] == "account_disabled"
    gone = await client.delete(
        f"/api/v1/users/{world.a['readonly'].user_id}", headers=boss.bearer()
    )
    assert gone.status_code == 204
    missing = await client.get(
        f"/api/v1/users/{world.a['readonly'].user_id}", headers=boss.bearer()
    )
    assert missing.status_code == 404


def test_decode_pins_the_algorithm():
    token = tokens.create_access_token(
        TEST_SECRET, uuid.uuid4(), uuid.uuid4(), timedelta(minutes=1)
    )
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    with pytest.raises(tokens.TokenError):
        tokens.decode_access_token("other-" + TEST_SECRET, token)
