"""Compact JWS with the vault key: signing, and strict verification against a JWKS.

The profile is deliberately narrow, so a verifier has nothing to negotiate:
the protected header holds exactly `alg` ("ES256"), `kid` (a key of the
published set) and `typ` (what the payload is); the payload is the signed
bytes, base64url-encoded. Anything else (`none`, HMAC or other algorithms,
`crit`, `jku`/`jwk`/`x5u`/`x5c`, unencoded payloads, unknown parameters) is
refused. Keys are parsed and signatures checked by `app.keys`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from jwt.api_jws import PyJWS

from app.keys import InvalidKeyMaterial, TrustedKey, b64url_decode, keys_from_jwks
from app.signing.keys import ALGORITHM, SigningError, SigningKey

DEFAULT_MAX_BYTES = 1 << 20
_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
_SIGNATURE_BYTES = 64
_PYJWS = PyJWS()


class JwsErrorCode(StrEnum):
    """Why a JWS was refused; stable values for reports and logs."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    HEADER_REFUSED = "header_refused"
    TYP_MISMATCH = "typ_mismatch"
    KID_MISSING = "kid_missing"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"


class JwsInvalid(SigningError):
    """A JWS that does not verify; `code` says which check refused it."""

    def __init__(self, code: JwsErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class KeySetInvalid(SigningError):
    """A JWKS that cannot serve as the set of vault keys."""


@dataclass(frozen=True, slots=True)
class KeySet:
    """Public keys by kid, prepared once (parse a JWKS once, verify many tokens)."""

    keys: Mapping[str, TrustedKey]

    @classmethod
    def from_jwks(cls, jwks: Any) -> KeySet:
        """Parse a JWKS object; every key needs a distinct kid. Raises KeySetInvalid."""
        try:
            parsed = keys_from_jwks(jwks)
        except InvalidKeyMaterial as exc:
            raise KeySetInvalid(f"JWKS unusable: {exc}") from exc
        by_kid: dict[str, TrustedKey] = {}
        for key in parsed:
            if key.kid is None:
                raise KeySetInvalid("every key of the vault JWKS needs a 'kid'")
            by_kid[key.kid] = key
        return cls(by_kid)

    def get(self, kid: str) -> TrustedKey | None:
        return self.keys.get(kid)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self.keys)


@dataclass(frozen=True, slots=True)
class VerifiedJws:
    """A JWS that verified: the exact signed payload bytes and who signed them."""

    payload: bytes
    kid: str
    typ: str | None


def sign_compact(key: SigningKey, payload: bytes, *, typ: str) -> str:
    """Compact JWS over exactly `payload`, header {alg: ES256, kid, typ}."""
    if not typ:
        raise ValueError("a typ is required: it tells verifiers what the payload is")
    return _PYJWS.encode(
        bytes(payload), key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": typ}
    )


def _part(data: str, name: str) -> bytes:
    try:
        return b64url_decode(data)
    except ValueError:
        raise JwsInvalid(JwsErrorCode.MALFORMED, f"JWS {name} is not base64url") from None


def _header(data: str) -> dict[str, Any]:
    try:
        header = orjson.loads(_part(data, "header"))
    except orjson.JSONDecodeError:
        raise JwsInvalid(JwsErrorCode.MALFORMED, "JWS header is not JSON") from None
    if type(header) is not dict:
        raise JwsInvalid(JwsErrorCode.MALFORMED, "JWS header is not a JSON object")
    return header


def _keyset(keys: KeySet | Mapping[str, Any]) -> KeySet:
    if isinstance(keys, KeySet):
        return keys
    return KeySet.from_jwks(keys)


def verify_jws(
    token: Any,
    keys: KeySet | Mapping[str, Any],
    *,
    typ: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> VerifiedJws:
    """Verify a compact JWS strictly; raises JwsInvalid (or KeySetInvalid for a bad JWKS).

    With `typ`, the header's typ must be exactly that, so one kind of signed
    document can never be passed off as another.
    """
    keyset = _keyset(keys)
    if type(token) is not str:
        raise JwsInvalid(JwsErrorCode.MALFORMED, "JWS must be a string")
    if len(token) > max_bytes:
        raise JwsInvalid(JwsErrorCode.TOO_LARGE, f"JWS exceeds {max_bytes} bytes")
    if not token.isascii():
        raise JwsInvalid(JwsErrorCode.MALFORMED, "JWS is not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise JwsInvalid(JwsErrorCode.MALFORMED, "not a compact JWS (header.payload.signature)")
    header = _header(parts[0])
    alg = header.get("alg")
    if alg != ALGORITHM:
        shown = alg[:20] if isinstance(alg, str) else type(alg).__name__
        raise JwsInvalid(JwsErrorCode.ALG_NOT_ALLOWED, f"JWS alg {shown!r} refused; ES256 only")
    if "crit" in header:
        raise JwsInvalid(JwsErrorCode.HEADER_REFUSED, "JWS 'crit' extensions are not supported")
    extra = set(header) - _HEADER_MEMBERS
    if extra:
        names = ", ".join(sorted(repr(name[:20]) for name in extra))
        raise JwsInvalid(JwsErrorCode.HEADER_REFUSED, f"JWS header parameters refused: {names}")
    header_typ = header.get("typ")
    if header_typ is not None and type(header_typ) is not str:
        raise JwsInvalid(JwsErrorCode.MALFORMED, "JWS 'typ' is not a string")
    if typ is not None and header_typ != typ:
        raise JwsInvalid(JwsErrorCode.TYP_MISMATCH, f"JWS typ is not {typ!r}")
    kid = header.get("kid")
    if kid is None:
        raise JwsInvalid(JwsErrorCode.KID_MISSING, "JWS header has no 'kid'")
    if type(kid) is not str or not kid:
        raise JwsInvalid(JwsErrorCode.MALFORMED, "JWS 'kid' is not a non-empty string")
    key = keyset.get(kid)
    if key is None:
        raise JwsInvalid(JwsErrorCode.UNKNOWN_KEY, f"JWS kid {kid[:64]!r} names no published key")
    verifier = key.verifiers.get(ALGORITHM)
    if verifier is None:
        raise JwsInvalid(JwsErrorCode.ALG_NOT_ALLOWED, f"key {kid[:64]!r} is not an ES256 key")
    payload = _part(parts[1], "payload")
    signature = _part(parts[2], "signature")
    if len(signature) != _SIGNATURE_BYTES:
        raise JwsInvalid(JwsErrorCode.BAD_SIGNATURE, "JWS signature has the wrong length")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    try:
        verifier(signature, signing_input)
    except (InvalidSignature, ValueError):
        raise JwsInvalid(JwsErrorCode.BAD_SIGNATURE, "JWS signature does not verify") from None
    return VerifiedJws(payload=payload, kid=kid, typ=header_typ)
