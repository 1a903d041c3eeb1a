"""Rendering: the Jinja2 environment, the page and redirect helpers every
route answers with, and the dashboard's error pages (404, 403, 500 ...)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from app.core.errors import AppError
from app.dashboard.deps import SESSION_CODEC, SignInRequired, TenantNeeded, Viewer
from app.dashboard.nav import nav_for
from app.web.state import CLOCK
from app.web.static import STATIC_ASSETS

TEMPLATES = Path(__file__).parent / "templates"
NO_STORE = "no-store"
# Paths the dashboard does not own: their errors stay problem+json.
NOT_PAGES = (
    "/api/",
    "/static/",
    "/metrics",
    "/healthz",
    "/readyz",
    "/docs",
    "/redoc",
    "/openapi",
    "/.well-known/",
)


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def _size(value: int | float | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, iso=_iso, size=_size, pretty=_pretty)
    return env


ENV = _environment()


def _finish(request: Request, response: Response) -> Response:
    """Headers every dashboard answer carries, and the refreshed session cookie."""
    response.headers.setdefault("Cache-Control", NO_STORE)
    # Same-origin referrers let browsers send a real Origin with our own forms
    # (checked against CSRF); other sites still learn nothing.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    refreshed = getattr(request.state, "dashboard_cookie", None)
    if refreshed:
        set_session_cookie(request, response, refreshed)
    return response


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    codec = SESSION_CODEC.get(request)
    response.set_cookie(
        codec.cookie_name,
        value,
        max_age=int(codec.lifetime.total_seconds()),
        path="/",
        secure=codec.secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    codec = SESSION_CODEC.get(request)
    response.delete_cookie(codec.cookie_name, path="/", secure=codec.secure, httponly=True)


def render(template: str, request: Request, **context: Any) -> Markup:
    """A template (or a fragment of one) as markup, with the shared context."""
    viewer: Viewer | None = context.get("viewer") or getattr(request.state, "viewer", None)
    assets = STATIC_ASSETS.get(request)
    shared = {
        "request": request,
        "viewer": viewer,
        "csrf": viewer.csrf if viewer is not None else context.get("csrf", ""),
        "nav": nav_for(viewer) if viewer is not None else [],
        "static": assets.url,
        "now": CLOCK.get(request).now(),
        "path": request.url.path,
    }
    return Markup(ENV.get_template(template).render({**shared, **context}))


def page(template: str, request: Request, status: int = 200, **context: Any) -> Response:
    response = HTMLResponse(render(template, request, **context), status_code=status)
    return _finish(request, response)


def redirect(request: Request, url: str) -> Response:
    """After a POST: see the result at `url` (303), or tell htmx to go there."""
    if request.headers.get("hx-request"):
        response: Response = Response(status_code=204, headers={"HX-Location": url})
    else:
        response = RedirectResponse(url, status_code=303)
    return _finish(request, response)


def owns(request: Request) -> bool:
    """Whether this request is one of the dashboard's pages (HTML errors)."""
    path = request.url.path
    if path.startswith(NOT_PAGES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or bool(request.headers.get("hx-request"))


_TITLES = {
    400: "Bad request",
    401: "Sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Not accepted",
    429: "Slow down",
    503: "Unavailable",
}


def error_page(request: Request, error: AppError) -> Response | None:
    """The page for an error of a dashboard request; None for everything else."""
    if not owns(request):
        return None
    if isinstance(error, SignInRequired):
        target = f"/login?reason={error.reason}"
        if request.url.path not in ("/", "/login"):
            target += "&next=" + request.url.path
        response = redirect(request, target)
        if error.reason in ("invalid", "expired", "ended"):
            clear_session_cookie(request, response)
        return response
    status = error.status if 400 <= error.status < 600 else 500
    # Unexpected errors say nothing about their cause; the request id finds the log line.
    detail = error.detail if status < 500 or status == 503 else "Something went wrong on our side."
    template = "choose_tenant.html" if isinstance(error, TenantNeeded) else "error.html"
    response = page(
        template,
        request,
        status=status,
        title=_TITLES.get(status, "Error"),
        detail=detail,
        code=error.code,
        status_code=status,
        request_id=getattr(request.state, "request_id", None),
    )
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response
