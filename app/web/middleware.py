"""Pure ASGI middleware: request ids and access logging.

Written against the ASGI interface rather than BaseHTTPMiddleware so streaming
and exception handling behave exactly as Starlette's own stack does.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from fastapi.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import AppError, PayloadTooLarge
from app.core.logging import get_logger
from app.web.problems import respond_to_scope

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")
log = get_logger("app.access")


class RequestContextMiddleware:
    """Gives every request an id (a client's own, if it is sane), binds it to
    the log context and returns it as `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_error", method=scope.get("method"), path=scope.get("path"))
            if started_response:
                raise
            response = respond_to_scope(scope, AppError("An unexpected error occurred."))
            await response(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


# Content-Security-Policy for everything: the API, the dashboard and the API docs
# (whose scripts and styles are the service's own files under /static): nothing
# but our own origin, no framing, no plugins, no inline script.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HSTS = b"max-age=63072000; includeSubDomains"


def csp_with_style_nonce(nonce: str) -> str:
    """STRICT_CSP for a page whose library builds its styles in the browser (ReDoc:
    styled-components and React style props): `<style>` elements only with this
    answer's `nonce`, style attributes on elements (they can restyle only the element
    that carries them), and fonts inlined as data: URLs. Scripts stay 'self' only."""
    return STRICT_CSP.replace(
        "style-src 'self'",
        f"style-src 'self' 'nonce-{nonce}'; style-src-elem 'self' 'nonce-{nonce}'; "
        "style-src-attr 'unsafe-inline'",
    ).replace("font-src 'self'", "font-src 'self' data:")


class SecurityHeadersMiddleware:
    """nosniff, frame-deny, referrer policy, a strict CSP, `no-store` on API
    answers (they carry tokens and tenant data), HSTS when `hsts` is on."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
            (b"content-security-policy", STRICT_CSP.encode()),
        ]
        if self.hsts:
            extra.append((b"strict-transport-security", HSTS))
        api = path.startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so the framework's body parsing
    passes it through and the HTTP error handler renders the 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request bodies are limited to {max_bytes} bytes.")


class BodySizeLimitMiddleware:
    """413 for bodies over `max_bytes`, before anything parses them: at once
    from Content-Length, or as soon as a streamed body passes the cap.
    `larger` names paths allowed a bigger body (an upload form)."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    def _too_large(self, scope: Scope, cap: int) -> Response:
        return respond_to_scope(
            scope, PayloadTooLarge(f"Request bodies are limited to {cap} bytes.")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.larger.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > cap:
                    await self._too_large(scope, cap)(scope, receive, send)
                    return
                break
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise _BodyTooLarge(cap)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, cap)(scope, receive, send)
