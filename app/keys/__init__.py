"""Keys and trust, shared by every verification engine: JWK and DID parsing into
prepared public keys, and the trust snapshot an engine reads. Pure: no database,
no network, and no imports from the rest of the application."""

from app.keys.b64 import b64url_decode, b64url_encode
from app.keys.did import UnsupportedDid, keys_from_did
from app.keys.jwk import (
    ALLOWED_ALGS,
    InvalidKeyMaterial,
    TrustedKey,
    Verifier,
    key_from_jwk,
    keys_from_jwks,
    prepare_public_key,
)
from app.keys.trust import IssuerStatus, TrustedIssuer, TrustSnapshot, TrustStore, issuer_status

__all__ = [
    "ALLOWED_ALGS",
    "InvalidKeyMaterial",
    "IssuerStatus",
    "TrustSnapshot",
    "TrustStore",
    "TrustedIssuer",
    "TrustedKey",
    "UnsupportedDid",
    "Verifier",
    "b64url_decode",
    "b64url_encode",
    "key_from_jwk",
    "issuer_status",
    "keys_from_did",
    "keys_from_jwks",
    "prepare_public_key",
]
