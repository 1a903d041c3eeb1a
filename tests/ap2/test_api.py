"""The engine's public surface: adapters and small values the integration relies on."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import app.ap2.verification as engine
from app.ap2.verification import RootKeyIndex, Violation, public_jwk
from app.keys import (
    InvalidKeyMaterial,
    TrustedIssuer,
    TrustSnapshot,
    key_from_jwk,
    prepare_public_key,
)
from tests.ap2.scenarios import OTHER, OTHER_DID, PROVIDER, PROVIDER_DID, checkout


def test_every_exported_name_exists() -> None:
    for name in engine.__all__:
        assert hasattr(engine, name), name


def test_snapshot_adapter_indexes_the_named_active_issuers() -> None:
    snapshot = TrustSnapshot(
        [
            TrustedIssuer(PROVIDER_DID, "active", (key_from_jwk(PROVIDER.public_jwk()),)),
            TrustedIssuer(OTHER_DID, "suspended", (key_from_jwk(OTHER.public_jwk()),)),
        ]
    )
    keys = RootKeyIndex.from_snapshot(
        snapshot, [PROVIDER_DID, OTHER_DID, "did:web:unknown.example"]
    )
    assert [root.issuer_did for root in keys.candidates("ap-1")] == [PROVIDER_DID]
    assert keys.candidates("op-1") == ()  # suspended
    assert RootKeyIndex.from_snapshot(snapshot, []).candidates("ap-1") == ()
    result = checkout().verify(root_keys=keys)
    assert result.approved


def test_index_keeps_only_es256_keys_with_a_kid() -> None:
    p384 = prepare_public_key(ec.generate_private_key(ec.SECP384R1()).public_key(), kid="k")
    ed = prepare_public_key(ed25519.Ed25519PrivateKey.generate().public_key(), kid="k")
    no_kid = key_from_jwk(PROVIDER.jwk)
    keys = RootKeyIndex.from_issuers(
        [
            TrustedIssuer("did:web:x", "active", (p384,)),
            TrustedIssuer("did:web:y", "active", (ed,)),
            TrustedIssuer("did:web:z", "active", (no_kid,)),
        ]
    )
    assert keys.candidates("k") == ()


def test_public_jwk() -> None:
    key = key_from_jwk(PROVIDER.public_jwk())
    assert public_jwk(key) == PROVIDER.public_jwk()
    assert (
        key_from_jwk(public_jwk(key)).public_key.public_numbers() == key.public_key.public_numbers()
    )
    with pytest.raises(InvalidKeyMaterial):
        public_jwk(prepare_public_key(ed25519.Ed25519PrivateKey.generate().public_key()))


def test_violation_answer_form() -> None:
    assert Violation("payment.budget", "over").as_dict() == {
        "constraint": "payment.budget",
        "reason": "over",
    }
    assert Violation(None, "replay", unresolved=False).as_dict() == {
        "constraint": None,
        "reason": "replay",
    }
