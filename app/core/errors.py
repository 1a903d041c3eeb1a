"""Domain errors: what went wrong, with an HTTP status and a stable machine `code`.

Hierarchy:

    AppError                      500 internal_error
    ├── BadRequest                400 bad_request
    ├── Unauthorized              401 unauthorized
    ├── Forbidden                 403 forbidden
    ├── NotFound                  404 not_found
    ├── Conflict                  409 conflict
    ├── PayloadTooLarge           413 payload_too_large
    ├── UnsupportedMediaType      415 unsupported_media_type (body_not_utf8, ...)
    ├── Unprocessable             422 unprocessable
    │   ├── VerificationFailed    422 the verification code (SIG_INVALID, ...)
    │   └── InvalidInput          422 validation_error
    ├── TooManyRequests           429 rate_limited
    └── ServiceUnavailable        503 service_unavailable
        ├── NotReady              503 not_ready
        ├── DatabaseUnavailable   503 database_unavailable
        └── DatabaseBusy          503 db_pool_exhausted

Services raise these (or return them, when the refusal must be committed
first); `app.web.problems` renders any of them as RFC 9457 problem+json. A
subclass fixes the code; `code=` overrides it for one finer-grained case.
Nothing here knows about HTTP frameworks.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        self.headers = headers or {}
        self.extra = extra

    def document(
        self, *, instance: str | None = None, request_id: str | None = None
    ) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        body: dict[str, Any] = {
            "type": f"urn:mandate-vault:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance is not None:
            body["instance"] = instance
        if request_id:
            body["request_id"] = request_id
        body.update(self.extra)
        return body


class BadRequest(AppError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class Unprocessable(AppError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class VerificationFailed(Unprocessable):
    """A credential that did not verify; `code` is the verification code."""

    code, title = "verification_failed", "Mandate failed verification"


class InvalidInput(Unprocessable):
    """A request that fails its schema; `errors` lists each field."""

    code, title = "validation_error", "Invalid request"


class TooManyRequests(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class NotReady(ServiceUnavailable):
    code, title = "not_ready", "Not ready"


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database_unavailable", "Database unavailable"


class DatabaseBusy(ServiceUnavailable):
    code, title = "db_pool_exhausted", "Database busy"
