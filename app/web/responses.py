"""Answers rendered without a second pass.

A route that returns a pydantic model has FastAPI dump it to a dict, validate
that dict against the response model again and serialize the result: for a page
of 50 mandates that second pass costs more than building the page. `values_json`
writes the values the model would hold (a dict per model, nested as its fields
are) straight to JSON; the route keeps declaring `response_model` for the
OpenAPI document, and a page of 50 builds no model at all. A model whose JSON is
its fields as they are (no aliases, exclusions, serializers or computed fields,
its nested models likewise: `plain`) is written by orjson, to the same bytes as
pydantic's serializer; anything orjson does not write the same way (a Decimal,
bytes, an integer past 64 bits), and any other model, goes through the model and
pydantic's serializer instead.

`JSONBody` renders an answer that is already a dict of JSON values (a stored
ingest answer, a problem document) with orjson: the standard library's encoder
costs about ten times as much per key. The output is the same compact UTF-8 JSON
(a float may be spelt shorter: 1e-7 for 1e-07); what orjson refuses (an integer
past 64 bits) goes through the standard encoder. Bodies hold no NaN: pydantic
dumps it as null and parsed JSON cannot carry it.
"""

from __future__ import annotations

from functools import cache
from typing import Any, get_args
from uuid import UUID

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

# pydantic writes UTC as "Z"; orjson writes every other value as pydantic does.
_OPTIONS = orjson.OPT_UTC_Z
# Config entries that change how pydantic writes a value.
_WRITING_CONFIG = ("ser_json_timedelta", "ser_json_bytes", "ser_json_inf_nan", "use_enum_values")


@cache
def plain(model: type[BaseModel]) -> bool:
    """Whether pydantic writes `model` as its fields, as they are, and each model
    its fields hold likewise."""
    decorators = model.__pydantic_decorators__
    fields = model.model_fields.values()
    if (
        model.model_computed_fields
        or decorators.field_serializers
        or decorators.model_serializers
        or any(f.alias or f.serialization_alias or f.exclude for f in fields)
        or any(name in model.model_config for name in _WRITING_CONFIG)
        or model.model_config.get("extra") == "allow"
    ):
        return False
    _CHECKING.add(model)  # a model that holds itself, directly or not, is checked once
    try:
        return all(
            plain(inner)
            for f in fields
            for inner in _models_in(f.annotation)
            if inner not in _CHECKING
        )
    finally:
        _CHECKING.discard(model)


_CHECKING: set[type[BaseModel]] = set()


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds (itself, or in lists, unions, dict values)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _fields(value: Any) -> Any:
    # Asked first: a page holds one per row, and a check against BaseModel (whose
    # metaclass is an ABC's) costs several times one against UUID.
    if isinstance(value, UUID):  # a subclass (asyncpg's); orjson writes only UUID itself
        return str(value)
    if isinstance(value, BaseModel) and plain(type(value)):
        return value.__dict__
    raise TypeError  # orjson stops: pydantic writes the answer


def values_json(values: dict[str, Any], model: type[BaseModel], status_code: int = 200) -> Response:
    """`model`'s JSON for `values`: its fields in its order, holding what the model
    would hold after validation (nested models as such dicts, or as models). A
    value may be JSON text already, as an `orjson.Fragment` (`JSONText`), written
    as it is: only with a plain model, since the model cannot hold one."""
    try:
        if not plain(model):
            raise TypeError
        body = orjson.dumps(values, default=_fields, option=_OPTIONS)
    except TypeError:
        instance = model.model_validate(values)
        body = instance.__pydantic_serializer__.to_json(instance)
    return Response(body, status_code=status_code, media_type="application/json")


class JSONBody(JSONResponse):
    """A JSONResponse rendered by orjson."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # an integer past 64 bits, or a type orjson does not know
            return super().render(content)
