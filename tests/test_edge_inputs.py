"""Hostile values in every field of every route, read from the OpenAPI document:
NUL, lone surrogates, over-long strings and integers past 2^63 answer 4xx on
both engines, never a 500; in a body or a query they are a 422 naming the field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import app_client, make_settings

Path = tuple[str | int, ...]
BAD_TEXT = ["a\x00b", "\ud800", "\udfff tail"]
BAD_INTEGERS = [2**63, 2**64, -(2**63) - 1]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:  # Optional[X]: the non-null branch
        branches = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _resolve(spec, branches[0])
    return schema


def _valid(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A plausible valid value for `schema` (required properties only)."""
    schema = _resolve(spec, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: _valid(spec, sub)
            for name, sub in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    if kind == "array":
        return [_valid(spec, schema.get("items", {}))] * max(1, schema.get("minItems", 0))
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    pattern = schema.get("pattern", "")
    if pattern.startswith("^did:"):
        return "did:web:fuzz.example"
    if "@" in pattern:
        return "fuzz@a.example"
    return "x" * max(1, schema.get("minLength", 1))


def _fields(
    spec: dict[str, Any], schema: dict[str, Any], path: Path = ()
) -> Iterator[tuple[Path, dict]]:
    """Every field under `schema`: (path, schema), into objects and first array items."""
    schema = _resolve(spec, schema)
    if schema.get("type") == "object":
        for name, sub in schema.get("properties", {}).items():
            yield (*path, name), _resolve(spec, sub)
            yield from _fields(spec, sub, (*path, name))
    elif schema.get("type") == "array" and path:
        yield from _fields(spec, schema.get("items", {}), (*path, 0))


def _set(body: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(body) if isinstance(body, list) and body else [{}]
        items[0] = _set(items[0], rest, value)
        return items
    copy = dict(body) if isinstance(body, dict) else {}
    copy[head] = _set(copy.get(head, {}), rest, value)
    return copy


def _bad_values(schema: dict[str, Any]) -> list[Any]:
    values: list[Any] = [*BAD_TEXT, *BAD_INTEGERS]
    if schema.get("type") == "string":
        values.append("y" * (schema.get("maxLength", 100_000) + 1))
    if schema.get("type") == "object" or "additionalProperties" in schema:
        values += [
            {"k": "\x00"},
            {"k\x00": "v"},
            {"k": "\ud800"},
            {"k": 2**63},
            {"k": [[{"z": "\x00"}]]},
        ]
    if schema.get("type") == "array":
        values += [["\x00"], [2**63]]
    return values


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for route, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), route, operation


def _path_values(route: str, operation: dict[str, Any], override: dict[str, str]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = override.get(name)
            if value is None:
                value = str(uuid.uuid4()) if parameter["schema"].get("format") == "uuid" else "k1"
            route = route.replace("{" + name + "}", value)
    return route


def _json(value: Any) -> bytes:
    # ensure_ascii: a lone surrogate travels as its \\ud800 escape, as a client would send it.
    return json.dumps(value, ensure_ascii=True).encode()


def _named(body: dict[str, Any], prefix: str) -> bool:
    return any(str(e.get("field", "")).startswith(prefix) for e in body.get("errors", []))


async def test_hostile_values_in_every_field_of_every_route(database_url, world):
    settings = make_settings(database_url, rate_limit_enabled=False)
    headers = {**world.admin.bearer(), "X-Tenant-ID": str(world.tenant_a)}
    json_headers = {**headers, "content-type": "application/json"}
    failures: list[str] = []
    sent = 0
    async for client in app_client(settings):
        spec = (await client.get("/openapi.json")).json()
        for method, route, operation in _operations(spec):
            body_schema = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            base_path = _path_values(route, operation, {})
            # Body fields.
            if body_schema is not None:
                base = _valid(spec, body_schema)
                for path, schema in _fields(spec, body_schema):
                    for value in _bad_values(schema):
                        sent += 1
                        response = await client.request(
                            method,
                            base_path,
                            content=_json(_set(base, path, value)),
                            headers=json_headers,
                        )
                        field = ".".join(str(p) for p in ("body", *path))
                        if response.status_code >= 500 or response.status_code < 400:
                            failures.append(
                                f"{method} {route} {field}={value!r:.40}: {response.status_code}"
                            )
                        elif response.status_code == 422 and not _named(response.json(), field):
                            failures.append(
                                f"{method} {route} {field}={value!r:.40}: 422 names {response.json().get('errors')}"
                            )
            # Query and path parameters.
            for parameter in operation.get("parameters", []):
                name, where = parameter["name"], parameter["in"]
                if where not in ("query", "path"):
                    continue
                for raw in ("a%00b", "%ED%A0%80", str(2**63), str(-(2**63) - 1), "z" * 5000):
                    sent += 1
                    if where == "query":
                        url = f"{base_path}?{name}={raw}"
                    else:
                        url = _path_values(route, operation, {name: raw})
                    response = await client.request(
                        method,
                        url,
                        headers=headers,
                        json={} if "requestBody" in operation else None,
                    )
                    status = response.status_code
                    label = f"{method} {route} {where}.{name}={raw[:20]}: {status}"
                    if status >= 500:
                        failures.append(label)
                    # Text a string parameter may legitimately hold (a number, U+FFFD
                    # from undecodable bytes) may answer 2xx; NUL and out-of-range
                    # integers never do.
                    is_text = _resolve(spec, parameter["schema"]).get("type") == "string"
                    must_refuse = raw == "a%00b" or (raw.lstrip("-").isdigit() and not is_text)
                    if must_refuse and status < 400:
                        failures.append(label)
                    nul_in_query = where == "query" and raw == "a%00b" and status == 422
                    if nul_in_query and not _named(response.json(), f"query.{name}"):
                        failures.append(f"{label}, field not named")
    assert sent > 500
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/api-keys", "/api/v1/customers"])
@pytest.mark.parametrize("value", [str(2**63), str(2**63 - 1), "1000001", "-1"])
async def test_paging_integers_are_bounded(client, world, path, value):
    headers = {**world.admin.bearer(), "X-Tenant-ID": str(world.tenant_a)}
    for name in ("offset", "limit"):
        response = await client.get(f"{path}?{name}={quote(value)}", headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == f"query.{name}"
    assert (
        await client.get(f"{path}?offset=1000000&limit=200", headers=headers)
    ).status_code == 200
