"""Operator commands: `tenants`, `users`, `api-keys`. They work before any user
exists and call the same services as the API. Imports stay inside commands."""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from app.core.cli import fail, in_transaction, new_app, parse_uuid, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.core.config import Settings
    from app.models import ApiKey, Tenant, User
    from app.tenancy.service import NewApiKey

tenants_app = new_app("Tenants (the `customers` table).")
users_app = new_app("Users.")
api_keys_app = new_app("API keys for machines.")


def _optional_uuid(value: str | None, what: str) -> uuid.UUID | None:
    return None if value is None else parse_uuid(value, what)


@tenants_app.command("create")
def tenants_create(
    name: Annotated[str, typer.Argument(help="Display name.")],
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
    slug: Annotated[str | None, typer.Option(help="URL-safe id (derived from NAME).")] = None,
) -> None:
    """Create a tenant; prints its id."""
    from app.tenancy import service

    async def job(session: AsyncSession, _settings: Settings) -> Tenant:
        return await service.create_tenant(session, name, slug=slug, email=email)

    typer.echo(str(in_transaction(job).id))


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants: id, slug, active, name."""
    from app.tenancy import service

    async def job(session: AsyncSession, _settings: Settings) -> list[Tenant]:
        return await service.list_tenants(session, limit=10_000, offset=0)

    for tenant in in_transaction(job):
        state = "active" if tenant.is_active else "inactive"
        typer.echo(f"{tenant.id}  {tenant.slug}  {state}  {tenant.name}")


@users_app.command("create-admin")
def users_create_admin(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    tenant: Annotated[
        str | None, typer.Option(help="Tenant id: a customer_admin of it (else a platform admin).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    full_name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create an admin: platform admin without --tenant, customer_admin with it. Prints the id."""
    from app.tenancy import service
    from app.tenancy.permissions import Role

    tenant_id = _optional_uuid(tenant, "--tenant")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        fail("no terminal to ask for a password: pass it with --password-stdin")
    if not password:
        fail("empty password")

    async def job(session: AsyncSession, _settings: Settings) -> User:
        if tenant_id is not None:
            await service.require_tenant(session, tenant_id)
        return await service.create_user_record(
            session,
            tenant_id=tenant_id,
            email=email,
            role=Role.CUSTOMER_ADMIN if tenant_id else Role.ADMIN,
            password=password,
            full_name=full_name,
        )

    typer.echo(str(in_transaction(job).id))


@users_app.command("reset-password")
def users_reset_password(
    email: Annotated[str, typer.Option(help="The user's sign-in email.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from stdin.")
    ] = False,
) -> None:
    """Set a new password (generated and printed unless --password-stdin); lifts a
    lockout and ends the user's sessions."""
    from app.core.security import new_secret
    from app.tenancy import service

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("empty password")
    else:
        password = new_secret(18)

    async def job(session: AsyncSession, _settings: Settings) -> User:
        return await service.reset_password(session, email, password)

    user = in_transaction(job)
    _announce_change()
    state = "" if user.is_active else " (the user is deactivated: sign-in stays refused)"
    if password_stdin:
        typer.echo(f"password of {user.email} changed{state}")
    else:
        typer.echo(f"new password of {user.email}{state}:")
        typer.echo(password)


@api_keys_app.command("create")
def api_keys_create(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    role: Annotated[
        str, typer.Option(help="admin (no --tenant), customer_admin, customer_user or readonly.")
    ],
    tenant: Annotated[
        str | None, typer.Option(help="Tenant id (omit only for role admin).")
    ] = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an API key. The secret is printed once, alone on the last line."""
    from app.tenancy import service
    from app.tenancy.permissions import Role

    if role not in {r.value for r in Role}:
        fail(f"unknown role '{role}' (admin, customer_admin, customer_user, readonly)")
    tenant_id = _optional_uuid(tenant, "--tenant")

    async def job(session: AsyncSession, _settings: Settings) -> NewApiKey:
        if tenant_id is not None:
            await service.require_tenant(session, tenant_id)
        return await service.create_api_key(
            session, None, tenant_id, name=name, role=role, expires_in_days=expires_in_days
        )

    created = in_transaction(job)
    key = created.key
    if as_json:
        import json

        typer.echo(
            json.dumps(
                {
                    "id": str(key.id),
                    "tenant_id": str(key.tenant_id) if key.tenant_id else None,
                    "name": key.name,
                    "role": key.role,
                    "expires_at": key.expires_at.isoformat() if key.expires_at else None,
                    "key": created.secret,
                }
            )
        )
        return
    typer.echo(f"id: {key.id}")
    typer.echo(f"tenant: {key.tenant_id or '(platform)'}  role: {key.role}  name: {key.name}")
    typer.echo(created.secret)


@api_keys_app.command("revoke")
def api_keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id.")]) -> None:
    """Revoke a key (servers stop accepting it at once with REDIS_URL set, else
    within AUTH_CACHE_TTL_SECONDS)."""
    from app.tenancy import service
    from app.tenancy.repository import CredentialLookup

    parsed = parse_uuid(key_id, "KEY_ID")

    async def job(session: AsyncSession, _settings: Settings) -> ApiKey:
        found = await CredentialLookup(session).api_key_by_id(parsed)
        tenant_id = found.tenant_id if found is not None else None
        return await service.revoke_api_key(session, None, tenant_id, parsed, None)

    in_transaction(job)
    _announce_change()
    typer.echo(f"revoked {key_id}")


def _announce_change() -> None:
    """Tell the running servers (through Redis, when configured) that a committed
    change ended sessions or keys; without it they see it within the cache TTL."""
    from app.core.cli import run_async
    from app.tenancy.invalidation import announce

    if not run_async(announce):
        settings = settings_or_exit()
        if settings.redis_url:
            typer.echo(
                "note: Redis did not answer; running servers see the change within "
                f"AUTH_CACHE_TTL_SECONDS ({settings.auth_cache_ttl_seconds:g} s)",
                err=True,
            )
