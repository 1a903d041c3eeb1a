"""Who is looking: the signed-in person behind a dashboard request, the tenant
in view, and the checks every page and form goes through (permission, CSRF).

`Requires(permission)` is the dashboard's `Can...`: the role table of
`app/tenancy/permissions.py` decides, exactly as for the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request

from app.core.errors import AppError, Forbidden, Unauthorized
from app.dashboard.session import BrowserSession, CookieProblem, SessionCodec
from app.models import Tenant
from app.tenancy import auth_service, service
from app.tenancy.deps import AUTH_CACHE, throttle
from app.tenancy.errors import TenantNotFound
from app.tenancy.permissions import Permission
from app.tenancy.principal import Principal
from app.web.state import CLOCK, DATABASE, SETTINGS, Slot

SESSION_CODEC: Slot[SessionCodec] = Slot("dashboard_session_codec")
CSRF_FIELD = "csrf_token"
TENANT_CHOICES = 200
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Unauthorized):
    """No usable session: the page answers with the sign-in form."""

    def __init__(self, reason: CookieProblem | str) -> None:
        super().__init__("Sign in to continue.", code="sign_in_required")
        self.reason = str(reason)


class TenantNeeded(AppError):
    """A platform admin opened a tenant's page without choosing a tenant."""

    status = 409
    code = "tenant_required"
    title = "Choose a tenant"


class CsrfRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "This form was not sent from this site or has expired; "
            "reload the page and submit it again.",
            code="csrf_failed",
        )


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person, the tenant in view and the form token of the page."""

    principal: Principal
    session: BrowserSession
    tenant: Tenant | None
    csrf: str
    choices: tuple[Tenant, ...] = ()  # tenants a platform admin may pick

    @property
    def tenant_id(self) -> uuid.UUID | None:
        return self.tenant.id if self.tenant is not None else None

    @property
    def is_platform_admin(self) -> bool:
        return self.principal.is_platform_admin

    def can(self, permission: Permission | str) -> bool:
        return self.principal.can(Permission(permission))

    def need_tenant(self) -> uuid.UUID:
        if self.tenant is None:
            raise TenantNeeded("Choose the tenant to look at first.")
        return self.tenant.id


async def _tenants(
    request: Request, actor: Principal, chosen: uuid.UUID | None
) -> tuple[Tenant | None, tuple[Tenant, ...]]:
    """A tenant user's own tenant; for a platform admin the chosen one (if it
    exists) and the active tenants to choose from."""
    wanted = actor.tenant_id if actor.tenant_id is not None else chosen
    choices: tuple[Tenant, ...] = ()
    tenant = None
    async with DATABASE.get(request).read_sessions() as session:
        if actor.is_platform_admin:
            listed = await service.list_tenants(
                session, limit=TENANT_CHOICES, offset=0, active=True
            )
            choices = tuple(listed)
        if wanted is not None:
            try:
                tenant = await service.get_tenant(session, actor, wanted)
            except TenantNotFound:
                tenant = None
    return tenant, choices


async def current_viewer(request: Request) -> Viewer:
    """Resolve the session cookie (cached per request); SignInRequired without one."""
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, Viewer):
        return cached
    codec = SESSION_CODEC.get(request)
    now = CLOCK.get(request).now()
    decoded = codec.decode(request.cookies.get(codec.cookie_name), now)
    if isinstance(decoded, CookieProblem):
        raise SignInRequired(decoded)
    settings = SETTINGS.get(request)
    try:
        actor = await auth_service.resolve_session(
            DATABASE.get(request).sessions,
            AUTH_CACHE.get(request),
            decoded.user_id,
            decoded.session_id,
        )
    except (Unauthorized, Forbidden):
        # Logged out, deactivated, or the tenant was deactivated: the session is over.
        raise SignInRequired("ended") from None
    await throttle(request, f"user:{actor.id}", settings.rate_limit_user_per_minute)
    tenant, choices = await _tenants(request, actor, decoded.tenant_id)
    if codec.needs_touch(decoded, now):
        request.state.dashboard_cookie = codec.encode(decoded.touched(now))
    viewer = Viewer(actor, decoded, tenant, codec.csrf_token(str(decoded.session_id)), choices)
    request.state.viewer = viewer
    return viewer


async def optional_viewer(request: Request) -> Viewer | None:
    try:
        return await current_viewer(request)
    except SignInRequired:
        return None


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
MaybeViewerDep = Annotated[Viewer | None, Depends(optional_viewer)]


def same_origin(request: Request) -> bool:
    """Refuse what a browser marks as sent from another site (defence in depth
    beside the token; absent headers pass, older clients send none)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":  # "null": a referrer policy hid it
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def check_csrf(request: Request, binding: str | None) -> None:
    """The POST carries the page's token (form field or header) and comes from here."""
    codec = SESSION_CODEC.get(request)
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not same_origin(request) or not codec.csrf_ok(binding, presented):
        raise CsrfRefused()


class _Requires:
    """Admits the viewer when its role holds `permission` (and, for POST, the
    form token checks out); a tenant page also needs a tenant in view."""

    def __init__(self, permission: Permission, *, tenant: bool, csrf: bool) -> None:
        self.permission = permission
        self.tenant = tenant
        self.csrf = csrf

    async def __call__(self, request: Request, viewer: ViewerDep) -> Viewer:
        if self.csrf and request.method == "POST":
            await check_csrf(request, str(viewer.session.session_id))
        if not viewer.can(self.permission):
            raise Forbidden(
                f"Your role ({viewer.principal.role}) does not allow {self.permission}.",
                code="permission_denied",
                permission=str(self.permission),
            )
        if self.tenant:
            viewer.need_tenant()
        return viewer

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Requires) and (other.permission, other.tenant, other.csrf) == (
            self.permission,
            self.tenant,
            self.csrf,
        )

    def __hash__(self) -> int:
        return hash(("requires", self.permission, self.tenant, self.csrf))


def Requires(permission: Permission, *, tenant: bool = True, csrf: bool = True) -> Any:
    return Depends(_Requires(permission, tenant=tenant, csrf=csrf))


def page_permission(dependant: Any) -> Permission | None:
    """The permission a dashboard route declares (used by its access test)."""
    for sub in dependant.dependencies:
        if isinstance(sub.call, _Requires):
            return sub.call.permission
        found = page_permission(sub)
        if found is not None:
            return found
    return None


def platform_admin_only(viewer: Viewer) -> None:
    if not viewer.is_platform_admin:
        raise Forbidden("Only platform admins operate the platform.", code="platform_admin_only")
