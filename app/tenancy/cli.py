"""Operator commands: `tenants`, `users`, `api-keys`. They work before any user
exists and call the same services as the API. Imports stay inside commands."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

tenants_app = typer.Typer(help="Tenants (customers).", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
api_keys_app = typer.Typer(help="API keys for machines.", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _run(job):
    """Run `job(session)` in one transaction against the configured database."""
    import asyncio

    from app.cli import settings_or_exit
    from app.core.database import Database
    from app.core.errors import AppError

    settings = settings_or_exit()

    async def main():
        database = Database(settings)
        try:
            async with database.sessions.begin() as session:
                return await job(session, settings)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except AppError as error:
        _fail(error.detail)


def _uuid(value: str | None, what: str):
    import uuid

    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        _fail(f"{what} is not a UUID: {value}")


@tenants_app.command("create")
def tenants_create(
    name: Annotated[str, typer.Argument(help="Display name.")],
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
    slug: Annotated[str | None, typer.Option(help="URL-safe id (derived from NAME).")] = None,
) -> None:
    """Create a tenant; prints its id."""
    from app.tenancy import service

    async def job(session, _settings):
        return await service.create_tenant(session, name, slug=slug, email=email)

    tenant = _run(job)
    typer.echo(str(tenant.id))


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants: id, slug, active, name."""
    from app.tenancy import service

    async def job(session, _settings):
        return await service.list_tenants(session, limit=10_000, offset=0)

    for tenant in _run(job):
        typer.echo(
            f"{tenant.id}  {tenant.slug}  {'active' if tenant.is_active else 'inactive'}  {tenant.name}"
        )


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

    tenant_id = _uuid(tenant, "--tenant")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        _fail("no terminal to ask for a password: pass it with --password-stdin")
    if not password:
        _fail("empty password")

    async def job(session, _settings):
        if tenant_id is not None:
            await _require_tenant(session, tenant_id)
        return await service.create_user_record(
            session,
            tenant_id=tenant_id,
            email=email,
            role="customer_admin" if tenant_id else "admin",
            password=password,
            full_name=full_name,
        )

    user = _run(job)
    typer.echo(str(user.id))


async def _require_tenant(session, tenant_id) -> None:
    from app.core.errors import NotFound
    from app.tenancy.repository import CustomerRepository

    if await CustomerRepository(session).get(tenant_id) is None:
        raise NotFound(f"no tenant {tenant_id}")


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
        _fail(f"unknown role '{role}' (admin, customer_admin, customer_user, readonly)")
    tenant_id = _uuid(tenant, "--tenant")

    async def job(session, _settings):
        if tenant_id is not None:
            await _require_tenant(session, tenant_id)
        return await service.create_api_key(
            session, None, tenant_id, name=name, role=role, expires_in_days=expires_in_days
        )

    key, secret = _run(job)
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
                    "key": secret,
                }
            )
        )
        return
    typer.echo(f"id: {key.id}")
    typer.echo(f"tenant: {key.tenant_id or '(platform)'}  role: {key.role}  name: {key.name}")
    typer.echo(secret)


@api_keys_app.command("revoke")
def api_keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id.")]) -> None:
    """Revoke a key (takes effect within AUTH_CACHE_TTL_SECONDS everywhere)."""
    from app.models import ApiKey
    from app.models.base import utcnow

    parsed = _uuid(key_id, "KEY_ID")

    async def job(session, _settings):
        key = await session.get(ApiKey, parsed)
        if key is None:
            from app.core.errors import NotFound

            raise NotFound(f"no API key {key_id}")
        key.revoked_at = key.revoked_at or utcnow()

    _run(job)
    typer.echo(f"revoked {key_id}")
