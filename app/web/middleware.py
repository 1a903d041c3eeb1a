"""Pure ASGI middleware, two layers: `EdgeMiddleware` around everything (request
ids, access log, security headers, request metrics, the last-resort problem
answer) and `BodyChecksMiddleware` right around the application (size cap, UTF-8
JSON), with CORS between them when it is configured.

Written against the ASGI interface rather than BaseHTTPMiddleware so streaming
and exception handling behave exactly as Starlette's own stack does.
"""

from __future__ import annotations

import codecs
import os
import re
import time
from typing import TYPE_CHECKING

import structlog
from fastapi.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.actor import CLIENT_IP
from app.core.errors import AppError, PayloadTooLarge, UnsupportedMediaType
from app.core.logging import SteadyLogger
from app.web.problems import database_outage, problem_response, respond_to_scope

if TYPE_CHECKING:
    from app.web.request_metrics import RequestMetrics

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")
log = SteadyLogger("app.access")


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


def _security_headers(hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        (b"content-security-policy", STRICT_CSP.encode()),
    ]
    if hsts:
        headers.append((b"strict-transport-security", HSTS))
    return headers


class EdgeMiddleware:
    """What every HTTP answer gets, in one layer around everything else:

    - a request id (a client's own `X-Request-ID`, if it is sane), bound to the
      log context and returned as `X-Request-ID`, and an access-log line;
    - nosniff, frame-deny, referrer policy, a strict CSP, `no-store` on API
      answers (they carry tokens and tenant data), HSTS when `hsts` is on; a
      header the application set itself is kept;
    - a problem answer for an exception that escaped the application (503 for a
      database outage, 500 otherwise), never a bare server error;
    - when given, `metrics` counts and times the answer.

    One layer rather than one per concern: each ASGI layer wraps `send` again,
    and that is paid on every request.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        retry_after: int = 1,
        hsts: bool = False,
        metrics: RequestMetrics | None = None,
    ) -> None:
        self.app = app
        self.retry_after = retry_after
        self.headers = _security_headers(hsts)
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        # 32 random hex digits, like a UUID4's hex at a quarter of its cost.
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        # Bound for the request and put back as it was when it ends (clearing every
        # structlog variable instead walks all of the context's variables, twice).
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        client = scope.get("client")
        CLIENT_IP.set(str(client[0])[:64] if client else None)
        path: str = scope.get("path", "")
        api = path.startswith("/api/")
        status = 500  # what the server answers when the application raised
        started_response = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            # A database outage that escaped the handlers (raised while a response
            # streamed, or from a dependency's teardown) is still a 503, never a 500.
            answer = database_outage(error, path, self.retry_after)
            if answer is None:
                log.get().exception("unhandled_error", method=scope.get("method"), path=path)
            if started_response:
                raise
            response = respond_to_scope(scope, answer or AppError("An unexpected error occurred."))
            await response(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            log.get().info(
                "request",
                method=scope.get("method"),
                path=path,
                status=status,
                duration_ms=round(seconds * 1000, 2),
            )
            structlog.contextvars.reset_contextvars(**bound)
            if self.metrics is not None:
                self.metrics.observe(scope, status, seconds)


class _BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so the framework's body parsing
    passes it through and the HTTP error handler renders the 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request bodies are limited to {max_bytes} bytes.")


class _BodyNotUtf8(HTTPException):
    """Raised from `receive` like `_BodyTooLarge`; carries its problem for the handler."""

    def __init__(self, detail: str, code: str = "body_not_utf8") -> None:
        super().__init__(415, detail)
        self.problem = UnsupportedMediaType(detail, code=code)


_JSON_TYPES = re.compile(rb"^\s*application/(?:[\w.+-]*\+)?json\s*(?:;|$)", re.IGNORECASE)
_CHARSET = re.compile(rb";\s*charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
# UTF-8's BOM, UTF-16's and UTF-32's: RFC 8259 JSON is UTF-8 without one.
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class BodyChecksMiddleware:
    """The request body, checked as it streams in and before anything parses it:

    - 413 for a body over `max_bytes`: at once from Content-Length, or as soon as
      a streamed body passes the cap. `larger` names paths allowed a bigger body
      (an upload form).
    - For a JSON body: 415 `body_not_utf8` when it is not UTF-8 (UTF-16 or
      UTF-32, a BOM, invalid bytes) and 415 `unsupported_charset` for a declared
      charset other than UTF-8. Python's JSON parser would otherwise guess the
      encoding and accept them.
    """

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

    def _refusal(self, scope: Scope, error: AppError) -> Response:
        return problem_response(
            error,
            instance=scope.get("path"),
            request_id=scope.get("state", {}).get("request_id"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.larger.get(scope.get("path", ""), self.max_bytes)
        content_type = b""
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and declared is None:
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
            elif name == b"content-type" and not content_type:
                content_type = value
        if declared is not None and declared > cap:
            await self._too_large(scope, cap)(scope, receive, send)
            return
        json_body = bool(_JSON_TYPES.match(content_type))
        if json_body:
            charset = _CHARSET.search(content_type)
            if charset and charset.group(1).lower() not in (b"utf-8", b"utf8"):
                refusal = UnsupportedMediaType(
                    "JSON request bodies must be UTF-8 (charset=utf-8).",
                    code="unsupported_charset",
                )
                await self._refusal(scope, refusal)(scope, receive, send)
                return
        decoder = codecs.getincrementaldecoder("utf-8")("strict") if json_body else None
        received = 0
        first = True
        started = False

        async def checked_receive() -> Message:
            nonlocal received, first
            message = await receive()
            if message["type"] == "http.request":
                chunk: bytes = message.get("body", b"")
                received += len(chunk)
                if received > cap:
                    raise _BodyTooLarge(cap)
                if decoder is not None:
                    if first and chunk:
                        first = False
                        # JSON text starts with an ASCII character: a NUL among the
                        # first bytes is UTF-16 or UTF-32 without a BOM.
                        if chunk.startswith(_BOMS) or b"\x00" in chunk[:4]:
                            raise _BodyNotUtf8("JSON request bodies must be UTF-8, without a BOM.")
                    try:
                        decoder.decode(chunk, final=not message.get("more_body", False))
                    except UnicodeDecodeError:
                        raise _BodyNotUtf8("The request body is not valid UTF-8.") from None
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, checked_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, cap)(scope, receive, send)
        except _BodyNotUtf8 as refused:
            if started:
                raise
            await self._refusal(scope, refused.problem)(scope, receive, send)
