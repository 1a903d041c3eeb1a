"""Compact JWS parsing with hard limits; no signature checking happens here.

Everything malformed becomes a `Rejection` (INVALID_FORMAT, TOO_LARGE or
ALG_NOT_ALLOWED); nothing else escapes. JSON is parsed strictly: UTF-8 only,
objects only at the top, no NaN/Infinity, no lone surrogates or NUL characters
(they would break storage later).
"""

from __future__ import annotations

from typing import Any

import orjson
from pybase64 import b64decode

from app.keys import ALLOWED_ALGS
from app.mandates.verification.codes import Code, Rejection

# JOSE header parameters we never honour: keys must come from the trust store, and
# compression / encryption / unencoded payloads are not part of the format.
_REFUSED_HEADERS = ("jku", "x5u", "zip", "enc")
_ACCEPTED_TYP = frozenset({"jwt", "jose", "vc+jwt", "vc+ld+jwt"})
_MAX_KID = 1024
_PLAIN_HEADER = frozenset({"alg", "kid", "typ", "cty"})


def load_json_object(raw: bytes, part: str) -> dict[str, Any]:
    """Strictly decode a UTF-8 JSON object; raises Rejection(INVALID_FORMAT).

    orjson refuses non-UTF-8, lone surrogates, NaN/Infinity, a BOM and nesting past
    1024 levels; duplicate names keep the last value, as RFC 7515 5.2 allows.
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = f"{part} is not valid JSON: {str(exc)[:120]}"
        raise Rejection(Code.INVALID_FORMAT, reason, part=part) from None
    if type(obj) is not dict:
        raise Rejection(Code.INVALID_FORMAT, f"{part} must be a JSON object", part=part)
    # NUL is valid JSON but breaks text storage downstream; only an escape can carry it.
    if b"\\u0000" in raw and b"\\u0000" in orjson.dumps(obj):
        raise Rejection(Code.INVALID_FORMAT, f"{part} holds NUL characters", part=part)
    return obj


# Works on the whole token at once: "-_" become "+/", while "+/=" (not base64url) become
# "!", which the strict decoder refuses.
_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")
_STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Each byte string has exactly one encoding: for a part of length 4n+2 (4n+3) the last
# character's low 4 (2) bits are unused and must be zero; length 4n+1 is never valid.
# Indexed by length % 4: the (translated) last characters allowed.
_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(_STD_ALPHABET),
    frozenset(),
    frozenset(c for i, c in enumerate(_STD_ALPHABET) if not i & 0x0F),
    frozenset(c for i, c in enumerate(_STD_ALPHABET) if not i & 0x03),
)


def _decode_part(data: bytes, part: str) -> bytes:
    """Decode one already-translated part (parse_jws inlines this for payload and signature)."""
    rest = len(data) & 3
    if rest:
        if data[-1] not in _CANONICAL_LAST[rest]:
            raise Rejection(Code.INVALID_FORMAT, f"{part} is not base64url", part=part)
        data += _PADDING[rest]
    try:
        return b64decode(data, validate=True)
    except ValueError:
        raise Rejection(Code.INVALID_FORMAT, f"{part} is not base64url", part=part) from None


# Headers repeat across an issuer's tokens, so their parsed form is cached (bounded).
_HEADER_CACHE: dict[bytes, tuple[dict[str, Any], str, str | None]] = {}
_HEADER_CACHE_SIZE = 1024
_HEADER_CACHE_MAX_LEN = 512


def _header(data: bytes) -> tuple[dict[str, Any], str, str | None]:
    cached = _HEADER_CACHE.get(data)
    if cached is not None:
        return cached
    header = load_json_object(_decode_part(data, "header"), "header")
    alg, kid = _check_header(header)
    if len(data) <= _HEADER_CACHE_MAX_LEN:
        if len(_HEADER_CACHE) >= _HEADER_CACHE_SIZE:
            _HEADER_CACHE.clear()
        _HEADER_CACHE[data] = (header, alg, kid)
    return header, alg, kid


def _check_header(header: dict[str, Any]) -> tuple[str, str | None]:
    alg = header.get("alg")
    if alg is None:
        raise Rejection(Code.INVALID_FORMAT, "JWS header has no 'alg'", part="header")
    if type(alg) is not str:
        raise Rejection(Code.INVALID_FORMAT, "JWS header 'alg' is not a string", part="header")
    if alg not in ALLOWED_ALGS:
        raise Rejection(
            Code.ALG_NOT_ALLOWED, f"algorithm {alg[:32]!r} is not allowed", alg=alg[:32]
        )
    if not _PLAIN_HEADER.issuperset(header):
        if "crit" in header:
            # No JWS extension is supported, so every critical one is refused (RFC 7515 4.1.11).
            raise Rejection(Code.INVALID_FORMAT, "critical header extensions are not supported")
        if "b64" in header and header["b64"] is not True:
            raise Rejection(Code.INVALID_FORMAT, "unencoded payloads (b64) are not supported")
        for name in _REFUSED_HEADERS:
            if name in header:
                raise Rejection(Code.INVALID_FORMAT, f"JWS header {name!r} is not supported")
    kid = header.get("kid")
    if kid is not None and (type(kid) is not str or not kid or len(kid) > _MAX_KID):
        raise Rejection(Code.INVALID_FORMAT, "JWS header 'kid' must be a non-empty string")
    typ = header.get("typ")
    if typ is not None:
        if type(typ) is not str:
            raise Rejection(Code.INVALID_FORMAT, "JWS header 'typ' is not a string")
        lowered = typ.lower()
        if lowered.startswith("application/"):
            lowered = lowered[12:]
        if lowered not in _ACCEPTED_TYP:
            raise Rejection(Code.INVALID_FORMAT, f"JWS 'typ' {typ[:40]!r} is not a mandate token")
    return alg, kid


def parse_jws(token: Any, max_bytes: int) -> tuple[str, str | None, dict[str, Any], bytes, bytes]:
    """Split and decode a compact JWS; checks size, shape, header and algorithm.

    Returns (alg, kid, payload, signing_input, signature) as a plain tuple: this runs
    on every verification, and a tuple costs less than building an object.
    """
    if type(token) is str:
        if len(token) > max_bytes:
            raise Rejection(Code.TOO_LARGE, f"token exceeds {max_bytes} bytes", max_bytes=max_bytes)
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError:
            raise Rejection(Code.INVALID_FORMAT, "token is not ASCII") from None
    elif isinstance(token, str | bytes | bytearray | memoryview):
        raw = token.encode("utf-8", "surrogatepass") if isinstance(token, str) else bytes(token)
        if len(raw) > max_bytes:
            raise Rejection(Code.TOO_LARGE, f"token exceeds {max_bytes} bytes", max_bytes=max_bytes)
    else:
        raise Rejection(Code.INVALID_FORMAT, "token must be a string")
    parts = raw.translate(_TO_STD).split(b".")
    if len(parts) != 3:
        reason = "encrypted (JWE) tokens are not supported" if len(parts) == 5 else None
        raise Rejection(Code.INVALID_FORMAT, reason or "token is not a compact JWS (3 parts)")
    header_b64, payload_b64, signature_b64 = parts
    if not header_b64 or not payload_b64:
        raise Rejection(Code.INVALID_FORMAT, "compact JWS has an empty header or payload")
    signing_length = len(header_b64) + 1 + len(payload_b64)
    cached = _HEADER_CACHE.get(header_b64)
    _header_dict, alg, kid = cached if cached is not None else _header(header_b64)
    # _decode_part for payload and signature, inlined: this runs on every verification.
    rest = len(payload_b64) & 3
    if rest:
        if payload_b64[-1] not in _CANONICAL_LAST[rest]:
            raise Rejection(Code.INVALID_FORMAT, "payload is not base64url", part="payload")
        payload_b64 += _PADDING[rest]
    try:
        payload_raw = b64decode(payload_b64, validate=True)
    except ValueError:
        raise Rejection(Code.INVALID_FORMAT, "payload is not base64url", part="payload") from None
    # load_json_object inlined for the usual case: a JSON object without escaped NULs.
    # Most payloads hold no backslash at all, and one byte is found faster than six.
    try:
        payload = orjson.loads(payload_raw)
    except orjson.JSONDecodeError:
        payload = None
    if type(payload) is not dict or (b"\\" in payload_raw and b"\\u0000" in payload_raw):
        payload = load_json_object(payload_raw, "payload")
    rest = len(signature_b64) & 3
    if rest:
        if signature_b64[-1] not in _CANONICAL_LAST[rest]:
            raise Rejection(Code.INVALID_FORMAT, "signature is not base64url", part="signature")
        signature_b64 += _PADDING[rest]
    try:
        signature = b64decode(signature_b64, validate=True)
    except ValueError:
        raise Rejection(
            Code.INVALID_FORMAT, "signature is not base64url", part="signature"
        ) from None
    return alg, kid, payload, raw[:signing_length], signature
