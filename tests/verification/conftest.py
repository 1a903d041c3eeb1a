from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from app.keys import TrustedIssuer, TrustSnapshot, prepare_public_key

ES_DID = "did:web:bank.example"
RS_DID = "did:web:rsa.example"
ED_DID = "did:web:ed.example"
ES384_DID = "did:web:p384.example"
MULTI_DID = "did:web:multi.example"
MERCHANT_DID = "did:web:shop.example"
SUSPENDED_DID = "did:web:suspended.example"
REVOKED_DID = "did:web:revoked.example"


@dataclass
class Keys:
    es: Any
    es384: Any
    rs: Any
    ed: Any
    multi1: Any
    multi2: Any
    merchant: Any
    stranger: Any


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        es=ec.generate_private_key(ec.SECP256R1()),
        es384=ec.generate_private_key(ec.SECP384R1()),
        rs=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed=ed25519.Ed25519PrivateKey.generate(),
        multi1=ec.generate_private_key(ec.SECP256R1()),
        multi2=ec.generate_private_key(ec.SECP256R1()),
        merchant=ec.generate_private_key(ec.SECP256R1()),
        stranger=ec.generate_private_key(ec.SECP256R1()),
    )


def _one(did: str, private: Any, status: str = "active", kid: str | None = "k1") -> TrustedIssuer:
    return TrustedIssuer(did, status, (prepare_public_key(private.public_key(), kid=kid),))


@pytest.fixture(scope="session")
def trust(keys: Keys) -> TrustSnapshot:
    multi = TrustedIssuer(
        MULTI_DID,
        "active",
        (
            prepare_public_key(keys.multi1.public_key(), kid="a"),
            prepare_public_key(keys.multi2.public_key(), kid="b"),
        ),
    )
    return TrustSnapshot(
        [
            _one(ES_DID, keys.es),
            _one(ES384_DID, keys.es384),
            _one(RS_DID, keys.rs),
            _one(ED_DID, keys.ed),
            multi,
            _one(MERCHANT_DID, keys.merchant),
            _one(SUSPENDED_DID, keys.es, status="suspended"),
            _one(REVOKED_DID, keys.es, status="revoked"),
        ]
    )
