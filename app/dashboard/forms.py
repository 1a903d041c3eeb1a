"""Reading forms: text fields, validation into the services' own schemas with
the errors keyed by field (shown next to it), and safe redirect targets."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from app.core.errors import AppError

Model = TypeVar("Model", bound=BaseModel)
Result = TypeVar("Result")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9/_\-.~%?=&:+]*$")


def form_text(
    form: FormData | Mapping[str, Any], name: str, limit: int, *, strip: bool = True
) -> str:
    """A text field ('' when absent or a file), cut at `limit` characters."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    value = value.strip() if strip else value
    return value[:limit]


def safe_next(target: str | None) -> str:
    """A same-site path to go to after a form, or '' (never another host)."""
    if not target or len(target) > 2048 or target.startswith("//") or "\\" in target:
        return ""
    return target if _SAFE_PATH.match(target) else ""


def field_errors(
    error: ValidationError, aliases: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Pydantic's errors as {field: message}, the first message per field."""
    found: dict[str, str] = {}
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        name = location[0] if location else "_form"
        name = (aliases or {}).get(name, name)
        message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        found.setdefault(name, message[:300])
    return found


def validate(
    model: type[Model], data: Mapping[str, Any], aliases: Mapping[str, str] | None = None
) -> tuple[Model | None, dict[str, str]]:
    """The model, or the field errors that stop it."""
    try:
        return model.model_validate(dict(data)), {}
    except ValidationError as error:
        return None, field_errors(error, aliases)


def query_values(query: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """A filter form's values as given in the query string (empty ones left out;
    an opaque `cursor` kept exactly)."""
    values = {}
    for name in names:
        value = query.get(name)
        if value is not None and value.strip():
            values[name] = value if name == "cursor" else value.strip()
    return values


async def search_with(
    model: type[Model],
    values: Mapping[str, Any],
    search: Callable[[Model], Awaitable[Result]],
) -> tuple[Result | None, dict[str, str]]:
    """Validate a filter form into the service's schema and run its search: the
    results, or the errors keyed by field (a cursor that no longer fits the filter
    is one of them, not an error page)."""
    params, errors = validate(model, values)
    if params is None:
        return None, errors
    try:
        return await search(params), {}
    except AppError as error:
        if error.code != "invalid_cursor":
            raise
        return None, {"cursor": "This page link no longer fits the filter; start again."}
