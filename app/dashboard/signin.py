"""Signing in and out, accepting an invitation, and (platform admins) choosing
the tenant to look at. The passwords go through the API's own auth service:
the same lockout, the same answer for unknown emails and wrong passwords."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import __version__
from app.core.errors import AppError, Unprocessable
from app.dashboard.deps import (
    SESSION_CODEC,
    MaybeViewerDep,
    ViewerDep,
    check_csrf,
)
from app.dashboard.forms import form_text, safe_next
from app.dashboard.overview import overview_page
from app.dashboard.render import clear_session_cookie, page, redirect, set_session_cookie
from app.dashboard.session import BrowserSession
from app.health.checks import readiness
from app.tenancy import auth_service, service
from app.tenancy.deps import AUTH_CACHE, client_ip, throttle
from app.web.state import CLOCK, DATABASE, SETTINGS, DatabaseDep

router = APIRouter(include_in_schema=False)

REASONS = {
    "expired": "Your session expired; sign in again.",
    "invalid": "Your session could not be read; sign in again.",
    "ended": "Your session has ended; sign in again.",
}
SIGNED_OUT = "You are signed out."


def _nonce_binding(request: Request) -> str | None:
    return request.cookies.get(SESSION_CODEC.get(request).nonce_cookie_name)


def _anonymous_form(
    request: Request, template: str, status: int = 200, **context: object
) -> Response:
    """A form shown before sign-in, with a CSRF token bound to a nonce cookie."""
    codec = SESSION_CODEC.get(request)
    nonce = _nonce_binding(request) or codec.new_nonce()
    response = page(template, request, status=status, csrf=codec.csrf_token(nonce), **context)
    response.set_cookie(
        codec.nonce_cookie_name,
        nonce,
        max_age=3600 * 12,
        path="/",
        secure=codec.secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/")
async def home(request: Request, viewer: MaybeViewerDep, database: DatabaseDep) -> Response:
    """The overview when signed in; otherwise the public health page."""
    if viewer is not None:
        return await overview_page(request, viewer)
    checks = await readiness(database, database.settings.readiness_timeout)
    return page(
        "home.html",
        request,
        checks=checks,
        backend=database.backend,
        version=__version__,
        title="Service health",
    )


@router.get("/login")
async def login_form(request: Request, viewer: MaybeViewerDep) -> Response:
    if viewer is not None:
        return redirect(request, "/")
    reason = request.query_params.get("reason", "")
    return _anonymous_form(
        request,
        "login.html",
        title="Sign in",
        message=REASONS.get(reason),
        info=SIGNED_OUT if reason == "signed_out" else None,
        next=safe_next(request.query_params.get("next")),
        email="",
        errors={},
    )


@router.post("/login")
async def login(request: Request) -> Response:
    settings = SETTINGS.get(request)
    ip = client_ip(request)
    await check_csrf(request, _nonce_binding(request))
    await throttle(request, f"login:{ip}", settings.rate_limit_login_per_minute)
    form = await request.form()
    email = form_text(form, "email", 320)
    password = form_text(form, "password", 1024, strip=False)
    next_url = safe_next(form_text(form, "next", 2048))
    if not email or not password:
        errors = {}
        if not email:
            errors["email"] = "Enter your email."
        if not password:
            errors["password"] = "Enter your password."
        return _anonymous_form(
            request, "login.html", 422, title="Sign in", errors=errors, email=email, next=next_url
        )
    # Own transaction: a refused attempt is counted (committed) before the answer.
    async with DATABASE.get(request).sessions.begin() as session:
        result = await auth_service.sign_in(session, settings, email, password, ip)
    if isinstance(result, AppError):
        return _anonymous_form(
            request,
            "login.html",
            401 if result.status == 401 else result.status,
            title="Sign in",
            message=result.detail,
            errors={},
            email=email,
            next=next_url,
        )
    now = CLOCK.get(request).now()
    codec = SESSION_CODEC.get(request)
    cookie = codec.encode(BrowserSession(result.user.id, result.session_id, now, now))
    response = redirect(request, next_url or "/")
    set_session_cookie(request, response, cookie)
    return response


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    """End the sign-in session (the same revocation as the API's logout)."""
    await check_csrf(request, str(viewer.session.session_id))
    async with DATABASE.get(request).sessions.begin() as session:
        await auth_service.logout(session, viewer.principal, None, AUTH_CACHE.get(request))
    request.state.dashboard_cookie = None
    response = redirect(request, "/login?reason=signed_out")
    clear_session_cookie(request, response)
    return response


@router.post("/tenant")
async def choose_tenant(request: Request, viewer: ViewerDep) -> Response:
    """A platform admin picks the tenant to look at (kept in the session cookie)."""
    await check_csrf(request, str(viewer.session.session_id))
    form = await request.form()
    next_url = safe_next(form_text(form, "next", 2048)) or "/"
    if not viewer.is_platform_admin:
        return redirect(request, next_url)
    raw = form_text(form, "tenant_id", 64)
    chosen: uuid.UUID | None = None
    if raw:
        try:
            chosen = uuid.UUID(raw)
        except ValueError:
            raise Unprocessable("That is not a tenant id.", code="invalid_tenant") from None
        async with DATABASE.get(request).read_sessions() as session:
            await service.get_tenant(session, viewer.principal, chosen)
    codec = SESSION_CODEC.get(request)
    now = CLOCK.get(request).now()
    request.state.dashboard_cookie = codec.encode(viewer.session.looking_at(chosen).touched(now))
    # A detail page of the previous tenant would be a 404 now: go to its list.
    section = "/" + next_url.strip("/").split("/", 1)[0] if next_url != "/" else "/"
    return redirect(request, section)


@router.get("/accept-invite")
async def accept_invite_form(request: Request) -> Response:
    token = request.query_params.get("token", "")[:2000]
    return _anonymous_form(
        request, "accept_invite.html", title="Accept invitation", token=token, errors={}
    )


@router.post("/accept-invite")
async def accept_invite(request: Request) -> Response:
    settings = SETTINGS.get(request)
    await check_csrf(request, _nonce_binding(request))
    await throttle(request, f"login:{client_ip(request)}", settings.rate_limit_login_per_minute)
    form = await request.form()
    token = form_text(form, "token", 2000)
    password = form_text(form, "password", 1024, strip=False)
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            signed = await auth_service.accept_invitation(session, settings, token, password)
    except AppError as error:
        field = "password" if error.code in ("weak_password", "validation_error") else "_form"
        return _anonymous_form(
            request,
            "accept_invite.html",
            422 if field == "password" else error.status,
            title="Accept invitation",
            token=token,
            errors={field: error.detail},
        )
    now = CLOCK.get(request).now()
    codec = SESSION_CODEC.get(request)
    response = redirect(request, "/")
    set_session_cookie(
        request, response, codec.encode(BrowserSession(signed.user.id, signed.session_id, now, now))
    )
    return response
