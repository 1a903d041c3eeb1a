"""JSON for the database's JSON columns: orjson where it gives the same value,
the standard library where it would not.

orjson is several times faster than `json` in both directions, which matters on
the hot paths (every mandate carries three JSON columns, every audit row and
event one). Where the two differ, the standard library wins:

- orjson refuses integers beyond 64 bits when writing (TypeError): `json` writes them;
- orjson reads such integers as floats, losing digits: text holding a run of 19 or
  more digits is read by `json` (a long digit string inside a string value only
  costs the slower parser);
- orjson refuses text `json` accepts (lone surrogates): `json` reads it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_DIGITS = re.compile(r"\d{19}")


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode()
    if len(text) == 2:  # the usual empty labels, details and lists, as PostgreSQL writes them
        if text == "{}":
            return {}
        if text == "[]":
            return []
    if len(text) >= 19 and _LONG_DIGITS.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
