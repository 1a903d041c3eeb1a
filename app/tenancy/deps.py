"""The one dependency that turns a request into (tenant, actor, role).

Credentials: `X-API-Key: mvk_...`, or `Authorization: Bearer <token>` where the
token is an access token (JWT) or an API key (`mvk_...`).

Tenant context: tenant users and keys act in their own tenant, always. A
platform admin names the tenant it acts on with the `X-Tenant-ID` header; a
tenant user naming another tenant there gets the same 404 as an unknown tenant.

Every route declares its permission with one of the `Can...` aliases below
(`Annotated[Principal, Permits(Permission.X)]`), or with a `TenantAccess`
dependency that does the same check; the check reads `permissions.ROLE_PERMISSIONS`
and nothing else.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request

from app.core.errors import AppError, BadRequest, Forbidden
from app.tenancy import auth_service
from app.tenancy.auth_service import rate_limited, unauthorized
from app.tenancy.cache import AuthCache
from app.tenancy.errors import TenantNotFound
from app.tenancy.permissions import Permission
from app.tenancy.principal import Principal
from app.tenancy.ratelimit import RateLimiter
from app.tenancy.repository import TenantRepository
from app.tenancy.tokens import API_KEY_PREFIX
from app.web.problems import RETRY_AFTER, database_outage
from app.web.state import DATABASE, SETTINGS, Slot

TENANT_HEADER = "x-tenant-id"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


AUTH_CACHE: Slot[AuthCache] = Slot("auth_cache")
RATE_LIMITER: Slot[RateLimiter] = Slot("rate_limiter")
AuthCacheDep = Annotated[AuthCache, Depends(AUTH_CACHE)]


async def throttle(request: Request, bucket: str, limit: int) -> None:
    if not SETTINGS.get(request).rate_limit_enabled or limit <= 0:
        return
    retry_after = await RATE_LIMITER.get(request).hit(bucket, limit)
    if retry_after is not None:
        raise rate_limited(retry_after)


def _credentials(request: Request) -> tuple[str, str] | None:
    headers = request.headers
    key = headers.get("x-api-key")
    if key:
        return "api_key", key.strip()
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise unauthorized("Use 'Authorization: Bearer <token>'.", "invalid_authorization")
        return ("api_key" if value.startswith(API_KEY_PREFIX) else "bearer"), value
    return None


async def get_principal(request: Request) -> Principal:
    """Resolve the caller (cached per request), then apply its rate limit."""
    # The dict `request.state` wraps: a miss on State raises (and catches) an error.
    state = request.scope.setdefault("state", {})
    cached = state.get("actor")
    if cached is not None:
        return cached
    settings = SETTINGS.get(request)
    found = _credentials(request)
    try:
        if found is None:
            raise unauthorized("Authentication required.", "not_authenticated")
        kind, secret = found
        if len(secret) > 4096:
            raise unauthorized("Credentials invalid.", "invalid_token")
        sessions = DATABASE.get(request).sessions
        cache = AUTH_CACHE.get(request)
        if kind == "api_key":
            actor = await auth_service.resolve_api_key(sessions, cache, secret)
        else:
            actor = await auth_service.resolve_access_token(sessions, cache, settings, secret)
    except AppError:
        # Failed or missing credentials count against the client's address.
        await throttle(request, f"ip:{client_ip(request)}", settings.rate_limit_ip_per_minute)
        raise
    except Exception as error:
        # The database did not answer: the client did nothing wrong, so nothing is
        # counted against it, and the answer is the outage's 503.
        answer = database_outage(error, request.url.path, RETRY_AFTER.get(request))
        if answer is None:
            raise
        raise answer from None
    if actor.kind == "api_key":
        await throttle(request, f"key:{actor.id}", settings.rate_limit_api_key_per_minute)
    else:
        await throttle(request, f"user:{actor.id}", settings.rate_limit_user_per_minute)
    state["actor"] = actor
    return actor


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def admit(actor: Principal, permission: Permission) -> Principal:
    """The caller when its role holds `permission`; 403 `permission_denied` otherwise."""
    if not actor.can(permission):
        raise Forbidden(
            f"Your role ({actor.role}) does not allow {permission}.",
            code="permission_denied",
            permission=str(permission),
        )
    return actor


class _Permits:
    """Dependency that admits the caller when its role holds `permission`."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, actor: CurrentPrincipal) -> Principal:
        return admit(actor, self.permission)

    def __eq__(self, other: Any) -> bool:  # one cache entry per permission
        return isinstance(other, _Permits) and other.permission == self.permission

    def __hash__(self) -> int:
        return hash(("permits", self.permission))


def Permits(permission: Permission) -> Any:
    return Depends(_Permits(permission))


