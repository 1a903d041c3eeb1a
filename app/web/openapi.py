"""The OpenAPI document: security schemes, the problem+json error shape (one
`ProblemDetails` schema, referenced by every error answer), each operation's
error responses, examples and a curl sample.

Error responses follow from what a route depends on, so a new route is
documented without edits here: credentials (401, 429), a declared permission
(403), the tenant in context (400, 404), an id in the path (404), a body (413,
415, 422), any parameter (422) and the database (503). What a route can refuse on
its own (409s, its own 422s) is listed in `app.web.openapi_examples.OWN_ERRORS`.
The dependencies that mark credentials, the tenant and permissions are handed in
by the composition root (`AuthMarkers`), so this module needs no feature package.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, _iter_included_route_candidates
from pydantic import BaseModel, ConfigDict, Field

from app.core.errors import PROBLEM_JSON
from app.web.openapi_examples import (
    OWN_ERRORS,
    RESPONSE_EXAMPLES,
    SCHEMA_EXAMPLES,
)
from app.web.query_models import QueryModel

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
SECURITY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}

API_DESCRIPTION = """\
Keep, verify and search signed payment mandates (AP2 JWT-VCs) for many tenants.

**Authenticate** with an API key, `X-API-Key: mvk_...` (or `Authorization: Bearer mvk_...`),
or with an access token from `POST /api/v1/auth/login` (`Authorization: Bearer <token>`).
Press *Authorize* to try calls from this page. Platform admins name the tenant they
act on in `X-Tenant-ID`; everyone else always acts in their own tenant, and another
tenant's ids answer 404 exactly like missing ones.

**Errors** are RFC 9457 `application/problem+json` documents (the `ProblemDetails`
schema): `status`, a `title`, a human `detail`, and a stable machine `code` to act on
(`permission_denied`, `SIG_INVALID`, `idempotency_key_reused`, ...). Validation errors
list each field in `errors`. 429 and 503 answers carry `Retry-After`. Every answer
carries `X-Request-ID` (yours, when you send a sane one), also in every log line.
"""

TAGS = [
    {"name": "health", "description": "Liveness and readiness probes."},
    {"name": "auth", "description": "Sign-in sessions: access and refresh tokens."},
    {"name": "tenants", "description": "Tenants (the `customers` table), for platform admins."},
    {"name": "users", "description": "People of the tenant in context."},
    {"name": "api keys", "description": "Machine credentials of the tenant in context."},
    {"name": "issuers", "description": "The truststore: issuers and their keys."},
    {"name": "mandates", "description": "Submit, search, revoke and re-verify mandates."},
    {"name": "admin", "description": "Platform operations."},
]


@dataclass(frozen=True, slots=True)
class AuthMarkers:
    """How to read a route's needs off its dependencies."""

    principal: Callable[..., Any]  # resolves the caller: credentials needed
    tenant: Callable[..., Any]  # resolves the tenant in context
    permission_of: Callable[[Dependant], object | None]  # the declared permission, if any


class FieldError(BaseModel):
    field: str = Field(description="Where: `body.vc_jwt`, `query.limit`, ...")
    message: str
    type: str | None = None


