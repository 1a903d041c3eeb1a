"""DIDs that carry their own key, resolved offline: did:key and did:jwk."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from app.keys.b64 import b64url_decode
from app.keys.jwk import InvalidKeyMaterial, TrustedKey, key_from_jwk, prepare_public_key

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
_MAX_DID_LENGTH = 4096


class UnsupportedDid(InvalidKeyMaterial):
    """A DID method (or key type inside it) that cannot be resolved offline."""


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58_INDEX.get(char)
        if index is None:
            raise UnsupportedDid("did:key value is not base58btc")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def _did_key(did: str) -> TrustedKey:
    value = did[len("did:key:") :]
    if not value.startswith("z") or len(value) > 200:
        raise UnsupportedDid("did:key must use base58btc multibase ('z')")
    raw = _b58decode(value[1:])
    public_key: Any
    try:
        if raw[:2] == b"\xed\x01" and len(raw) == 34:
            public_key = ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])
        elif raw[:2] == b"\x80\x24" and len(raw) == 35:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw[2:])
        elif raw[:2] == b"\x81\x24" and len(raw) == 51:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), raw[2:])
        else:
            raise UnsupportedDid("did:key multicodec must be Ed25519, P-256 or P-384")
    except ValueError as exc:
        if isinstance(exc, InvalidKeyMaterial):
            raise
        raise UnsupportedDid(f"did:key holds an invalid public key: {exc}") from exc
    return prepare_public_key(public_key, kid=value)


def _did_jwk(did: str) -> TrustedKey:
    try:
        jwk = json.loads(b64url_decode(did[len("did:jwk:") :]))
    except (ValueError, RecursionError) as exc:
        raise UnsupportedDid("did:jwk value is not base64url JSON") from exc
    try:
        key = key_from_jwk(jwk)
    except InvalidKeyMaterial as exc:
        raise UnsupportedDid(f"did:jwk holds an unusable key: {exc}") from exc
    # The DID document names its only verification method "#0".
    return TrustedKey("0", key.kty, key.crv, key.public_key, key.verifiers)


def keys_from_did(did: str) -> tuple[TrustedKey, ...]:
    """Resolve did:key / did:jwk offline; other methods need a JWKS."""
    if not isinstance(did, str) or len(did) > _MAX_DID_LENGTH:
        raise UnsupportedDid("DID must be a string of sane length")
    if did.startswith("did:key:"):
        return (_did_key(did),)
    if did.startswith("did:jwk:"):
        return (_did_jwk(did),)
    raise UnsupportedDid(f"cannot resolve {did.split(':')[:2]} offline; register a JWKS")
