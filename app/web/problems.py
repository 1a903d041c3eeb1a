"""problem+json answers: every AppError, validation error, HTTP error and
database outage is rendered here, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from app.core.db_failures import DbFailure, classify, driver_error, sqlstate
from app.core.errors import (
    PROBLEM_JSON,
    AppError,
    BadRequest,
    DatabaseBusy,
    DatabaseUnavailable,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
)
from app.core.logging import get_logger
from app.web.responses import JSONBody
from app.web.state import Slot

log = get_logger(__name__)
# Seconds a client is told to wait when the database is out or busy.
RETRY_AFTER: Slot[int] = Slot("db_retry_after")
# An HTML edge (the dashboard) renders errors of its own pages as pages: it
# answers a Response for requests it owns and None for the rest (the API).
ErrorPage = Callable[[Request, AppError], Response | None]
ERROR_PAGE: Slot[ErrorPage] = Slot("error_page")


def problem_response(
    error: AppError, *, instance: str | None = None, request_id: str | None = None
) -> JSONBody:
    return JSONBody(
        error.document(instance=instance, request_id=request_id),
        status_code=error.status,
        headers=error.headers or None,
        media_type=PROBLEM_JSON,
    )


def problem(request: Request, error: AppError) -> JSONBody:
    """The answer for `error` to this request (its path and request id included)."""
    return problem_response(
        error,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
    )


def respond(request: Request, error: AppError) -> Response:
    """The error page of an HTML edge when it owns the request, else problem+json."""
    page = ERROR_PAGE.find(request)
    answer = page(request, error) if page is not None else None
    return answer if answer is not None else problem(request, error)


def respond_to_scope(scope: Scope, error: AppError) -> Response:
    """`respond` for ASGI middleware, which holds a scope rather than a Request."""
    return respond(Request(scope), error)


class _HttpStatus(AppError):
    """An HTTP error raised by the framework itself (405, 406, 415, ...)."""

    def __init__(self, status: int, detail: str, code: str, headers: dict[str, str]) -> None:
        super().__init__(detail, code=code, headers=headers)
        self.status = status


def _for_http_status(status: int, detail: Any, headers: dict[str, str]) -> AppError:
    known: dict[int, type[AppError]] = {
        400: BadRequest,
        401: Unauthorized,
        403: Forbidden,
        404: NotFound,
        413: PayloadTooLarge,
        429: TooManyRequests,
    }
    text = detail if isinstance(detail, str) else None
    if status in known:
        return known[status](text, headers=headers)
    names = {405: "method_not_allowed", 406: "not_acceptable", 415: "unsupported_media_type"}
    return _HttpStatus(status, text or "HTTP error", names.get(status, "http_error"), headers)


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in item.get("loc", ())),
            "message": item.get("msg", ""),
            "type": item.get("type"),
        }
        for item in error.errors()
    ]


def install_error_handlers(app: FastAPI, *, retry_after: int) -> None:
    """`retry_after`: seconds a client is told to wait when the database is out or busy."""
    RETRY_AFTER.set(app, retry_after)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, error: AppError) -> Response:
        return respond(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        syntax = next((e for e in error.errors() if e.get("type") == "json_invalid"), None)
        if syntax is not None:
            # The parser's own wording stays out of the answer; the position is enough.
            loc = syntax.get("loc", ())
            at = f" (at character {loc[-1]})" if loc and isinstance(loc[-1], int) else ""
            return respond(
                request,
                InvalidInput(f"The request body is not valid JSON{at}.", code="invalid_json"),
            )
        errors = _validation_errors(error)
        fields = ", ".join(e["field"] for e in errors if e["field"]) or "request"
        return respond(request, InvalidInput(f"Invalid value for {fields}", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        carried = getattr(error, "problem", None)  # raised by our middleware mid-body
        if isinstance(carried, AppError):
            return respond(request, carried)
        headers = dict(error.headers or {})
        return respond(request, _for_http_status(error.status_code, error.detail, headers))

    @app.exception_handler(sa_exc.SQLAlchemyError)
    async def _database(request: Request, error: sa_exc.SQLAlchemyError) -> Response:
        return respond(request, database_problem(error, request.url.path, retry_after))

    @app.exception_handler(OSError)
    async def _os_error(request: Request, error: OSError) -> Response:
        # Connection refused, unreachable or timed out while opening a database connection.
        return respond(request, database_problem(error, request.url.path, retry_after))


def database_outage(error: BaseException, path: str, retry_after: int) -> AppError | None:
    """503 `database_unavailable` / `db_pool_exhausted` with Retry-After for a
    connection-class failure (logged by class and SQLSTATE), None for any other."""
    failure = classify(error)
    if failure is None:
        return None
    wait = {"Retry-After": str(retry_after)}
    answer: AppError
    if failure is DbFailure.BUSY:
        answer = DatabaseBusy(
            "No database connection became free in time; retry shortly.", headers=wait
        )
    else:
        answer = DatabaseUnavailable(
            "The database cannot be reached right now; retry shortly.", headers=wait
        )
    log.warning(
        answer.code, path=path, error=type(driver_error(error)).__name__, sqlstate=sqlstate(error)
    )
    return answer


def database_problem(error: BaseException, path: str, retry_after: int) -> AppError:
    """What a request answers when the database raised `error`: the outage's 503, or
    a 500 for anything else (a constraint, a bad query). Never the statement's parameters."""
    found = database_outage(error, path, retry_after)
    if found is not None:
        return found
    log.error(
        "database_error",
        path=path,
        error=type(driver_error(error)).__name__,
        sqlstate=sqlstate(error),
        exc_info=error,
    )
    return AppError("Unexpected database error.")
