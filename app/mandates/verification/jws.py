"""Compact JWS parsing with hard limits; no signature checking happens here.

Everything malformed becomes a `Rejection` (INVALID_FORMAT, TOO_LARGE or
ALG_NOT_ALLOWED); nothing else escapes. JSON is parsed strictly: UTF-8 only,
objects only at the top, no duplicate keys, no NaN/Infinity, no lone surrogates
or NUL characters (they would break storage later).
"""

from __future__ import annotations

import json
from typing import Any

from app.mandates.verification.codes import Code, Rejection
from app.mandates.verification.keys import ALLOWED_ALGS, b64url_decode

# JOSE header parameters we never honour: keys must come from the trust store, and
# compression / encryption / unencoded payloads are not part of the format.
_REFUSED_HEADERS = ("jku", "x5u", "zip", "enc")
_ACCEPTED_TYP = frozenset({"jwt", "jose", "vc+jwt", "vc+ld+jwt"})
_MAX_KID = 1024
_PLAIN_HEADER = frozenset({"alg", "kid", "typ", "cty"})


class _DuplicateKey(ValueError):
    pass


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey("duplicate key in JSON object")
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_reject_constant)


def load_json_object(raw: bytes, part: str) -> dict[str, Any]:
    """Strictly decode a UTF-8 JSON object; raises Rejection(INVALID_FORMAT)."""
    try:
        text = raw.decode("utf-8")
        obj = _DECODER.decode(text)
    except _DuplicateKey as exc:
        raise Rejection(Code.INVALID_FORMAT, f"{part}: {exc}", part=part) from None
    except UnicodeDecodeError:
        raise Rejection(Code.INVALID_FORMAT, f"{part} is not UTF-8", part=part) from None
    except RecursionError:
        raise Rejection(Code.INVALID_FORMAT, f"{part} JSON nests too deeply", part=part) from None
    except ValueError as exc:
        # JSONDecodeError, integers over the digit limit, refused constants.
        reason = f"{part} is not valid JSON: {str(exc)[:120]}"
        raise Rejection(Code.INVALID_FORMAT, reason, part=part) from None
    if type(obj) is not dict:
        raise Rejection(Code.INVALID_FORMAT, f"{part} must be a JSON object", part=part)
    if "\\u" in text:
        # Escapes are the only way to smuggle lone surrogates or NUL into strings.
        try:
            dumped = json.dumps(obj, ensure_ascii=False)
            dumped.encode("utf-8")
        except (UnicodeEncodeError, RecursionError, ValueError):
            reason = f"{part} holds strings that are not valid Unicode text"
            raise Rejection(Code.INVALID_FORMAT, reason, part=part) from None
        if "\x00" in dumped:
            raise Rejection(Code.INVALID_FORMAT, f"{part} holds NUL characters", part=part)
    return obj


def _decode_part(data: str, part: str) -> bytes:
    try:
        return b64url_decode(data)
    except ValueError:
        raise Rejection(Code.INVALID_FORMAT, f"{part} is not base64url", part=part) from None


class ParsedJws:
    """The pieces of a compact JWS once its format has been accepted."""

    __slots__ = ("alg", "header", "kid", "payload", "signature", "signing_input")

    def __init__(
        self,
        header: dict[str, Any],
        payload: dict[str, Any],
        signing_input: bytes,
        signature: bytes,
        alg: str,
        kid: str | None,
    ) -> None:
        self.header = header
        self.payload = payload
        self.signing_input = signing_input
        self.signature = signature
        self.alg = alg
        self.kid = kid


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


def parse_jws(token: Any, max_bytes: int) -> ParsedJws:
    """Split and decode a compact JWS; checks size, shape, header and algorithm."""
    if isinstance(token, bytes | bytearray | memoryview):
        if len(token) > max_bytes:
            raise Rejection(Code.TOO_LARGE, f"token exceeds {max_bytes} bytes", max_bytes=max_bytes)
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise Rejection(Code.INVALID_FORMAT, "token is not ASCII") from None
    elif type(token) is not str:
        if not isinstance(token, str):
            raise Rejection(Code.INVALID_FORMAT, "token must be a string")
        token = str(token)
    if len(token) > max_bytes:
        raise Rejection(Code.TOO_LARGE, f"token exceeds {max_bytes} bytes", max_bytes=max_bytes)
    token = token.strip(" \t\r\n")
    parts = token.split(".")
    if len(parts) != 3:
        reason = "encrypted (JWE) tokens are not supported" if len(parts) == 5 else None
        raise Rejection(Code.INVALID_FORMAT, reason or "token is not a compact JWS (3 parts)")
    header_b64, payload_b64, signature_b64 = parts
    if not header_b64 or not payload_b64:
        raise Rejection(Code.INVALID_FORMAT, "compact JWS has an empty header or payload")
    header = load_json_object(_decode_part(header_b64, "header"), "header")
    alg, kid = _check_header(header)
    payload = load_json_object(_decode_part(payload_b64, "payload"), "payload")
    signature = _decode_part(signature_b64, "signature")
    signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
    return ParsedJws(header, payload, signing_input, signature, alg, kid)
