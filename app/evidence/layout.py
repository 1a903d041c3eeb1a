"""Where each artifact lives inside an evidence pack (docs/evidence-pack.md)."""

from __future__ import annotations

FORMAT = "mandate-vault/evidence-pack"
VERSION = 1
MANIFEST_TYP = "evidence-manifest+jws"

MANIFEST = "manifest.json"
MANIFEST_JWS = "manifest.jws"
TOKEN = "mandate/token.jwt"
VERIFICATION_AT_INGEST = "mandate/verification-at-ingest.json"
VERIFICATION_NOW = "mandate/verification-now.json"
CART_CONTENTS = "mandate/cart/contents.json"
MERCHANT_AUTHORIZATION = "mandate/cart/merchant-authorization.jwt"
ISSUER_KEYS_AT_INGEST = "issuers/keys-at-ingest.json"
ISSUER_KEYS_NOW = "issuers/keys-now.json"
AUDIT_ROWS = "audit/rows.json"
AUDIT_CHECKPOINTS = "audit/checkpoints.json"
VAULT_JWKS = "vault/jwks.json"

# Files every pack carries; the cart files come with cart mandates only.
REQUIRED = (
    TOKEN,
    VERIFICATION_AT_INGEST,
    VERIFICATION_NOW,
    ISSUER_KEYS_AT_INGEST,
    ISSUER_KEYS_NOW,
    AUDIT_ROWS,
    AUDIT_CHECKPOINTS,
    VAULT_JWKS,
)
# Folders kept for artifacts still to come (AP2 v0.2: delegation chain, receipts,
# dispute check); files there are hash-checked and signed like every other.
RESERVED_PREFIXES = ("ap2/",)

MEDIA_TYPES = {
    ".json": "application/json",
    ".jwt": "application/jwt",
    ".jws": "application/jose",
}


def media_type(path: str) -> str:
    """The media type recorded for a pack file, by its extension."""
    for suffix, kind in MEDIA_TYPES.items():
        if path.endswith(suffix):
            return kind
    return "application/octet-stream"