# The caller, admitted for one permission: `principal: CanReadMandates`.
CanCreateTenants = Annotated[Principal, Permits(Permission.TENANTS_CREATE)]
CanListTenants = Annotated[Principal, Permits(Permission.TENANTS_LIST)]
CanReadTenants = Annotated[Principal, Permits(Permission.TENANTS_READ)]
CanUpdateTenants = Annotated[Principal, Permits(Permission.TENANTS_UPDATE)]
CanDeactivateTenants = Annotated[Principal, Permits(Permission.TENANTS_DEACTIVATE)]
CanReadUsers = Annotated[Principal, Permits(Permission.USERS_READ)]
CanManageUsers = Annotated[Principal, Permits(Permission.USERS_MANAGE)]
CanReadApiKeys = Annotated[Principal, Permits(Permission.API_KEYS_READ)]
CanManageApiKeys = Annotated[Principal, Permits(Permission.API_KEYS_MANAGE)]
CanReadSelf = Annotated[Principal, Permits(Permission.SELF_READ)]
CanReadMandates = Annotated[Principal, Permits(Permission.MANDATES_READ)]
CanWriteMandates = Annotated[Principal, Permits(Permission.MANDATES_WRITE)]
CanPresentAp2 = Annotated[Principal, Permits(Permission.AP2_PRESENT)]
CanReadIssuers = Annotated[Principal, Permits(Permission.ISSUERS_READ)]
CanManageIssuers = Annotated[Principal, Permits(Permission.ISSUERS_MANAGE)]
CanReadAudit = Annotated[Principal, Permits(Permission.AUDIT_READ)]
CanManageWebhooks = Annotated[Principal, Permits(Permission.WEBHOOKS_MANAGE)]
CanReadAlerts = Annotated[Principal, Permits(Permission.ALERTS_READ)]
CanManageAlerts = Annotated[Principal, Permits(Permission.ALERTS_MANAGE)]
CanOperatePlatform = Annotated[Principal, Permits(Permission.PLATFORM_OPERATE)]


def route_permission(dependant: Any) -> Permission | None:
    """The permission a route declares: a `Permits` dependency's, or that of a
    dependency doing the same check itself (a `permission` attribute, as
    `TenantAccess` has). Read by the API docs and the access-matrix test."""
    for sub in dependant.dependencies:
        permission = getattr(sub.call, "permission", None)
        if isinstance(permission, Permission):
            return permission
        found = route_permission(sub)
        if found is not None:
            return found
    return None


async def current_tenant_id(request: Request, actor: CurrentPrincipal) -> uuid.UUID:
    """The tenant this request acts on: the caller's own, or the one a platform
    admin names in X-Tenant-ID."""
    named = request.headers.get(TENANT_HEADER)
    parsed: uuid.UUID | None = None
    if named:
        try:
            parsed = uuid.UUID(named.strip())
        except ValueError:
            raise TenantNotFound() from None
    if actor.tenant_id is not None:
        if parsed is not None and parsed != actor.tenant_id:
            raise TenantNotFound()
        return actor.tenant_id
    if parsed is None:
        raise BadRequest(
            "Platform admins name the tenant they act on in the X-Tenant-ID header.",
            code="tenant_required",
        )
    async with DATABASE.get(request).sessions() as session:
        if await TenantRepository(session).get(parsed) is None:
            raise TenantNotFound()
    return parsed


TenantId = Annotated[uuid.UUID, Depends(current_tenant_id)]


async def tenant_or_platform(request: Request, principal: CurrentPrincipal) -> uuid.UUID | None:
    """The scope of rows that exist for a tenant or for the platform as a whole
    (global issuers, platform alerts): a tenant's, or for a platform admin
    without X-Tenant-ID the platform's (None)."""
    if principal.is_platform_admin and not request.headers.get(TENANT_HEADER):
        return None
    return await current_tenant_id(request, principal)


TenantOrPlatform = Annotated[uuid.UUID | None, Depends(tenant_or_platform)]


class TenantAccess:
    """What `Can...` and `TenantId` resolve, in one dependency: the caller admitted
    for `permission`, and the tenant it acts on.

    FastAPI takes a resolution step per declared dependency on every request, the
    shared ones included, so the hot routes declare this one instead of four.
    `resolves` names what it stands for, for the API docs' error lists."""

    resolves = (get_principal, current_tenant_id)

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def resolve(self, request: Request) -> tuple[Principal, uuid.UUID]:
        actor = admit(await get_principal(request), self.permission)
        return actor, await current_tenant_id(request, actor)

    def __eq__(self, other: object) -> bool:  # one cache entry per kind and permission
        return type(other) is type(self) and other.permission == self.permission

    def __hash__(self) -> int:
        return hash((type(self), self.permission))
