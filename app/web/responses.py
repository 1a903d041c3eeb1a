"""Answers rendered straight from a response model.

A route that returns a pydantic model has FastAPI dump it to a dict, validate
that dict against the response model again and serialize the result: for a page
of 50 mandates that second pass costs more than building the page. `model_json`
serializes the model once, with the same serializer; the route keeps declaring
`response_model` for the OpenAPI document.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


def model_json(model: BaseModel, status_code: int = 200) -> Response:
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        media_type="application/json",
    )
