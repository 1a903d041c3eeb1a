"""HTTP for tenants (`/customers`), users, API keys and sign-in. Thin: parse,
check the declared permission, call a service, answer a schema."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.core.database import ReadSessionDep, SessionDep
from app.core.errors import AppError
from app.tenancy import auth_service, service
from app.tenancy.deps import Authorized, TenantId, auth_cache, client_ip, throttle
from app.tenancy.permissions import ROLE_PERMISSIONS, Role
from app.tenancy.permissions import Permission as P
from app.tenancy.schemas import (
    AcceptInvite,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    LoginRequest,
    LogoutRequest,
    Me,
    PasswordChange,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
)

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]

customers = APIRouter(prefix="/api/v1/customers", tags=["tenants"])
users = APIRouter(prefix="/api/v1/users", tags=["users"])
api_keys = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])
auth = APIRouter(prefix="/api/v1/auth", tags=["auth"])


# Tenants


@customers.post("", status_code=201, response_model=CustomerRead)
async def create_customer(
    body: CustomerCreate, _: Authorized(P.TENANTS_CREATE), session: SessionDep
):
    return await service.create_tenant(session, **body.model_dump())


@customers.get("", response_model=list[CustomerRead])
async def list_customers(
    _: Authorized(P.TENANTS_LIST),
    session: ReadSessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
    is_active: bool | None = None,
):
    return await service.list_tenants(session, limit=limit, offset=offset, active=is_active)


@customers.get("/{customer_id}", response_model=CustomerRead)
async def read_customer(
    customer_id: uuid.UUID, actor: Authorized(P.TENANTS_READ), session: ReadSessionDep
):
    return await service.get_tenant(session, actor, customer_id)


@customers.patch("/{customer_id}", response_model=CustomerRead)
async def update_customer(
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    actor: Authorized(P.TENANTS_UPDATE),
    session: SessionDep,
    request: Request,
):
    changes = body.model_dump(exclude_unset=True)
    return await service.update_tenant(session, actor, customer_id, changes, auth_cache(request))


@customers.delete("/{customer_id}", response_model=CustomerRead)
async def deactivate_customer(
    customer_id: uuid.UUID,
    actor: Authorized(P.TENANTS_DEACTIVATE),
    session: SessionDep,
    request: Request,
):
    """Deactivate (data kept; its users and keys are refused until reactivated)."""
    return await service.deactivate_tenant(session, actor, customer_id, auth_cache(request))


# Users (of the tenant in context)


@users.post("", status_code=201, response_model=UserCreated)
async def create_user(
    body: UserCreate,
    actor: Authorized(P.USERS_MANAGE),
    tenant_id: TenantId,
    session: SessionDep,
    request: Request,
):
    user, invite = await service.create_user(
        session, request.app.state.settings, actor, tenant_id, body.model_dump()
    )
    return UserCreated.model_validate(user).model_copy(update={"invite_token": invite})


@users.get("", response_model=list[UserRead])
async def list_users(
    _: Authorized(P.USERS_READ),
    tenant_id: TenantId,
    session: ReadSessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
):
    return await service.list_users(session, tenant_id, limit=limit, offset=offset)


@users.get("/{user_id}", response_model=UserRead)
async def read_user(
    user_id: uuid.UUID, _: Authorized(P.USERS_READ), tenant_id: TenantId, session: ReadSessionDep
):
    return await service.get_user(session, tenant_id, user_id)


@users.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    actor: Authorized(P.USERS_MANAGE),
    tenant_id: TenantId,
    session: SessionDep,
    request: Request,
):
    changes = body.model_dump(exclude_unset=True)
    return await service.update_user(
        session, actor, tenant_id, user_id, changes, auth_cache(request)
    )


@users.delete("/{user_id}", status_code=204)
async def delete_user(
    user_id: uuid.UUID,
    actor: Authorized(P.USERS_MANAGE),
    tenant_id: TenantId,
    session: SessionDep,
    request: Request,
) -> Response:
    await service.delete_user(session, actor, tenant_id, user_id, auth_cache(request))
    return Response(status_code=204)


# API keys (of the tenant in context)


@api_keys.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate,
    actor: Authorized(P.API_KEYS_MANAGE),
    tenant_id: TenantId,
    session: SessionDep,
):
    key, secret = await service.create_api_key(
        session,
        actor,
        tenant_id,
        name=body.name,
        role=body.role,
        expires_in_days=body.expires_in_days,
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=secret)


@api_keys.get("", response_model=list[ApiKeyRead])
async def list_api_keys(
    _: Authorized(P.API_KEYS_READ),
    tenant_id: TenantId,
    session: ReadSessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
    include_revoked: bool = False,
):
    return await service.list_api_keys(
        session, tenant_id, limit=limit, offset=offset, include_revoked=include_revoked
    )


@api_keys.delete("/{key_id}", status_code=204)
async def revoke_api_key(
    key_id: uuid.UUID,
    actor: Authorized(P.API_KEYS_MANAGE),
    tenant_id: TenantId,
    session: SessionDep,
    request: Request,
) -> Response:
    await service.revoke_api_key(session, actor, tenant_id, key_id, auth_cache(request))
    return Response(status_code=204)


# Sign-in


def _raise_or_return(result: TokenPair | AppError) -> TokenPair:
    if isinstance(result, AppError):
        raise result
    return result


@auth.post("/login", response_model=TokenPair)
async def login(body: LoginRequest, request: Request) -> TokenPair:
    settings = request.app.state.settings
    ip = client_ip(request)
    await throttle(request, f"login:{ip}", settings.rate_limit_login_per_minute)
    # Own transaction: a refused attempt is counted (committed) before the 401.
    async with request.app.state.database.sessions.begin() as session:
        result = await auth_service.login(session, settings, body.email, body.password, ip)
    return _raise_or_return(result)


@auth.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    settings = request.app.state.settings
    ip = client_ip(request)
    await throttle(request, f"login:{ip}", settings.rate_limit_login_per_minute)
    # Own transaction: ending a session on token reuse must survive the 401.
    async with request.app.state.database.sessions.begin() as session:
        result = await auth_service.refresh(
            session, settings, body.refresh_token, ip, auth_cache(request)
        )
    return _raise_or_return(result)


@auth.post("/logout", status_code=204)
async def logout(
    actor: Authorized(P.SELF_READ),
    session: SessionDep,
    request: Request,
    body: LogoutRequest | None = None,
) -> Response:
    presented = body.refresh_token if body else None
    await auth_service.logout(session, actor, presented, auth_cache(request))
    return Response(status_code=204)


@auth.get("/me", response_model=Me)
async def me(actor: Authorized(P.SELF_READ)) -> Me:
    return Me(
        kind=actor.kind,  # type: ignore[arg-type]
        id=actor.id,
        tenant_id=actor.tenant_id,
        role=actor.role,
        name=actor.name,
        permissions=sorted(ROLE_PERMISSIONS[Role(actor.role)]),
    )


@auth.post("/password", status_code=204)
async def change_password(
    body: PasswordChange,
    actor: Authorized(P.SELF_READ),
    session: SessionDep,
    request: Request,
) -> Response:
    await auth_service.change_password(
        session, actor, body.current_password, body.new_password, auth_cache(request)
    )
    return Response(status_code=204)


@auth.post("/accept-invite", response_model=TokenPair)
async def accept_invite(body: AcceptInvite, session: SessionDep, request: Request) -> TokenPair:
    settings = request.app.state.settings
    await throttle(request, f"login:{client_ip(request)}", settings.rate_limit_login_per_minute)
    return await auth_service.accept_invite(session, settings, body.token, body.password)


routers = [auth, customers, users, api_keys]
