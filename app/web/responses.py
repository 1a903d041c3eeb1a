"""Answers rendered without a second pass.

A route that returns a pydantic model has FastAPI dump it to a dict, validate
that dict against the response model again and serialize the result: for a page
of 50 mandates that second pass costs more than building the page. `model_json`
serializes the model once; the route keeps declaring `response_model` for the
OpenAPI document. A model whose JSON is its fields as they are (no aliases,
exclusions, serializers or computed fields: `plain`) is written by orjson from
its fields, at under half the cost of pydantic's serializer for a page of 50
mandates, and to the same bytes; anything orjson does not write the same way
(a Decimal, bytes, an integer past 64 bits) sends the whole answer through
pydantic's serializer instead. `values_json` does the same from the values the
model would hold (a dict per model, nested as the fields are), for answers that
are cheaper to gather as values than to build as models: a search page.

`JSONBody` renders an answer that is already a dict of JSON values (a stored
ingest answer, a problem document) with orjson: the standard library's encoder
costs about ten times as much per key. The output is the same compact UTF-8 JSON
(a float may be spelt shorter: 1e-7 for 1e-07); what orjson refuses (an integer
past 64 bits) goes through the standard encoder. Bodies hold no NaN: pydantic
dumps it as null and parsed JSON cannot carry it.
"""

from __future__ import annotations

from functools import cache
from typing import Any
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
    """Whether pydantic writes `model` as its fields, as they are."""
    decorators = model.__pydantic_decorators__
    fields = model.model_fields.values()
    return not (
        model.model_computed_fields
        or decorators.field_serializers
        or decorators.model_serializers
        or any(f.alias or f.serialization_alias or f.exclude for f in fields)
        or any(name in model.model_config for name in _WRITING_CONFIG)
        or model.model_config.get("extra") == "allow"
    )


def _fields(value: Any) -> Any:
    if isinstance(value, BaseModel) and plain(type(value)):
        return value.__dict__
    if isinstance(value, UUID):  # a subclass (asyncpg's); orjson writes only UUID itself
        return str(value)
    raise TypeError  # orjson stops: pydantic writes the answer


def model_json(model: BaseModel, status_code: int = 200) -> Response:
    try:
        body = orjson.dumps(model, default=_fields, option=_OPTIONS)
    except TypeError:
        body = model.__pydantic_serializer__.to_json(model)
    return Response(body, status_code=status_code, media_type="application/json")


def values_json(values: dict[str, Any], model: type[BaseModel], status_code: int = 200) -> Response:
    """`model`'s JSON for `values`: its fields in its order, holding what the model
    would hold after validation (nested models as such dicts too).

    orjson writes them as `model_json` writes the model; what orjson stops at goes
    through the model and pydantic's serializer.
    """
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
