"""Domain errors and their rendering as RFC 9457 problem+json.

Hierarchy (each carries an HTTP status and a stable machine `code`):

    AppError                      500 internal_error
    ├── BadRequest                400 bad_request
    ├── Unauthorized              401 unauthorized
    ├── Forbidden                 403 forbidden
    ├── NotFound                  404 not_found
    ├── Conflict                  409 conflict
    ├── PayloadTooLarge           413 payload_too_large
    ├── Unprocessable             422 unprocessable
    ├── TooManyRequests           429 rate_limited
    └── ServiceUnavailable        503 service_unavailable
        └── DatabaseUnavailable   503 database_unavailable

Services raise these; one set of handlers in `install_error_handlers` turns
them, validation errors, HTTP errors and database outages into problem
documents. Anything else is caught by `RequestContextMiddleware`, logged, and
answered with a bare 500 problem: a client never sees a stack trace.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.logging import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)


class AppError(Exception):
    status = 500
    code = "internal_error"
    title = "Internal server error"

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


class Unprocessable(AppError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class TooManyRequests(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database_unavailable", "Database unavailable"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:mandate-vault:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
}


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ())]
        out.append(
            {"field": ".".join(loc), "message": item.get("msg", ""), "type": item.get("type")}
        )
    return out


def install_error_handlers(app: FastAPI, *, pool_retry_after: int) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, error: AppError) -> JSONResponse:
        return problem(
            error.status,
            error.code,
            error.title,
            error.detail,
            request,
            error.headers,
            **error.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(error)
        fields = ", ".join(e["field"] for e in errors if e["field"]) or "request"
        return problem(
            422,
            "validation_error",
            "Invalid request",
            f"Invalid value for {fields}",
            request,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code, title = _HTTP_CODES.get(error.status_code, ("http_error", "HTTP error"))
        detail = error.detail if isinstance(error.detail, str) else title
        return problem(error.status_code, code, title, detail, request, dict(error.headers or {}))

    @app.exception_handler(sa_exc.TimeoutError)
    async def _pool_exhausted(request: Request, error: sa_exc.TimeoutError) -> JSONResponse:
        log.warning("db_pool_exhausted", path=request.url.path)
        return problem(
            503,
            "db_pool_exhausted",
            "Database busy",
            "No database connection became free in time; retry shortly.",
            request,
            {"Retry-After": str(pool_retry_after)},
        )

    def unavailable(request: Request, cause: str) -> JSONResponse:
        log.warning("database_unavailable", path=request.url.path, error=cause)
        return problem(
            503,
            "database_unavailable",
            "Database unavailable",
            "The database cannot be reached right now; retry shortly.",
            request,
            {"Retry-After": str(pool_retry_after)},
        )

    @app.exception_handler(sa_exc.DBAPIError)
    async def _dbapi(request: Request, error: sa_exc.DBAPIError) -> JSONResponse:
        if error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        ):
            return unavailable(request, type(error.orig).__name__)
        log.exception("database_error", path=request.url.path)
        return problem(
            500, "internal_error", "Internal server error", "Unexpected database error.", request
        )

    @app.exception_handler(OSError)
    async def _os_error(request: Request, error: OSError) -> JSONResponse:
        # Connection refused, unreachable or timed out while opening a database connection.
        return unavailable(request, type(error).__name__)
