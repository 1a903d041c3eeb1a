"""Use cases for tenants, users and API keys. No FastAPI here: errors are
`app.core.errors` types; changes are flushed, the caller's transaction commits.

`cache` is the process's `AuthCache`; anything that changes who may do what
clears it with the change's session, so the change holds at once in this
process and reaches the others when it commits (`app.tenancy.invalidation`).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.actor import Actor
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.models import ApiKey, Tenant, User
from app.models.base import utcnow
from app.tenancy import tokens
from app.tenancy.cache import AuthCache
from app.tenancy.errors import TenantNotFound
from app.tenancy.passwords import check_password, hash_password
from app.tenancy.permissions import TENANT_ROLES, Role, may_grant
from app.tenancy.principal import Principal
from app.tenancy.repository import (
    ApiKeyRepository,
    CredentialLookup,
    TenantRepository,
    UserRepository,
)

INVITED = "!invited"  # a password hash no password matches


@dataclass(frozen=True, slots=True)
class NewUser:
    user: User
    invite_token: str | None  # set when the user was invited instead of given a password


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: ApiKey
    secret: str  # shown once: only its hash is stored


def _clear(cache: AuthCache | None, session: AsyncSession) -> None:
    if cache is not None:
        cache.clear(session)


# Tenants


CLI_ACTOR = Actor.system("cli")


def _actor(actor: Principal | None) -> Actor:
    """Who acted: the caller, or the operator at the CLI."""
    return actor.actor if actor is not None else CLI_ACTOR


async def _audit(
    session: AsyncSession,
    actor: Principal | Actor | None,
    tenant_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | str,
    **details: Any,
) -> None:
    """One audit row in the transaction of the change (never a secret or a password)."""
    who = actor if isinstance(actor, Actor) else _actor(actor)
    await record(
        session,
        tenant_id=tenant_id,
        actor=who,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details=details,
    )


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:90]
    return slug or "tenant"


async def create_tenant(
    session: AsyncSession,
    name: str,
    *,
    slug: str | None = None,
    email: str | None = None,
    settings: dict[str, Any] | None = None,
    actor: Principal | Actor | None = None,
) -> Tenant:
    repo = TenantRepository(session)
    if slug is not None:
        if await repo.slug_taken(slug):
            raise Conflict(f"A tenant with slug '{slug}' exists.", code="slug_taken")
    else:
        base = slugify(name)
        slug = base
        while await repo.slug_taken(slug):
            slug = f"{base}-{secrets.token_hex(3)}"
    tenant = await repo.add(Tenant(name=name, slug=slug, email=email, settings=settings or {}))
    await _audit(session, actor, tenant.id, "tenant.created", "tenant", tenant.id, slug=slug)
    return tenant


async def list_tenants(
    session: AsyncSession, *, limit: int, offset: int, active: bool | None = None
) -> list[Tenant]:
    return await TenantRepository(session).list(limit=limit, offset=offset, active=active)


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return await TenantRepository(session).by_slug(slug)


async def require_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    """The tenant an operator named (the CLI), or NotFound."""
    tenant = await TenantRepository(session).get(tenant_id)
    if tenant is None:
        raise TenantNotFound(f"no tenant with id {tenant_id}")
    return tenant


async def get_tenant(session: AsyncSession, actor: Principal, tenant_id: uuid.UUID) -> Tenant:
    """The tenant, if the actor may see it; another tenant is 'not found'."""
    if not actor.is_platform_admin and actor.tenant_id != tenant_id:
        raise TenantNotFound()
    tenant = await TenantRepository(session).get(tenant_id)
    if tenant is None:
        raise TenantNotFound()
    return tenant


async def update_tenant(
    session: AsyncSession,
    actor: Principal,
    tenant_id: uuid.UUID,
    changes: dict[str, Any],
    cache: AuthCache | None,
) -> Tenant:
    tenant = await get_tenant(session, actor, tenant_id)
    if "is_active" in changes and not actor.is_platform_admin:
        raise Forbidden(
            "Only a platform admin activates or deactivates a tenant.", code="admin_only_field"
        )
    changed: list[str] = []
    before_active = tenant.is_active
    settings_keys: set[str] = set()
    if "settings" in changes:
        old, new = dict(tenant.settings or {}), dict(changes["settings"] or {})
        settings_keys = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    for field in ("name", "email", "settings"):
        if field in changes:
            changed.append(field)
            if field == "name" and changes[field] is None:
                raise Unprocessable("name cannot be empty.", code="invalid_field")
            setattr(tenant, field, changes[field] if field != "settings" else changes[field] or {})
    if "is_active" in changes and changes["is_active"] is not None:
        if tenant.is_active != changes["is_active"]:
            _clear(cache, session)
        tenant.is_active = changes["is_active"]
    await session.flush()
    details: dict[str, Any] = {"changed": sorted(changed)}
    if settings_keys:
        details["settings_keys"] = sorted(settings_keys)  # which settings, not their values
    if tenant.is_active != before_active:
        action = "tenant.activated" if tenant.is_active else "tenant.deactivated"
        await _audit(session, actor, tenant.id, action, "tenant", tenant.id)
    if changed:
        await _audit(session, actor, tenant.id, "tenant.updated", "tenant", tenant.id, **details)
    return tenant


async def deactivate_tenant(
    session: AsyncSession, actor: Principal, tenant_id: uuid.UUID, cache: AuthCache | None
) -> Tenant:
    return await update_tenant(session, actor, tenant_id, {"is_active": False}, cache)


# Users


def _check_grant(actor: Principal | None, role: str) -> None:
    """`None` is an operator at the CLI, who may grant anything."""
    if actor is not None and not may_grant(actor.role, role):
        raise Forbidden(
            f"A {actor.role} cannot grant the role {role}.",
            code="role_escalation",
        )


async def create_user_record(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    email: str,
    role: str,
    password: str | None,
    full_name: str | None = None,
    actor: Principal | None = None,
) -> User:
    """Create a user (platform admin when tenant_id is None). Policy-checked."""
    email = email.strip().lower()
    if (role == Role.ADMIN) != (tenant_id is None):
        raise Unprocessable(
            "Platform admins have no tenant; tenant users need one.", code="invalid_role"
        )
    if await CredentialLookup(session).email_taken(email):
        raise Conflict("A user with this email exists.", code="email_taken")
    if password is not None:
        check_password(password, email)
        password_hash = hash_password(password)
    else:
        password_hash = INVITED
    user = User(email=email, role=role, full_name=full_name, password_hash=password_hash)
    if tenant_id is None:
        session.add(user)
        await session.flush()
    else:
        user = await UserRepository(session, tenant_id).add(user)
    action = "user.invited" if password_hash == INVITED else "user.created"
    await _audit(session, actor, tenant_id, action, "user", user.id, email=email, role=role)
    return user


async def create_user(
    session: AsyncSession,
    settings: Settings,
    actor: Principal,
    tenant_id: uuid.UUID,
    data: dict[str, Any],
) -> NewUser:
    """A tenant user, with a password or invited (then with a one-time invite token)."""
    _check_grant(actor, data["role"])
    user = await create_user_record(
        session,
        tenant_id=tenant_id,
        email=data["email"],
        role=data["role"],
        password=data.get("password"),
        full_name=data.get("full_name"),
        actor=actor,
    )
    invite = _invite_token(settings, user) if user.password_hash == INVITED else None
    return NewUser(user, invite)


def _invite_token(settings: Settings, user: User) -> str:
    return tokens.create_invite_token(
        settings.secret_key.get_secret_value(),
        user.id,
        user.password_hash,
        timedelta(hours=settings.invite_ttl_hours),
    )


async def invite_again(
    session: AsyncSession,
    settings: Settings,
    actor: Principal,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
) -> str:
    """A fresh invitation for a user who has not accepted one yet (the old ones
    stay valid until one of them is used)."""
    user = await get_user(session, tenant_id, user_id)
    _check_grant(actor, user.role)
    if user.password_hash != INVITED:
        raise Conflict("This user has set a password already.", code="invite_accepted")
    await _audit(session, actor, tenant_id, "user.invited", "user", user.id, again=True)
    return _invite_token(settings, user)


def is_invited(user: User) -> bool:
    """Invited and not yet accepted: no password is set."""
    return user.password_hash == INVITED


async def list_users(
    session: AsyncSession, tenant_id: uuid.UUID, *, limit: int, offset: int
) -> list[User]:
    return await UserRepository(session, tenant_id).list(limit=limit, offset=offset)


async def get_user(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = await UserRepository(session, tenant_id).get(user_id)
    if user is None:
        raise NotFound("User not found.", code="user_not_found")
    return user


def _not_self(actor: Principal, user: User, what: str) -> None:
    if actor.kind == "user" and actor.id == user.id:
        raise Conflict(f"You cannot {what} yourself.", code="cannot_modify_self")


async def update_user(
    session: AsyncSession,
    actor: Principal,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    changes: dict[str, Any],
    cache: AuthCache | None,
) -> User:
    user = await get_user(session, tenant_id, user_id)
    _check_grant(actor, user.role)  # nobody edits someone above themselves
    events: list[tuple[str, dict[str, Any]]] = []
    if changes.get("full_name") is not None and changes["full_name"] != user.full_name:
        user.full_name = changes["full_name"]
        events.append(("user.updated", {"changed": ["full_name"]}))
    role = changes.get("role")
    if role is not None and role != user.role:
        _not_self(actor, user, "change the role of")
        _check_grant(actor, role)
        events.append(("user.role_changed", {"from": user.role, "to": role}))
        user.role = role
        _clear(cache, session)
    active = changes.get("is_active")
    if active is not None and active != user.is_active:
        _not_self(actor, user, "deactivate")
        user.is_active = active
        if not active:
            await CredentialLookup(session).revoke_user_sessions(user.id, utcnow())
        events.append(("user.activated" if active else "user.deactivated", {}))
        _clear(cache, session)
    await session.flush()
    for action, details in events:
        await _audit(session, actor, tenant_id, action, "user", user.id, **details)
    return user


async def delete_user(
    session: AsyncSession,
    actor: Principal,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    cache: AuthCache | None,
) -> None:
    """Soft delete: the row stays (audit trails point at it), sign-in stops."""
    user = await get_user(session, tenant_id, user_id)
    _check_grant(actor, user.role)
    _not_self(actor, user, "delete")
    now = utcnow()
    user.deleted_at = now
    user.is_active = False
    await CredentialLookup(session).revoke_user_sessions(user.id, now)
    await session.flush()
    await _audit(session, actor, tenant_id, "user.deleted", "user", user.id)
    _clear(cache, session)


async def reset_password(session: AsyncSession, email: str, password: str) -> User:
    """An operator sets a user's password: the lockout is lifted and every sign-in
    session of the user ends (servers stop honouring them within the auth cache TTL)."""
    user = await CredentialLookup(session).user_by_email(email.strip().lower())
    if user is None or user.deleted_at is not None:
        raise NotFound(f"no user with the email {email.strip().lower()}", code="user_not_found")
    check_password(password, user.email)
    user.password_hash = hash_password(password)
    user.failed_login_count = 0
    user.locked_until = None
    await CredentialLookup(session).revoke_user_sessions(user.id, utcnow())
    await session.flush()
    await _audit(session, None, user.tenant_id, "user.password_reset", "user", user.id)
    return user


# API keys


async def create_api_key(
    session: AsyncSession,
    actor: Principal | None,
    tenant_id: uuid.UUID | None,
    *,
    name: str,
    role: str,
    expires_in_days: int | None = None,
) -> NewApiKey:
    """A new key and its secret (shown once). Platform keys: tenant None, role admin."""
    _check_grant(actor, role)
    if (role == Role.ADMIN) != (tenant_id is None):
        raise Unprocessable(
            "Platform keys have role admin and no tenant; tenant keys one of "
            + ", ".join(TENANT_ROLES)
            + ".",
            code="invalid_role",
        )
    secret = tokens.new_api_key()
    key = ApiKey(
        name=name,
        role=role,
        prefix=secret[:12],
        key_hash=tokens.secret_hash(secret),
        created_by=actor.id if actor is not None and actor.kind == "user" else None,
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    if tenant_id is None:
        session.add(key)
        await session.flush()
    else:
        await ApiKeyRepository(session, tenant_id).add(key)
    await _audit(
        session, actor, tenant_id, "api_key.created", "api_key", key.id, name=name, role=role
    )
    return NewApiKey(key, secret)


async def list_api_keys(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    include_revoked: bool = False,
) -> list[ApiKey]:
    return await ApiKeyRepository(session, tenant_id).list(
        limit=limit, offset=offset, include_revoked=include_revoked
    )


async def api_key_named(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> ApiKey | None:
    return await ApiKeyRepository(session, tenant_id).named(name)


async def revoke_api_key(
    session: AsyncSession,
    actor: Principal | None,
    tenant_id: uuid.UUID | None,
    key_id: uuid.UUID,
    cache: AuthCache | None,
) -> ApiKey:
    """Revoke a tenant's key (a platform key when tenant_id is None; operators only)."""
    if tenant_id is None:
        if actor is not None and not actor.is_platform_admin:
            raise NotFound("API key not found.", code="api_key_not_found")
        key = await CredentialLookup(session).api_key_by_id(key_id)
        if key is not None and key.tenant_id is not None:
            key = None
    else:
        key = await ApiKeyRepository(session, tenant_id).get(key_id)
    if key is None:
        raise NotFound("API key not found.", code="api_key_not_found")
    _check_grant(actor, key.role)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await _audit(session, actor, tenant_id, "api_key.revoked", "api_key", key.id)
    _clear(cache, session)
    return key
