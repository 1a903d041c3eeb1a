"""RFC 8785 (JCS) canonical JSON, fast on the values audit rows hold.

`rfc8785.dumps` (the pinned library) is the definition; it is pure Python and
costs about 40 us for a typical audit row, which alone would cap verification
near 25,000 rows/s. orjson with sorted keys writes the very same bytes for a
large part of JSON: strings (same escapes: the six short forms, `\\u00xx`
lowercase for other control characters, everything else as raw UTF-8), ints,
booleans, null, arrays and objects, as long as

- no number is a float (orjson writes `1.0` and `1e16`, JCS `1` and
  `10000000000000000`),
- every object key is ASCII (orjson sorts keys by code point, JCS by UTF-16
  code unit; the two differ only beyond the ASCII range),
- every value has an exact JSON type (orjson also writes UUIDs, datetimes,
  enums and dataclasses, which JCS refuses).

`canonical_json` checks that in one walk and takes orjson on that domain,
rfc8785 everywhere else; tests/audit/test_canonical.py proves the two equal
with a differential property test. Values JCS cannot encode (NaN, integers
beyond 2**53 - 1, lone surrogates, non-string keys, other types) and objects
nested deeper than MAX_DEPTH raise CanonicalFormError.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import rfc8785

MAX_DEPTH = 32
_MAX_SAFE_INT = 2**53 - 1
_SORT = orjson.OPT_SORT_KEYS


class CanonicalFormError(ValueError):
    """A value with no RFC 8785 encoding (or nested deeper than MAX_DEPTH)."""


def _plain(value: Any, depth: int) -> bool:
    """True when orjson's sorted output of `value` is its JCS form; raises for non-JSON."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return True
        raise CanonicalFormError("integer outside the IEEE 754 safe range (2**53 - 1)")
    if kind is dict or kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            raise CanonicalFormError(f"JSON nested deeper than {MAX_DEPTH} levels")
        plain = True
        if kind is dict:
            for key, item in value.items():
                if type(key) is not str:
                    if not isinstance(key, str):
                        raise CanonicalFormError("object keys must be strings")
                    plain = False
                elif not key.isascii():
                    plain = False
                # Scalars inline: most members are, and a call per member would dominate.
                item_kind = type(item)
                if item_kind is str or item is None or item_kind is bool:
                    continue
                if item_kind is int and -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                    continue
                if not _plain(item, depth + 1):
                    plain = False
        else:
            for item in value:
                if not _plain(item, depth + 1):
                    plain = False
        return plain
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            raise CanonicalFormError("NaN and infinities have no JSON form")
        return False
    # Subclasses of str, int, float, list and dict (StrEnum, IntEnum, ...) are JSON to
    # rfc8785; anything else (Decimal, datetime, UUID, bytes) is not.
    if isinstance(value, str | int | float | list | tuple | dict):
        return False
    raise CanonicalFormError(f"{kind.__name__} is not a JSON value")


def _encode(value: Any, plain: bool) -> bytes:
    try:
        if plain:
            return orjson.dumps(value, option=_SORT)
        return rfc8785.dumps(value)
    except (
        orjson.JSONEncodeError,
        rfc8785.CanonicalizationError,
        UnicodeError,
        RecursionError,
    ) as exc:
        # A lone surrogate (orjson's error, or rfc8785's UnicodeEncodeError when it sorts
        # keys), or a domain error rfc8785 found first.
        raise CanonicalFormError(f"no RFC 8785 encoding: {exc}") from None


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 encoding of `value`; CanonicalFormError when it has none."""
    return _encode(value, _plain(value, 0))


def canonical_object(obj: dict[str, Any], open_member: str) -> bytes:
    """canonical_json(obj) for an object whose other members the caller has checked.

    Every key of `obj` must be ASCII and every member but `open_member` a str,
    an int within the safe range or None (an audit row record guarantees this),
    so only `open_member` needs the walk.
    """
    return _encode(obj, _plain(obj[open_member], 1))
