"""Which issuer DIDs a token names, read without verifying anything.

The verification engine asks its trust store for issuers synchronously, so the
service loads the issuers a token can ask for before calling it: the token's
`iss`, and for a cart the merchant authorization's `iss`. This only needs to
find a superset; anything unreadable yields nothing and the engine reports it.
"""

from __future__ import annotations

import binascii
from typing import Any

import orjson

MAX_PEEK_BYTES = 65536
# The payloads of the last tokens peeked at: a submission is peeked at several
# times (its keys, then its issuers) before it is verified. Bounded; read only.
_PAYLOADS: dict[str, dict[str, Any] | None] = {}
_PAYLOADS_SIZE = 64
_PAYLOADS_MAX_TOKEN = 8192


def _payload(token: Any, part: int = 1) -> dict[str, Any] | None:
    if not isinstance(token, str) or len(token) > MAX_PEEK_BYTES:
        return None
    if part != 1:
        return _decoded(token, part)
    if token in _PAYLOADS:
        return _PAYLOADS[token]
    payload = _decoded(token, part)
    if len(token) <= _PAYLOADS_MAX_TOKEN:
        if len(_PAYLOADS) >= _PAYLOADS_SIZE:
            _PAYLOADS.clear()
        _PAYLOADS[token] = payload
    return payload


def _decoded(token: str, part: int) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    segment = parts[part]
    try:
        raw = binascii.a2b_base64(
            segment.replace("-", "+").replace("_", "/") + "=" * (-len(segment) % 4)
        )
        payload = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def referenced_issuers(token: Any) -> set[str]:
    found: set[str] = set()
    payload = _payload(token)
    if payload is None:
        return found
    if isinstance(iss := payload.get("iss"), str):
        found.add(iss)
    vc = payload.get("vc") if isinstance(payload.get("vc"), dict) else payload
    subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
    if isinstance(subject, dict):
        inner = _payload(subject.get("merchant_authorization"))
        if inner is not None and isinstance(inner.get("iss"), str):
            found.add(inner["iss"])
    return found


# Headers repeat across an issuer's tokens: the kid each names is kept (bounded).
_KIDS: dict[str, str | None] = {}
_KIDS_SIZE = 1024


def _kid(token: Any) -> str | None:
    segment = token.split(".", 1)[0] if isinstance(token, str) else None
    if segment is not None and segment in _KIDS:
        return _KIDS[segment]
    header = _payload(token, 0)
    kid = header.get("kid") if header is not None else None
    kid = kid if isinstance(kid, str) else None
    if segment is not None and len(segment) <= 512:
        if len(_KIDS) >= _KIDS_SIZE:
            _KIDS.clear()
        _KIDS[segment] = kid
    return kid


def referenced_keys(token: Any) -> dict[str, set[str | None]]:
    """The issuer DIDs a token names, each with the key ids its signatures name
    (None: no kid), so key material can be fetched before verifying."""
    found: dict[str, set[str | None]] = {}
    payload = _payload(token)
    if payload is None:
        return found
    if isinstance(iss := payload.get("iss"), str):
        found.setdefault(iss, set()).add(_kid(token))
    vc = payload.get("vc") if isinstance(payload.get("vc"), dict) else payload
    subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
    if isinstance(subject, dict):
        inner_token = subject.get("merchant_authorization")
        inner = _payload(inner_token)
        if inner is not None and isinstance(inner.get("iss"), str):
            found.setdefault(inner["iss"], set()).add(_kid(inner_token))
    return found
