"""Every input of every route is built from the shared field types: each string
carries the storable-text check and a length bound, each JSON object the JSON
check, each number an upper bound. A new field without them fails here."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import typing
import uuid
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from fastapi.routing import APIRoute, _iter_included_route_candidates
from pydantic import BaseModel

from app.core.types import STORABLE, JsonObject
from app.main import create_app
from tests.conftest import make_settings

_JSON_CHECK = get_args(JsonObject)[1]
_UPPER = (annotated_types.Le, annotated_types.Lt)
_LENGTH = annotated_types.MaxLen


def _flatten(metadata: tuple[Any, ...]) -> list[Any]:
    found: list[Any] = []
    for item in metadata:
        found.append(item)
        # StringConstraints and Field(...) keep their bounds on attributes.
        for attribute in ("max_length", "le", "lt"):
            if getattr(item, attribute, None) is not None and not isinstance(
                item, (*_UPPER, _LENGTH)
            ):
                found.append(attribute)
        found.extend(getattr(item, "metadata", ()) or ())
    return found


def problems(tp: Any, metadata: tuple[Any, ...], where: str, seen: set[type]) -> list[str]:
    if get_origin(tp) is Annotated:
        base, *extra = get_args(tp)
        return problems(base, (*metadata, *extra), where, seen)
    flat = _flatten(metadata)
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return [
            p
            for arg in get_args(tp)
            if arg is not type(None)
            for p in problems(arg, metadata, where, seen)
        ]
    if tp is str:
        missing = []
        if STORABLE not in flat:
            missing.append(f"{where}: str without the storable-text check")
        if not any(isinstance(m, _LENGTH) or m == "max_length" for m in flat):
            missing.append(f"{where}: str without a length bound")
        return missing
    if tp in (int, float, decimal.Decimal):
        if not any(isinstance(m, _UPPER) or m in ("le", "lt") for m in flat):
            return [f"{where}: {tp.__name__} without an upper bound"]
        return []
    if origin is dict or tp is dict:
        if _JSON_CHECK in flat:
            return []
        key, value = get_args(tp) or (Any, Any)
        return problems(key, (), f"{where}[key]", seen) + problems(
            value, (), f"{where}[value]", seen
        )
    if origin in (list, set, tuple):
        return [p for arg in get_args(tp) for p in problems(arg, (), f"{where}[]", seen)]
    if tp is Any:
        return [f"{where}: Any (use JsonObject)"]
    if origin is Literal or tp in (bool, uuid.UUID, dt.datetime, dt.date, bytes):
        return []
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return []
        seen.add(tp)
        return [
            p
            for name, field in tp.model_fields.items()
            for p in problems(
                field.annotation, tuple(field.metadata), f"{tp.__name__}.{name}", seen
            )
        ]
    return [f"{where}: unchecked type {tp!r}"]


def _params(dependant: Any) -> list[Any]:
    found = [
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.body_params,
    ]
    for sub in dependant.dependencies:
        found += _params(sub)
    return found


def test_every_route_input_uses_the_shared_types(tmp_path):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    found: list[str] = []
    checked = 0
    for route in _iter_included_route_candidates(app.routes):
        if not isinstance(route, APIRoute):
            continue
        for param in _params(route.dependant):
            checked += 1
            info = param.field_info
            where = f"{sorted(route.methods)} {route.path} {param.name}"
            found += problems(info.annotation, tuple(info.metadata), where, set())
    assert checked > 40
    assert found == [], "\n".join(found)
