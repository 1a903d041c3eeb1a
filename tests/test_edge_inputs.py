"""Hostile values in every field of every route, read from the OpenAPI document:
NUL, lone surrogates, over-long strings and integers past 2^63 answer 4xx on
both engines, never a 500; in a body or a query they are a 422 naming the field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import app_client, make_settings
from tests.openapi_walk import (
    fields,
    fill_path,
    json_bytes,
    operations,
    resolve,
    set_at,
    valid_value,
)

BAD_TEXT = ["a\x00b", "\ud800", "\udfff tail"]
BAD_INTEGERS = [2**63, 2**64, -(2**63) - 1]


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
        for method, route, operation in operations(spec):
            body_schema = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            base_path = fill_path(route, operation, {})
            # Body fields.
            if body_schema is not None:
                base = valid_value(spec, body_schema)
                for path, schema in fields(spec, body_schema):
                    for value in _bad_values(schema):
                        sent += 1
                        response = await client.request(
                            method,
                            base_path,
                            content=json_bytes(set_at(base, path, value)),
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
                        url = fill_path(route, operation, {name: raw})
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
                    is_text = resolve(spec, parameter["schema"]).get("type") == "string"
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
