"""The OpenAPI document: every operation described, with an example, a curl
sample, its security and the error answers it can give, all in one problem+json
shape; the examples fit their schemas; the documented 401s are real."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app.main import create_app
from tests.conftest import make_settings

PROBLEM = "application/problem+json"
# Error statuses each operation documents, written out by hand: a route that gains
# a failure mode, or loses one, shows here.
EXPECTED_ERRORS: dict[tuple[str, str], list[int]] = {
    ("GET", "/healthz"): [],
    ("GET", "/readyz"): [503],
    ("POST", "/api/v1/auth/login"): [401, 403, 413, 415, 422, 429, 503],
    ("POST", "/api/v1/auth/refresh"): [401, 403, 413, 415, 422, 429, 503],
    ("POST", "/api/v1/auth/logout"): [401, 403, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/auth/me"): [401, 403, 429, 503],
    ("POST", "/api/v1/auth/password"): [401, 403, 413, 415, 422, 429, 503],
    ("POST", "/api/v1/auth/accept-invite"): [401, 403, 413, 415, 422, 429, 503],
    ("POST", "/api/v1/customers"): [401, 403, 409, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/customers"): [401, 403, 422, 429, 503],
    ("GET", "/api/v1/customers/{tenant_id}"): [401, 403, 404, 422, 429, 503],
    ("PATCH", "/api/v1/customers/{tenant_id}"): [401, 403, 404, 409, 413, 415, 422, 429, 503],
    ("DELETE", "/api/v1/customers/{tenant_id}"): [401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/users"): [400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/users"): [400, 401, 403, 404, 422, 429, 503],
    ("GET", "/api/v1/users/{user_id}"): [400, 401, 403, 404, 422, 429, 503],
    ("PATCH", "/api/v1/users/{user_id}"): [400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
    ("DELETE", "/api/v1/users/{user_id}"): [400, 401, 403, 404, 409, 422, 429, 503],
    ("POST", "/api/v1/api-keys"): [400, 401, 403, 404, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/api-keys"): [400, 401, 403, 404, 422, 429, 503],
    ("DELETE", "/api/v1/api-keys/{key_id}"): [400, 401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/issuers"): [401, 403, 409, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/issuers"): [401, 403, 422, 429, 503],
    ("GET", "/api/v1/issuers/{issuer_id}"): [401, 403, 404, 422, 429, 503],
    ("PATCH", "/api/v1/issuers/{issuer_id}"): [401, 403, 404, 413, 415, 422, 429, 503],
    ("DELETE", "/api/v1/issuers/{issuer_id}"): [401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/issuers/{issuer_id}/keys"): [401, 403, 404, 409, 413, 415, 422, 429, 503],
    ("DELETE", "/api/v1/issuers/{issuer_id}/keys/{kid}"): [401, 403, 404, 409, 422, 429, 503],
    ("POST", "/api/v1/mandates"): [400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/mandates"): [400, 401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/mandates/batch"): [400, 401, 403, 404, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/mandates/{mandate_id}"): [400, 401, 403, 404, 422, 429, 503],
    ("PATCH", "/api/v1/mandates/{mandate_id}"): [400, 401, 403, 404, 413, 415, 422, 429, 503],
    ("DELETE", "/api/v1/mandates/{mandate_id}"): [400, 401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/mandates/{mandate_id}/revoke"): [
        400,
        401,
        403,
        404,
        409,
        413,
        415,
        422,
        429,
        503,
    ],
    ("POST", "/api/v1/mandates/{mandate_id}/restore"): [400, 401, 403, 404, 409, 422, 429, 503],
    ("POST", "/api/v1/mandates/{mandate_id}/verify"): [400, 401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/mandates/{mandate_id}/dispute-check"): [
        400,
        401,
        403,
        404,
        422,
        429,
        503,
    ],
    ("POST", "/api/v1/ap2/presentations"): [400, 401, 403, 404, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/ap2/ledger/{open_mandate_hash}"): [400, 401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/ap2/ledger/{open_mandate_hash}/revoke"): [
        400,
        401,
        403,
        404,
        413,
        415,
        422,
        429,
        503,
    ],
    ("POST", "/api/v1/ap2/receipts"): [400, 401, 403, 404, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/ap2/rejections"): [400, 401, 403, 404, 422, 429, 503],
    ("GET", "/api/v1/ap2/rejections/{rejection_id}"): [400, 401, 403, 404, 422, 429, 503],
    ("GET", "/api/v1/webhooks"): [400, 401, 403, 404, 429, 503],
    ("POST", "/api/v1/webhooks"): [400, 401, 403, 404, 413, 415, 422, 429, 503],
    ("GET", "/api/v1/webhooks/{webhook_id}"): [400, 401, 403, 404, 422, 429, 503],
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): [400, 401, 403, 404, 413, 415, 422, 429, 503],
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): [400, 401, 403, 404, 422, 429, 503],
    ("GET", "/api/v1/webhooks/{webhook_id}/secret"): [400, 401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): [
        400,
        401,
        403,
        404,
        413,
        415,
        422,
        429,
        503,
    ],
    ("POST", "/api/v1/webhooks/{webhook_id}/test"): [400, 401, 403, 404, 409, 422, 429, 503],
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): [400, 401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/webhooks/{webhook_id}/recover"): [400, 401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/webhook-deliveries/{delivery_id}/resend"): [
        400,
        401,
        403,
        404,
        409,
        422,
        429,
        503,
    ],
    ("GET", "/api/v1/event-types"): [401, 403, 429, 503],
    ("GET", "/api/v1/admin/db"): [401, 403, 422, 429, 503],
    ("GET", "/api/v1/alerts"): [401, 403, 422, 429, 503],
    ("GET", "/api/v1/alert-types"): [401, 403, 429, 503],
    ("GET", "/api/v1/alerts/{alert_id}"): [401, 403, 404, 422, 429, 503],
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): [401, 403, 404, 409, 422, 429, 503],
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): [401, 403, 404, 422, 429, 503],
    ("GET", "/api/v1/audit"): [400, 401, 403, 404, 422, 429, 503],
    ("GET", "/api/v1/audit/export"): [400, 401, 403, 404, 422, 429, 503],
    ("GET", "/api/v1/audit/verify"): [400, 401, 403, 404, 429, 503],
    ("GET", "/api/v1/mandates/{mandate_id}/audit"): [400, 401, 403, 404, 422, 429, 503],
    ("GET", "/api/v1/mandates/{mandate_id}/evidence"): [400, 401, 403, 404, 422, 429, 503],
    ("GET", "/.well-known/jwks.json"): [],
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("openapi") / "x.db"
    return create_app(make_settings(f"sqlite+aiosqlite:///{path}")).openapi()


def operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def example_of(document: dict[str, Any], media: dict[str, Any]) -> Any:
    if "example" in media:
        return media["example"]
    schema = media.get("schema", {})
    for branch in schema.get("anyOf", []):  # an optional body: the model or null
        if "$ref" in branch:
            schema = branch
    if schema.get("type") == "array":
        item = resolve(document, schema["items"])
        return [item["example"]] if "example" in item else None
    return resolve(document, schema).get("example")


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) resolving the document's refs."""
    components = DRAFT202012.create_resource({"components": document["components"]})
    registry = Registry().with_resource("urn:openapi", components)
    return jsonschema.Draft202012Validator(_rewrite(schema), registry=registry)


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (f"urn:openapi{v}" if k == "$ref" and isinstance(v, str) else _rewrite(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def test_every_operation_is_listed(document):
    assert {(m, p) for m, p, _ in operations(document)} == set(EXPECTED_ERRORS)


def test_every_operation_has_a_description_and_a_curl_sample(document):
    for method, path, operation in operations(document):
        assert len(operation.get("description", "")) >= 20, (method, path)
        assert operation.get("summary"), (method, path)
        (sample,) = operation["x-codeSamples"]
        assert sample["source"].startswith(f'curl -X {method} "$VAULT{path}"'), (method, path)


def test_every_body_and_answer_has_an_example_that_fits_its_schema(document):
    for method, path, operation in operations(document):
        exchanged = []
        if "requestBody" in operation:
            exchanged.append(("request", operation["requestBody"]["content"]["application/json"]))
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                exchanged.append((f"{status} {media_type}", media))
        assert exchanged or method == "DELETE" or path.endswith(("logout", "password")), (
            method,
            path,
        )
        for what, media in exchanged:
            example = example_of(document, media)
            assert example is not None, (method, path, what)
            validator(document, media.get("schema", {})).validate(example)


def test_errors_are_documented_once_as_problem_details(document):
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    problem = schemas["ProblemDetails"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert problem["additionalProperties"] is True
    for method, path, operation in operations(document):
        documented = sorted(int(s) for s in operation["responses"] if int(s) >= 400)
        assert documented == EXPECTED_ERRORS[(method, path)], (method, path)
        for status in documented:
            response = operation["responses"][str(status)]
            assert list(response["content"]) == [PROBLEM], (method, path, status)
            media = response["content"][PROBLEM]
            assert media["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}
            assert media["example"]["status"] == status
            assert f"`{media['example']['code']}`" in response["description"]
            validator(document, media["schema"]).validate(media["example"])
            if status in (429, 503):
                assert "Retry-After" in response["headers"]


def test_credentials_are_declared_and_try_it_out_can_send_them(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        **schemes["ApiKey"],
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes["Bearer"]["scheme"] == "bearer"
    for method, path, operation in operations(document):
        secured = 401 in EXPECTED_ERRORS[(method, path)] and not path.startswith(
            ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/accept-invite")
        )
        assert (operation.get("security") == [{"ApiKey": []}, {"Bearer": []}]) == secured, (
            method,
            path,
        )
    tenant_header = [
        p
        for _, _, o in operations(document)
        for p in o.get("parameters", [])
        if p["name"] == "X-Tenant-ID"
    ]
    assert tenant_header
    assert all(p["in"] == "header" and not p["required"] for p in tenant_header)


def test_submitting_documents_the_idempotency_rules(document):
    submit = document["paths"]["/api/v1/mandates"]["post"]
    text = submit["description"]
    for rule in (
        "Idempotency-Key",
        "24 hours",
        "Idempotent-Replayed: true",
        "idempotency_key_reused",
        "Not stored",
        "503",
    ):
        assert rule in text, rule
    (key,) = [p for p in submit["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header"
    assert not key["required"]
    assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}


def test_every_ref_resolves(document):
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    names = {f"#/components/schemas/{name}" for name in document["components"]["schemas"]}
    assert refs <= names, refs - names


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_the_documented_401s_are_real(client, document):
    for method, path, operation in operations(document):
        if "security" not in operation:
            continue
        concrete = path.replace("{kid}", "k1")
        for name in ("tenant_id", "user_id", "key_id", "issuer_id", "mandate_id"):
            concrete = concrete.replace("{" + name + "}", "3f6c1e2a-7b4d-4c1e-9a2f-5d8e7c6b1a09")
        answer = await client.request(method, concrete, json={} if method != "GET" else None)
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["code"] == "not_authenticated"


def test_query_models_are_documented_as_parameters(document):
    """The routes reading a query model through QueryModel document its fields."""
    for path, method, expected in (
        ("/api/v1/mandates", "get", {"status", "issuer_did", "sort", "limit", "cursor"}),
        ("/api/v1/alerts", "get", {"limit", "cursor"}),
        ("/api/v1/audit", "get", {"limit"}),
        ("/api/v1/webhooks/{webhook_id}/deliveries", "get", {"status", "limit"}),
    ):
        parameters = document["paths"][path][method]["parameters"]
        query = {p["name"] for p in parameters if p["in"] == "query"}
        assert expected <= query, (path, expected - query)
    deliveries = document["paths"]["/api/v1/webhooks/{webhook_id}/deliveries"]["get"]
    assert [p["in"] for p in deliveries["parameters"]][0] == "path"
