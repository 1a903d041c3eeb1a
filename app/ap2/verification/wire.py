"""Wire primitives: strict base64url, strict JSON, the contract's hash H(s), compact JWS parts.

Everything malformed raises `WireError` (a ValueError); callers turn it into the
code of their stage. JSON is I-JSON (RFC 7493) strict: UTF-8 only, duplicate member
names refused, no NaN/Infinity or overflowing numbers, no lone surrogates, and no
NUL characters (they cannot be stored as text later). Integer literals stay `int`
while `19900.0`, `1.99e4` become `float` and `true` a `bool`, so `type(v) is int`
tells a JSON integer apart.
"""

from __future__ import annotations

import json
import math
from binascii import b2a_base64
from collections.abc import Callable
from hashlib import sha256 as _sha256
from typing import Any, NamedTuple

from pybase64 import b64decode


class WireError(ValueError):
    """Bytes or text that are not what the format requires."""


_TO_URL = bytes.maketrans(b"+/", b"-_")


def digest(text: str) -> str:
    """H(s) of the contract: unpadded base64url of SHA-256 over the ASCII bytes of `text`."""
    # 32 bytes encode to 43 characters and one '=' of padding.
    encoded = b2a_base64(_sha256(text.encode("ascii")).digest(), newline=False)
    return encoded[:43].translate(_TO_URL).decode("ascii")


# "-_" become "+/" while "+/=" (not base64url) become "!", which the strict decoder refuses.
_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")
_STD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Each byte string has one encoding: for length 4n+2 (4n+3) the last character's low 4
# (2) bits are unused and must be zero; length 4n+1 is never valid. By length % 4:
_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(_STD),
    frozenset(),
    frozenset(c for i, c in enumerate(_STD) if not i & 0x0F),
    frozenset(c for i, c in enumerate(_STD) if not i & 0x03),
)


def b64url(text: str, what: str) -> bytes:
    """Strict unpadded, canonical base64url of ASCII `text` (never empty); raises WireError.

    The same rules as `app.keys.b64url_decode`, in one translate and one C decode:
    this runs on every segment of every chain.
    """
    try:
        data = text.encode("ascii").translate(_TO_STD)
    except UnicodeEncodeError:
        raise WireError(f"{what} is not base64url") from None
    return decode_translated(data, what)


def translate(text: str) -> bytes:
    """ASCII `text` with base64url mapped to the standard alphabet, for `decode_translated`
    (one pass over several segments, e.g. the three parts of a JWS)."""
    return text.encode("ascii").translate(_TO_STD)


def decode_translated(data: bytes, what: str) -> bytes:
    """Decode one segment of `translate`'s output; raises WireError naming `what`."""
    if not data:
        raise WireError(f"{what} is empty")
    rest = len(data) & 3
    if rest:
        if data[-1] not in _CANONICAL_LAST[rest]:
            raise WireError(f"{what} is not base64url")
        data += _PADDING[rest]
    try:
        return b64decode(data, validate=True)
    except ValueError:
        raise WireError(f"{what} is not base64url") from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise WireError("JSON object has a duplicate member name")
    return obj


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WireError("JSON number overflows")
    return value


def _constant(name: str) -> Any:
    raise WireError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_float=_float, parse_constant=_constant)
# Objects as tuples of (name, value) pairs, duplicates kept: for documents whose every
# object the disclosure walker turns into a dict anyway, checking duplicates as it does.
_PAIRS_DECODER = json.JSONDecoder(
    object_pairs_hook=tuple, parse_float=_float, parse_constant=_constant
)
_WHITESPACE = " \t\n\r"
_Scan = Callable[[str, int], tuple[Any, int]]


def _scanner(decoder: json.JSONDecoder) -> _Scan:
    # The C scanner JSONDecoder.decode wraps (set by __init__); called directly when no
    # whitespace surrounds the value (JOSE parts, disclosures), it skips two Python frames.
    scan: _Scan = vars(decoder)["scan_once"]
    return scan


def _check_strings(value: Any) -> None:
    """Refuse lone surrogates and NUL, which only a \\u escape can carry."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            strings: tuple[str, ...] = (item,)
        elif kind is dict:
            strings = tuple(item)
            stack.extend(item.values())
        elif kind is tuple:  # an object as (name, value) pairs
            strings = tuple(name for name, _ in item)
            stack.extend(member for _, member in item)
        elif kind is list:
            stack.extend(item)
            continue
        else:
            continue
        for text in strings:
            if "\x00" in text:
                raise WireError("JSON string holds a NUL character")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise WireError("JSON string holds a lone surrogate") from None


def _load(data: bytes, what: str, decoder: json.JSONDecoder, scan: _Scan) -> Any:
    try:
        text = data.decode("utf-8")
        try:
            value, end = scan(text, 0)
        except StopIteration:
            value, end = decoder.decode(text), len(text)  # leading whitespace, or the error
        if end != len(text) and text[end:].strip(_WHITESPACE):
            raise ValueError("extra data after the JSON value")
    except WireError as exc:
        raise WireError(f"{what}: {exc}") from None
    except (ValueError, RecursionError):
        # JSONDecodeError and UnicodeDecodeError are ValueErrors, as is int() past 4300 digits.
        raise WireError(f"{what} is not valid JSON") from None
    if "\\u" in text:
        try:
            _check_strings(value)
        except WireError as exc:
            raise WireError(f"{what}: {exc}") from None
    return value


_scan = _scanner(_DECODER)
_scan_pairs = _scanner(_PAIRS_DECODER)


def load_json(data: bytes, what: str) -> Any:
    """Strictly decode UTF-8 JSON text; raises WireError naming `what`."""
    return _load(data, what, _DECODER, _scan)


def load_pairs(data: bytes, what: str) -> Any:
    """`load_json`, but objects come as tuples of (name, value) pairs, duplicates not yet
    refused: only for input that `disclosures` turns into dicts (it refuses them there)."""
    return _load(data, what, _PAIRS_DECODER, _scan_pairs)


def load_object(data: bytes, what: str) -> dict[str, Any]:
    """`load_json` that must yield a JSON object."""
    value = load_json(data, what)
    if type(value) is not dict:
        raise WireError(f"{what} is not a JSON object")
    return value


class CompactJws(NamedTuple):
    """A compact JWS split and base64url-decoded; JSON not parsed yet."""

    text: str
    header_raw: bytes
    payload_raw: bytes
    signature: bytes
    signing_input: bytes


def split_jws(text: str, what: str) -> CompactJws:
    """Three base64url parts, the first two non-empty; raises WireError."""
    parts = text.split(".")
    if len(parts) != 3:
        raise WireError(f"{what} is not a compact JWS (three parts)")
    header, payload, signature = parts
    if not header or not payload:
        raise WireError(f"{what} has an empty header or payload")
    try:
        # One translation for the three parts; '.' is left as it is.
        header_std, payload_std, signature_std = translate(text).split(b".")
    except UnicodeEncodeError:
        raise WireError(f"{what} is not base64url") from None
    part = "header"
    try:
        header_raw = decode_translated(header_std, part)
        part = "payload"
        payload_raw = decode_translated(payload_std, part)
        part = "signature"
        signature_raw = decode_translated(signature_std, part) if signature else b""
    except WireError:
        raise WireError(f"{what} {part} is not base64url") from None
    signing_input = text[: len(header) + 1 + len(payload)].encode("ascii")
    return CompactJws(text, header_raw, payload_raw, signature_raw, signing_input)
