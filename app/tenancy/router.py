"""HTTP for tenants (`/customers`), users, API keys and sign-in. Thin: parse,
check the declared permission, call a service, answer a schema."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.core.errors import AppError
from app.core.types import Offset as BoundedOffset
from app.core.types import PageLimit
from app.models import ApiKey, Tenant, User
from app.tenancy import auth_service, service
from app.tenancy.deps import (
    AuthCacheDep,
    CanCreateTenants,
    CanDeactivateTenants,
    CanListTenants,
    CanManageApiKeys,
    CanManageUsers,
    CanReadApiKeys,
    CanReadSelf,
    CanReadTenants,
    CanReadUsers,
    CanUpdateTenants,
    TenantId,
    client_ip,
    throttle,
)
from app.tenancy.permissions import ROLE_PERMISSIONS, Role
from app.tenancy.schemas import (
    AcceptInvite,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    LogoutRequest,
    Me,
    PasswordChange,
    RefreshRequest,
    TenantCreate,
    TenantRead,
    TenantUpdate,
    TokenPair,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
)
from app.web.sessions import ReadSessionDep, SessionDep
from app.web.state import DatabaseDep, SettingsDep

Limit = Annotated[PageLimit, Query()]
Offset = Annotated[BoundedOffset, Query()]

tenants = APIRouter(prefix="/api/v1/customers", tags=["tenants"])
users = APIRouter(prefix="/api/v1/users", tags=["users"])
api_keys = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])
auth = APIRouter(prefix="/api/v1/auth", tags=["auth"])


# Tenants


@tenants.post("", status_code=201, response_model=TenantRead)
async def create_tenant(
    body: TenantCreate, principal: CanCreateTenants, session: SessionDep
) -> Tenant:
    """Create a tenant (platform admins)."""
    return await service.create_tenant(session, **body.model_dump(), actor=principal)


@tenants.get("", response_model=list[TenantRead])
async def list_tenants(
    _: CanListTenants,
    session: ReadSessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
    is_active: bool | None = None,
) -> list[Tenant]:
    """List tenants (platform admins)."""
    return await service.list_tenants(session, limit=limit, offset=offset, active=is_active)


@tenants.get("/{tenant_id}", response_model=TenantRead)
async def read_tenant(
    tenant_id: uuid.UUID, actor: CanReadTenants, session: ReadSessionDep
) -> Tenant:
    """One tenant: any for platform admins, its own for a customer_admin."""
    return await service.get_tenant(session, actor, tenant_id)


@tenants.patch("/{tenant_id}", response_model=TenantRead)
async def update_tenant(
    tenant_id: uuid.UUID,
    body: TenantUpdate,
    actor: CanUpdateTenants,
    session: SessionDep,
    cache: AuthCacheDep,
) -> Tenant:
    """Change a tenant's name, email or settings (`is_active`: platform admins only)."""
    changes = body.model_dump(exclude_unset=True)
    return await service.update_tenant(session, actor, tenant_id, changes, cache)


@tenants.delete("/{tenant_id}", response_model=TenantRead)
async def deactivate_tenant(
    tenant_id: uuid.UUID,
    actor: CanDeactivateTenants,
    session: SessionDep,
    cache: AuthCacheDep,
) -> Tenant:
    """Deactivate (data kept; its users and keys are refused until reactivated)."""
    return await service.deactivate_tenant(session, actor, tenant_id, cache)


# Users (of the tenant in context)


@users.post("", status_code=201, response_model=UserCreated)
async def create_user(
    body: UserCreate,
    actor: CanManageUsers,
    tenant_id: TenantId,
    session: SessionDep,
    settings: SettingsDep,
) -> UserCreated:
    """Create a user with a password, or invite one (omit `password`: `invite_token` is returned once)."""
    created = await service.create_user(session, settings, actor, tenant_id, body.model_dump())
    return UserCreated.model_validate(created.user).model_copy(
        update={"invite_token": created.invite_token}
    )


@users.get("", response_model=list[UserRead])
async def list_users(
    _: CanReadUsers,
    tenant_id: TenantId,
    session: ReadSessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[User]:
    """The users of the tenant in context."""
    return await service.list_users(session, tenant_id, limit=limit, offset=offset)


@users.get("/{user_id}", response_model=UserRead)
async def read_user(
    user_id: uuid.UUID, _: CanReadUsers, tenant_id: TenantId, session: ReadSessionDep
) -> User:
    """One user of the tenant in context."""
    return await service.get_user(session, tenant_id, user_id)


@users.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    actor: CanManageUsers,
    tenant_id: TenantId,
    session: SessionDep,
    cache: AuthCacheDep,
) -> User:
    """Change a user's name, role (up to your own) or active state; never your own."""
    changes = body.model_dump(exclude_unset=True)
    return await service.update_user(session, actor, tenant_id, user_id, changes, cache)


