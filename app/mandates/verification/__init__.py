"""Pure mandate verification engine: no database, no HTTP, no I/O."""

from app.mandates.verification.codes import Code, MandateFields, VerificationResult
from app.mandates.verification.content import cart_hash
from app.mandates.verification.engine import verify_token
from app.mandates.verification.keys import (
    ALLOWED_ALGS,
    InvalidKeyMaterial,
    TrustedIssuer,
    TrustedKey,
    TrustSnapshot,
    TrustStore,
    UnsupportedDid,
    key_from_jwk,
    keys_from_did,
    keys_from_jwks,
    prepare_public_key,
)

__all__ = [
    "ALLOWED_ALGS",
    "Code",
    "InvalidKeyMaterial",
    "MandateFields",
    "TrustSnapshot",
    "TrustStore",
    "TrustedIssuer",
    "TrustedKey",
    "UnsupportedDid",
    "VerificationResult",
    "cart_hash",
    "key_from_jwk",
    "keys_from_did",
    "keys_from_jwks",
    "prepare_public_key",
    "verify_token",
]
