"""The operator commands, run as a script would run them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import run_cli
from tests.world import PASSWORD


def cli(env, *args, stdin: str | None = None, ok: bool = True):
    result = run_cli(*args, env=env, stdin=stdin)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


async def acli(env, *args, stdin: str | None = None, ok: bool = True):
    """`cli` from an async test: in a thread, so the app's background jobs (the
    audit sealer holds SQLite's write lock for a moment) keep running meanwhile."""
    return await asyncio.to_thread(cli, env, *args, stdin=stdin, ok=ok)


async def test_bootstrap_from_nothing_then_use_the_credentials(cli_env, client):
    tenant_id = await acli(
        cli_env, "tenants", "create", "Acme Payments", "--email", "ops@acme.example"
    )
    tenant_id = uuid.UUID(tenant_id.stdout.strip())

    admin = await acli(
        cli_env,
        "users",
        "create-admin",
        "--email",
        "Root@Platform.example",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    uuid.UUID(admin.stdout.strip())
    tenant_admin = await acli(
        cli_env,
        "users",
        "create-admin",
        "--email",
        "boss@acme.example",
        "--tenant",
        str(tenant_id),
        "--password-stdin",
        stdin=PASSWORD,
    )
    uuid.UUID(tenant_admin.stdout.strip())

    plain = await acli(
        cli_env,
        "api-keys",
        "create",
        "--tenant",
        str(tenant_id),
        "--role",
        "readonly",
        "--name",
        "ci",
    )
    secret = plain.stdout.strip().splitlines()[-1]
    assert secret.startswith("mvk_")
    as_json = await acli(
        cli_env,
        "api-keys",
        "create",
        "--tenant",
        str(tenant_id),
        "--role",
        "customer_admin",
        "--name",
        "ops",
        "--json",
    )
    created = json.loads(as_json.stdout)
    assert created["role"] == "customer_admin"
    assert created["tenant_id"] == str(tenant_id)

    me = await client.get("/api/v1/auth/me", headers={"X-API-Key": secret})
    assert me.status_code == 200
    assert me.json()["tenant_id"] == str(tenant_id)
    assert me.json()["role"] == "readonly"
    listed = await client.get(
        "/api/v1/api-keys", headers={"Authorization": f"Bearer {created['key']}"}
    )
    assert {k["name"] for k in listed.json()} == {"ci", "ops"}
    assert all("key" not in k and "key_hash" not in k for k in listed.json())

    login = await client.post(
        "/api/v1/auth/login", json={"email": "root@platform.example", "password": PASSWORD}
    )
    assert login.status_code == 200
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["role"] == "admin"
    assert me.json()["tenant_id"] is None


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_cli_refusals_are_one_clear_line(cli_env):
    weak = cli(
        cli_env,
        "users",
        "create-admin",
        "--email",
        "a@b.example",
        "--password-stdin",
        stdin="password1234\n",
        ok=False,
    )
    assert weak.returncode == 2
    assert "too common" in weak.stderr
    unknown = cli(
        cli_env,
        "api-keys",
        "create",
        "--tenant",
        str(uuid.uuid4()),
        "--role",
        "readonly",
        "--name",
        "x",
        ok=False,
    )
    assert unknown.returncode == 2
    assert "no tenant" in unknown.stderr
    bad_role = cli(cli_env, "api-keys", "create", "--role", "god", "--name", "x", ok=False)
    assert bad_role.returncode == 2
    assert "unknown role" in bad_role.stderr
    no_tenant = cli(cli_env, "api-keys", "create", "--role", "readonly", "--name", "x", ok=False)
    assert no_tenant.returncode == 2
    assert "Platform keys" in no_tenant.stderr
    assert "Traceback" not in no_tenant.stderr + bad_role.stderr + unknown.stderr + weak.stderr


def test_help_lists_the_identity_commands(cli_env):
    out = cli(cli_env, "--help").stdout
    for name in ("tenants", "users", "api-keys"):
        assert name in out


async def test_reset_password_signs_in_ends_sessions_and_lifts_a_lockout(
    cli_env, client, world, database
):
    from sqlalchemy import update

    from app.models import User

    user = world.a["customer_user"]
    async with database.sessions.begin() as session:  # locked out after failures
        await session.execute(
            update(User)
            .where(User.id == user.user_id)
            .values(failed_login_count=9, locked_until=datetime.now(UTC) + timedelta(hours=1))
        )
    before = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert before.status_code == 401

    result = await acli(cli_env, "users", "reset-password", "--email", user.email.upper())
    assert result.stdout.splitlines()[0] == f"new password of {user.email}:"
    generated = result.stdout.splitlines()[-1]
    assert len(generated) == 24
    signed_in = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": generated}
    )
    assert signed_in.status_code == 200, signed_in.text
    old_session = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}
    )
    assert old_session.status_code == 401
    assert old_session.json()["code"] == "refresh_token_revoked"

    chosen = "Quiet-Meadow-Compass-77"
    piped = await acli(
        cli_env,
        "users",
        "reset-password",
        "--email",
        user.email,
        "--password-stdin",
        stdin=chosen + "\n",
    )
    assert piped.stdout.strip() == f"password of {user.email} changed"
    assert chosen not in piped.stdout + piped.stderr
    again = await client.post("/api/v1/auth/login", json={"email": user.email, "password": chosen})
    assert again.status_code == 200


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_reset_password_refusals(cli_env, world):
    unknown = cli(cli_env, "users", "reset-password", "--email", "nobody@x.example", ok=False)
    assert (unknown.returncode, unknown.stderr) == (
        2,
        "error: no user with the email nobody@x.example\n",
    )
    weak = cli(
        cli_env,
        "users",
        "reset-password",
        "--email",
        world.a["readonly"].email,
        "--password-stdin",
        stdin="password1234\n",
        ok=False,
    )
    assert weak.returncode == 2
    assert "too common" in weak.stderr
