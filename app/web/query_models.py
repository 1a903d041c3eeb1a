"""Query-string models read in one validation.

FastAPI reads an `Annotated[Model, Query()]` parameter by inspecting every field's
annotation again on each request (fastapi/fastapi#13824): about 85 us for the 19
fields of a mandate search, where validating the same values takes 2 us. A route
declares `QueryModel(Model)` instead and gets the same model, the same 422 errors
(located under "query", as FastAPI locates them) and the same API docs:
`documented()` gives the parameters FastAPI documents for the model and the
components they refer to, taken from FastAPI itself when the API document is
first built (app.web.openapi adds them to each route that depends on the reader).

Values are read as FastAPI reads them: a field's last value when a name repeats,
and every other name passed to the model (one value, or the list of them) so
that its `extra` setting decides. A model with aliases or list fields, which
FastAPI reads differently, is refused when the route is declared.
"""

from __future__ import annotations

from collections.abc import Collection
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class QueryModel(Generic[M]):
    """Dependency: `model` validated from the request's query string."""

    def __init__(self, model: type[M]) -> None:
        for name, field in model.model_fields.items():
            if field.alias or field.validation_alias or _holds_a_list(field.annotation):
                raise TypeError(f"{model.__name__}.{name}: aliases and lists are not read here")
        self.model = model
        self.names = tuple(model.model_fields)
        self._documented: tuple[list[dict[str, Any]], dict[str, Any]] | None = None

    async def __call__(self, request: Request) -> M:  # async: FastAPI runs a def in a thread
        params = request.query_params
        # A multidict's item is its last value, as FastAPI reads a field.
        values: dict[str, Any] = {name: params[name] for name in self.names if name in params}
        if len(values) < len(params):
            extras: dict[str, list[str]] = {}
            for key, value in params.multi_items():
                if key not in values:
                    extras.setdefault(key, []).append(value)
            for key, found in extras.items():
                values[key] = found[0] if len(found) == 1 else found
        try:
            return self.model.model_validate(values)
        except ValidationError as error:
            raise RequestValidationError(
                [
                    {**item, "loc": ("query", *item["loc"])}
                    for item in error.errors(include_url=False)
                ]
            ) from None

    def documented(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The parameters FastAPI documents for the model, and the component schemas
        they refer to (built on first use: only the API document needs them)."""
        if self._documented is None:
            self._documented = _documentation(self.model)
        return self._documented


def _holds_a_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _holds_a_list(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return any(_holds_a_list(arg) for arg in get_args(annotation))
    kind = origin or annotation
    return (
        isinstance(kind, type)
        and issubclass(kind, Collection)
        and not issubclass(kind, str | bytes | dict)
    )


def _documentation(model: type[BaseModel]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The query parameters FastAPI documents for `Annotated[model, Query()]`, and the
    component schemas they refer to."""

    def route(params: Any) -> None:
        del params

    # Set as objects: this module's annotations are strings, and `model` is local.
    route.__annotations__ = {"params": Annotated[model, Query()], "return": None}
    probe = FastAPI()
    probe.get("/")(route)
    document = probe.openapi()
    schemas = dict(document.get("components", {}).get("schemas", {}))
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's, for its 422
        schemas.pop(name, None)
    return document["paths"]["/"]["get"]["parameters"], schemas
