"""Identity and settings changes are audited in their transaction: actor, role, request
id, client IP and what changed, never a password, a raw key or a token (both engines)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.models import AuditLog
from tests.conftest import app_client, make_settings
from tests.world import PASSWORD, build_world


@pytest.fixture
async def api(database_url):
    settings = make_settings(
        database_url,
        rate_limit_login_per_minute=10_000,
        rate_limit_ip_per_minute=10_000,
        login_max_failures=2,
    )
    async for client in app_client(settings):
        yield client, settings


async def rows(database, tenant_id=None):
    async with database.sessions() as session:
        query = select(AuditLog).order_by(AuditLog.id)
        if tenant_id is not None:
            query = query.where(AuditLog.tenant_id == tenant_id)
        return list((await session.scalars(query)).all())


async def test_identity_changes_are_audited_without_secrets(api, database):
    client, settings = api
    world = await build_world(database, settings)
    admin = world.a["customer_admin"]
    headers = {**admin.key(), "X-Request-ID": "req-audit-1"}
    secrets = [PASSWORD, admin.api_key]

    invited = await client.post(
        "/api/v1/users", json={"email": "new@a.example", "role": "readonly"}, headers=headers
    )
    assert invited.status_code == 201, invited.text
    user_id = invited.json()["id"]
    secrets.append(invited.json()["invite_token"])
    assert (
        await client.patch(
            f"/api/v1/users/{user_id}", json={"role": "customer_user"}, headers=headers
        )
    ).status_code == 200
    assert (
        await client.patch(f"/api/v1/users/{user_id}", json={"is_active": False}, headers=headers)
    ).status_code == 200
    assert (await client.delete(f"/api/v1/users/{user_id}", headers=headers)).status_code == 204
    key = await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=headers)
    assert key.status_code == 201, key.text
    secrets.append(key.json()["key"])
    revoked = await client.delete(f"/api/v1/api-keys/{key.json()['id']}", headers=headers)
    assert revoked.status_code in (200, 204), revoked.text
    patched = await client.patch(
        f"/api/v1/customers/{world.tenant_a}",
        json={"settings": {"webhook_mode": "strict"}},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text

    reader = world.a["readonly"]
    login = {"email": reader.email, "password": PASSWORD}
    assert (await client.post("/api/v1/auth/login", json=login)).status_code == 200
    wrong = {"email": reader.email, "password": "Wrong-Password-Guess-99"}
    secrets.append(wrong["password"])
    for _ in range(2):
        assert (await client.post("/api/v1/auth/login", json=wrong)).status_code == 401

    found = await rows(database, world.tenant_a)
    actions = [row.action for row in found]
    for action in (
        "user.invited",
        "user.role_changed",
        "user.deactivated",
        "user.deleted",
        "api_key.created",
        "api_key.revoked",
        "tenant.updated",
        "user.logged_in",
        "user.login_failed",
        "user.locked_out",
    ):
        assert action in actions, (action, actions)
    role_change = next(r for r in found if r.action == "user.role_changed")
    assert role_change.details == {"from": "readonly", "to": "customer_user"}
    assert role_change.actor_type == "api_key"
    assert role_change.actor_id == f"api_key:{admin.key_id}"
    assert role_change.actor_role == "customer_admin"
    assert role_change.request_id == "req-audit-1"
    assert role_change.ip_address
    settings_change = next(r for r in found if r.action == "tenant.updated")
    assert settings_change.details["settings_keys"] == ["webhook_mode"]
    assert "strict" not in json.dumps(settings_change.details)
    dump = json.dumps([[r.action, r.details, r.outcome, r.resource_id] for r in found])
    for secret in secrets:
        assert secret not in dump


async def test_a_password_change_is_audited(api, database):
    client, settings = api
    world = await build_world(database, settings)
    user = world.a["customer_user"]
    new = "Quiet-Orchard-Meadow-77"
    answer = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": new},
        headers=user.bearer(),
    )
    assert answer.status_code in (200, 204), answer.text
    found = await rows(database, world.tenant_a)
    changed = [r for r in found if r.action == "user.password_changed"]
    assert [r.resource_id for r in changed] == [str(user.user_id)]
    assert new not in json.dumps([r.details for r in found])
