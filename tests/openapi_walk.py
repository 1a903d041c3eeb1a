"""Walking the OpenAPI document: every operation, a plausible valid body for it,
and every field inside that body (used by the edge-input and log-secret tests)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:  # Optional[X]: the non-null branch
        branches = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return resolve(spec, branches[0])
    return schema


def valid_value(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A plausible valid value for `schema` (required properties only)."""
    schema = resolve(spec, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: valid_value(spec, sub)
            for name, sub in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    if kind == "array":
        return [valid_value(spec, schema.get("items", {}))] * max(1, schema.get("minItems", 0))
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


def fields(
    spec: dict[str, Any], schema: dict[str, Any], path: Path = ()
) -> Iterator[tuple[Path, dict]]:
    """Every field under `schema`: (path, schema), into objects and first array items."""
    schema = resolve(spec, schema)
    if schema.get("type") == "object":
        for name, sub in schema.get("properties", {}).items():
            yield (*path, name), resolve(spec, sub)
            yield from fields(spec, sub, (*path, name))
    elif schema.get("type") == "array" and path:
        yield from fields(spec, schema.get("items", {}), (*path, 0))


def set_at(body: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(body) if isinstance(body, list) and body else [{}]
        items[0] = set_at(items[0], rest, value)
        return items
    copy = dict(body) if isinstance(body, dict) else {}
    copy[head] = set_at(copy.get(head, {}), rest, value)
    return copy


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for route, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), route, operation


def fill_path(route: str, operation: dict[str, Any], override: dict[str, str]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = override.get(name)
            if value is None:
                value = str(uuid.uuid4()) if parameter["schema"].get("format") == "uuid" else "k1"
            route = route.replace("{" + name + "}", value)
    return route


def json_bytes(value: Any) -> bytes:
    # ensure_ascii: a lone surrogate travels as its \\ud800 escape, as a client would send it.
    return json.dumps(value, ensure_ascii=True).encode()
