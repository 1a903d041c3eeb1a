"""Answers rendered without a second pass.

A route that returns a pydantic model has FastAPI dump it to a dict, validate
that dict against the response model again and serialize the result: for a page
of 50 mandates that second pass costs more than building the page. `model_json`
serializes the model once, with the same serializer; the route keeps declaring
`response_model` for the OpenAPI document.

`JSONBody` renders an answer that is already a dict of JSON values (a stored
ingest answer, a problem document) with orjson: the standard library's encoder
costs about ten times as much per key. The output is the same compact UTF-8 JSON
(a float may be spelt shorter: 1e-7 for 1e-07); what orjson refuses (an integer
past 64 bits) goes through the standard encoder. Bodies hold no NaN: pydantic
dumps it as null and parsed JSON cannot carry it.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response


def model_json(model: BaseModel, status_code: int = 200) -> Response:
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        media_type="application/json",
    )


class JSONBody(JSONResponse):
    """A JSONResponse rendered by orjson."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # an integer past 64 bits, or a type orjson does not know
            return super().render(content)
