"""Field types every request schema is built from: text PostgreSQL can store,
integers that fit a BIGINT, and JSON objects made only of those.

PostgreSQL refuses NUL (U+0000) in `text` and `jsonb`, and no UTF-8 encoding
exists for a lone surrogate (which a JSON `\\ud800` escape produces); SQLite
would keep both, so the two engines would disagree about the same request.
Both are refused here, at the edge, as a 422 naming the field, so every route
answers alike on either engine. Every string type has a length bound.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

# NUL, and UTF-16 surrogates that are not part of a pair (Python keeps them as-is).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
JSON_MAX_DEPTH = 32


def check_storable(value: str) -> str:
    """The text, or a validation error if PostgreSQL could not store it."""
    found = _UNSTORABLE.search(value)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate"
        raise PydanticCustomError(
            "text_not_storable",
            "text must not contain {what} (position {position})",
            {"what": what, "position": found.start()},
        )
    return value


# The marker every string field of a request carries (tests/test_input_types.py checks).
STORABLE = AfterValidator(check_storable)


def _check_json(value: Any, path: str, depth: int = 0) -> None:
    if depth > JSON_MAX_DEPTH:
        raise PydanticCustomError(
            "json_too_deep", "JSON nested deeper than {depth} levels", {"depth": JSON_MAX_DEPTH}
        )
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise PydanticCustomError(
                "text_not_storable",
                "text at {path} must not contain NUL or a lone UTF-16 surrogate",
                {"path": path or "$"},
            )
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise PydanticCustomError(
                "int_out_of_range",
                "the integer at {path} does not fit in 64 bits (signed)",
                {"path": path or "$"},
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError(
                "float_not_finite", "NaN and Infinity at {path} are not JSON", {"path": path or "$"}
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            if _UNSTORABLE.search(name):
                raise PydanticCustomError(
                    "text_not_storable",
                    "a key at {path} contains NUL or a lone UTF-16 surrogate",
                    {"path": path or "$"},
                )
            _check_json(item, f"{path}.{name[:64]}" if path else name[:64], depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]", depth + 1)


def check_json_object(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object both engines store as sent: storable text, 64-bit integers,
    finite numbers, bounded depth."""
    _check_json(value, "")
    return value


# Text of a few sizes. A feature that needs a pattern or a minimum writes
# `Annotated[str, StringConstraints(...), STORABLE]`, with the marker last.
Text = Annotated[str, StringConstraints(max_length=2048), STORABLE]
ShortText = Annotated[str, StringConstraints(max_length=255), STORABLE]
LongText = Annotated[str, StringConstraints(max_length=1_048_576), STORABLE]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), STORABLE
]
# Secrets (passwords, tokens) are never stripped: every character counts.
Secret = Annotated[str, StringConstraints(min_length=1, max_length=2048), STORABLE]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json_object)]

# Integers that reach the database fit a BIGINT; paging stays well inside it.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
MAX_OFFSET = 1_000_000
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
PageLimit = Annotated[int, Field(ge=1, le=200)]
