"""The vault's signing keys and JWS: checkpoints, evidence manifests and AP2 receipts.

Pure: no database, no settings; callers pass the SecretBox and key material.
"""

from app.signing.jws import (
    JwsErrorCode,
    JwsInvalid,
    KeySet,
    KeySetInvalid,
    VerifiedJws,
    sign_compact,
    verify_jws,
)
from app.signing.keyring import Keyring
from app.signing.keys import (
    ALGORITHM,
    SigningError,
    SigningKey,
    SigningKeyError,
    SigningKeyUnreadable,
    generate_signing_key,
    jwk_thumbprint,
    load_signing_key_pem,
    read_signing_key_file,
    seal_signing_key,
    unseal_signing_key,
)

__all__ = [
    "ALGORITHM",
    "JwsErrorCode",
    "JwsInvalid",
    "KeySet",
    "KeySetInvalid",
    "Keyring",
    "SigningError",
    "SigningKey",
    "SigningKeyError",
    "SigningKeyUnreadable",
    "VerifiedJws",
    "generate_signing_key",
    "jwk_thumbprint",
    "load_signing_key_pem",
    "read_signing_key_file",
    "seal_signing_key",
    "sign_compact",
    "unseal_signing_key",
    "verify_jws",
]