@users.delete("/{user_id}", status_code=204)
async def delete_user(
    user_id: uuid.UUID,
    actor: CanManageUsers,
    tenant_id: TenantId,
    session: SessionDep,
    cache: AuthCacheDep,
) -> Response:
    """Delete a user (soft: the row stays for the audit trail; sign-in stops)."""
    await service.delete_user(session, actor, tenant_id, user_id, cache)
    return Response(status_code=204)


# API keys (of the tenant in context)


@api_keys.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate,
    actor: CanManageApiKeys,
    tenant_id: TenantId,
    session: SessionDep,
) -> ApiKeyCreated:
    """Create an API key: the secret `key` is in this answer only (its hash is stored)."""
    created = await service.create_api_key(
        session,
        actor,
        tenant_id,
        name=body.name,
        role=body.role,
        expires_in_days=body.expires_in_days,
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(created.key).model_dump(), key=created.secret)


@api_keys.get("", response_model=list[ApiKeyRead])
async def list_api_keys(
    _: CanReadApiKeys,
    tenant_id: TenantId,
    session: ReadSessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
    include_revoked: bool = False,
) -> list[ApiKey]:
    """The API keys of the tenant in context (never their secrets)."""
    return await service.list_api_keys(
        session, tenant_id, limit=limit, offset=offset, include_revoked=include_revoked
    )


@api_keys.delete("/{key_id}", status_code=204)
async def revoke_api_key(
    key_id: uuid.UUID,
    actor: CanManageApiKeys,
    tenant_id: TenantId,
    session: SessionDep,
    cache: AuthCacheDep,
) -> Response:
    """Revoke an API key (other processes stop accepting it within AUTH_CACHE_TTL_SECONDS)."""
    await service.revoke_api_key(session, actor, tenant_id, key_id, cache)
    return Response(status_code=204)


# Sign-in


def _raise_or_return(result: TokenPair | AppError) -> TokenPair:
    if isinstance(result, AppError):
        raise result
    return result


@auth.post("/login", response_model=TokenPair)
async def login(
    body: LoginRequest, request: Request, settings: SettingsDep, database: DatabaseDep
) -> TokenPair:
    """Sign in: an access token (JWT, 15 minutes) and a single-use refresh token."""
    ip = client_ip(request)
    await throttle(request, f"login:{ip}", settings.rate_limit_login_per_minute)
    # Own transaction: a refused attempt is counted (committed) before the 401.
    async with database.sessions.begin() as session:
        result = await auth_service.login(session, settings, body.email, body.password, ip)
    return _raise_or_return(result)


@auth.post("/refresh", response_model=TokenPair)
async def refresh(
    body: RefreshRequest,
    request: Request,
    settings: SettingsDep,
    database: DatabaseDep,
    cache: AuthCacheDep,
) -> TokenPair:
    """Trade a refresh token for a new pair (presenting a used one ends the session)."""
    ip = client_ip(request)
    await throttle(request, f"login:{ip}", settings.rate_limit_login_per_minute)
    # Own transaction: ending a session on token reuse must survive the 401.
    async with database.sessions.begin() as session:
        result = await auth_service.refresh(session, settings, body.refresh_token, ip, cache)
    return _raise_or_return(result)


@auth.post("/logout", status_code=204)
async def logout(
    actor: CanReadSelf,
    session: SessionDep,
    cache: AuthCacheDep,
    body: LogoutRequest | None = None,
) -> Response:
    """End the caller's session: its access and refresh tokens stop working."""
    presented = body.refresh_token if body else None
    await auth_service.logout(session, actor, presented, cache)
    return Response(status_code=204)


@auth.get("/me", response_model=Me)
async def me(actor: CanReadSelf) -> Me:
    """Who is calling: kind, tenant, role and permissions."""
    return Me(
        kind=actor.kind,
        id=actor.id,
        tenant_id=actor.tenant_id,
        role=actor.role,
        name=actor.name,
        permissions=sorted(ROLE_PERMISSIONS[Role(actor.role)]),
    )


@auth.post("/password", status_code=204)
async def change_password(
    body: PasswordChange,
    actor: CanReadSelf,
    session: SessionDep,
    cache: AuthCacheDep,
) -> Response:
    """Change your own password; your other sessions end."""
    await auth_service.change_password(
        session, actor, body.current_password, body.new_password, cache
    )
    return Response(status_code=204)


@auth.post("/accept-invite", response_model=TokenPair)
async def accept_invite(
    body: AcceptInvite, session: SessionDep, request: Request, settings: SettingsDep
) -> TokenPair:
    """Accept an invitation: set a password and sign in."""
    await throttle(request, f"login:{client_ip(request)}", settings.rate_limit_login_per_minute)
    return await auth_service.accept_invite(session, settings, body.token, body.password)


routers = [auth, tenants, users, api_keys]
