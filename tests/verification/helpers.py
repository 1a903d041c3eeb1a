"""Token minting helpers for the verification tests (PyJWT + cryptography)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import jwt
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

NOW = 1_800_000_000
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def did_key(public_key: Any) -> str:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = b"\xed\x01" + public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    else:
        raw = b"\x80\x24" + public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
    return "did:key:z" + b58encode(raw)


def public_jwk(private_key: Any, kid: str | None = None) -> dict[str, Any]:
    jwk = json.loads(
        jwt.algorithms.get_default_algorithms()[_alg_for(private_key)].to_jwk(
            private_key.public_key()
        )
    )
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def _alg_for(private_key: Any) -> str:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return "ES384" if private_key.curve.name == "secp384r1" else "ES256"
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    return "EdDSA"


def did_jwk(private_key: Any) -> str:
    return "did:jwk:" + b64url(json.dumps(public_jwk(private_key)).encode())


def generic_claims(iss: str, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": iss,
        "sub": "did:example:agent-1",
        "iat": NOW - 60,
        "exp": NOW + 3600,
        "jti": uuid.uuid4().hex,
        "vc": {
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "type": ["VerifiableCredential", "Mandate"],
            "credentialSubject": {
                "id": "did:example:agent-1",
                "scope": "payments:recurring",
                "amount_limit": "500.00",
                "currency": "USD",
            },
        },
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def subject_claims(iss: str, kind: str, subject: dict[str, Any], **overrides: Any) -> dict:
    claims = generic_claims(iss, **overrides)
    claims["vc"]["type"] = ["VerifiableCredential", kind]
    claims["vc"]["credentialSubject"] = {"id": "did:example:agent-1", **subject}
    return claims


def mint(claims: dict[str, Any], key: Any, alg: str, kid: str | None = "k1", **headers: Any) -> str:
    if kid is not None:
        headers["kid"] = kid
    return jwt.encode(claims, key, algorithm=alg, headers=headers or None)


def unsigned(header: dict[str, Any], claims: Any, signature: bytes = b"") -> str:
    return ".".join(
        [
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(claims).encode()),
            b64url(signature),
        ]
    )


def cart_contents(**overrides: Any) -> dict[str, Any]:
    contents = {
        "id": "cart-1",
        "user_cart_confirmation_required": True,
        "payment_request": {
            "method_data": [{"supported_methods": "CARD"}],
            "details": {
                "id": "order-1",
                "display_items": [
                    {"label": "Red shoes", "amount": {"currency": "USD", "value": "129.99"}}
                ],
                "total": {"label": "Total", "amount": {"currency": "USD", "value": "129.99"}},
            },
        },
        "cart_expiry": "2027-01-15T10:00:00Z",
        "merchant_name": "Shop",
    }
    contents.update(overrides)
    return contents


def compute_cart_hash(contents: dict[str, Any]) -> str:
    return b64url(hashlib.sha256(rfc8785.dumps(contents)).digest())