class ProblemDetails(BaseModel):
    """An error answer (RFC 9457); members beyond these depend on the `code`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "urn:mandate-vault:problem:permission_denied",
                "title": "Not allowed",
                "status": 403,
                "detail": "Your role (readonly) does not allow mandates:write.",
                "code": "permission_denied",
                "instance": "/api/v1/mandates",
                "request_id": "6f1c2a9e0d4b4e27a3c1f0b2d9e8a7c6",
                "permission": "mandates:write",
            }
        },
    )

    type: str = Field(description="`urn:mandate-vault:problem:<code>`")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable reason: act on this.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="Same as the X-Request-ID header.")
    errors: list[FieldError] | None = Field(
        default=None, description="validation_error only: each field refused."
    )


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    """Every dependency a route resolves, with those one of them resolves itself
    (named in its `resolves`)."""
    found: set[Callable[..., Any]] = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.add(sub.call)
            found.update(getattr(sub.call, "resolves", ()))
        found |= _calls(sub)
    return found


def _has_parameters(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params:
        return True
    if isinstance(dependant.call, QueryModel):
        return True
    return any(_has_parameters(sub) for sub in dependant.dependencies)


def standard_errors(route: APIRoute, markers: AuthMarkers) -> dict[int, str]:
    """What a route can answer by what it depends on, each status with its codes."""
    calls = _calls(route.dependant)
    errors: dict[int, str] = {}
    authenticated = markers.principal in calls
    if authenticated:
        errors[401] = (
            "No usable credentials: `not_authenticated`, `invalid_api_key`, `api_key_revoked`, "
            "`api_key_expired`, `invalid_token`, `session_revoked`, `invalid_authorization`."
        )
        errors[403] = "`tenant_inactive`: the caller's tenant is deactivated."
        errors[429] = "`rate_limited`: too many requests for this key, user or address."
    permission = markers.permission_of(route.dependant)
    if permission is not None:
        errors[403] = (
            f"`permission_denied`: the caller's role lacks `{permission}`; "
            "`tenant_inactive`: the caller's tenant is deactivated."
        )
    not_found = []
    if route.dependant.path_params:
        not_found.append(
            "`not_found`: no such resource here (another tenant's ids answer the same)"
        )
    if markers.tenant in calls:
        errors[400] = "`tenant_required`: platform admins name the tenant in `X-Tenant-ID`."
        not_found.append("`tenant_not_found`: the tenant named in `X-Tenant-ID` does not exist")
    if not_found:
        errors[404] = "; ".join(not_found) + "."
    if route.body_field is not None:
        errors[413] = "`payload_too_large`: the body is over MAX_BODY_BYTES (1 MiB)."
        errors[415] = (
            "`unsupported_media_type`: a JSON body must be UTF-8 "
            "(`body_not_utf8`, `unsupported_charset`)."
        )
    if route.body_field is not None or _has_parameters(route.dependant):
        errors[422] = "`validation_error`: the request does not fit the schema; see `errors`."
    if route.path.startswith("/api/"):
        errors[503] = (
            "`database_unavailable` or `db_pool_exhausted`: retry after `Retry-After` seconds."
        )
    return errors


def _error_response(status: int, description: str) -> dict[str, Any]:
    code = description.split("`")[1] if "`" in description else "error"
    response: dict[str, Any] = {
        "description": description,
        "content": {
            PROBLEM_JSON: {"schema": PROBLEM_REF, "example": _problem_example(status, code)}
        },
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def _problem_example(status: int, code: str) -> dict[str, Any]:
    return {
        "type": f"urn:mandate-vault:problem:{code}",
        "title": PROBLEM_TITLES.get(status, "Error"),
        "status": status,
        "detail": PROBLEM_DETAILS.get(status, "The request was refused."),
        "code": code,
        "request_id": "6f1c2a9e0d4b4e27a3c1f0b2d9e8a7c6",
    }


PROBLEM_DETAILS = {
    400: "Platform admins name the tenant they act on in the X-Tenant-ID header.",
    401: "Authentication required.",
    403: "Your role (readonly) does not allow mandates:write.",
    404: "mandate not found",
    409: "This request conflicts with the resource's current state.",
    413: "Request bodies are limited to 1048576 bytes.",
    415: "JSON request bodies must be encoded as UTF-8.",
    422: "Invalid value for body.vc_jwt",
    429: "Too many requests; retry in 12 s.",
    503: "The database cannot be reached right now; retry shortly.",
}


PROBLEM_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    503: "Service unavailable",
}


def _merge(first: str, second: str) -> str:
    return first if second in first else f"{first} Also {second}"


def _curl(method: str, path: str, operation: dict[str, Any], body: Any) -> str:
    lines = [f'curl -X {method} "$VAULT{path}"']
    if "security" in operation:
        lines.append('-H "X-API-Key: $KEY"')
    if body is not None:
        lines.append("-H 'content-type: application/json'")
        lines.append(f"-d '{json.dumps(body, separators=(',', ':'))}'")
    return " \\\n     ".join(lines)


def _request_example(document: dict[str, Any], operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    # An optional body is `anyOf: [model, null]`.
    ref = next((s["$ref"] for s in schema.get("anyOf", []) if "$ref" in s), schema.get("$ref", ""))
    schema = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return content.get("example", schema.get("example"))


def document_operations(document: dict[str, Any], routes: list[Any], markers: AuthMarkers) -> None:
    """Add security, error responses, examples and code samples to every operation."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, example in SCHEMA_EXAMPLES.items():
        if name in schemas:
            schemas[name]["example"] = example
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["FieldError"] = FieldError.model_json_schema()
    schemas["ProblemDetails"] = ProblemDetails.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    schemas["ProblemDetails"].pop("$defs", None)
    document["components"]["securitySchemes"] = {
        "ApiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key (`mvk_...`): `mandate-vault api-keys create` or POST /api/v1/api-keys.",
        },
        "Bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token from POST /api/v1/auth/login, or an API key.",
        },
    }
    # Included routers are resolved lazily (FastAPI 0.16x): walk the effective
    # routes, with their prefixes and dependencies, as the document generator does.
    for route in _iter_included_route_candidates(routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        readers = [call for call in _calls(route.dependant) if isinstance(call, QueryModel)]
        for method in sorted(route.methods or ()):
            operation = document["paths"][route.path_format][method.lower()]
            for reader in readers:
                # Copies: the reader keeps its own for the next document.
                parameters, components = copy.deepcopy(reader.documented())
                operation.setdefault("parameters", []).extend(parameters)
                for name, schema in components.items():
                    schemas.setdefault(name, schema)
            _document(document, route, method, operation, markers)


def _document(
    document: dict[str, Any],
    route: APIRoute,
    method: str,
    operation: dict[str, Any],
    markers: AuthMarkers,
) -> None:
    calls = _calls(route.dependant)
    if markers.principal in calls:
        operation["security"] = SECURITY
    if markers.tenant in calls:
        operation.setdefault("parameters", []).append(
            {
                "name": "X-Tenant-ID",
                "in": "header",
                "required": False,
                "description": "Platform admins only: the tenant acted on.",
                "schema": {"type": "string", "format": "uuid"},
            }
        )
    responses = operation["responses"]
    errors = standard_errors(route, markers)
    for status, description in OWN_ERRORS.get((method, route.path_format), {}).items():
        errors[status] = _merge(errors[status], description) if status in errors else description
    for status in sorted(errors):
        responses[str(status)] = _error_response(status, errors[status])
    operation["responses"] = responses = dict(sorted(responses.items()))
    for status, example in RESPONSE_EXAMPLES.get((method, route.path_format), {}).items():
        media = responses[str(status)].setdefault("content", {}).setdefault("application/json", {})
        media["example"] = example
    body = _request_example(document, operation)
    operation["x-codeSamples"] = [
        {
            "lang": "Shell",
            "label": "curl",
            "source": _curl(method, route.path_format, operation, body),
        }
    ]


class DocumentedAPI(FastAPI):
    """FastAPI whose OpenAPI document is completed by `document_operations`, once."""

    def __init__(self, *, markers: AuthMarkers, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.markers = markers

    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:
            document = get_openapi(
                title=self.title,
                version=self.version,
                description=API_DESCRIPTION,
                routes=self.routes,
                tags=TAGS,
            )
            document_operations(document, self.routes, self.markers)
            self.openapi_schema = document
        return self.openapi_schema
