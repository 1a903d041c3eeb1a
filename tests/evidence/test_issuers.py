"""Issuer key history: the keys and status in force at a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.evidence import IssuerKeys, KeyVersion, StatusChange, issuers_as_of, trust_snapshot
from app.keys import InvalidKeyMaterial
from app.mandates.verification import Code, verify_token
from tests.verification.helpers import NOW, did_key, generic_claims, mint, public_jwk

DID = "did:web:bank.example"
T0 = datetime.fromtimestamp(NOW, UTC) - timedelta(days=30)
ROTATED = T0 + timedelta(days=10)
SUSPENDED = T0 + timedelta(days=20)


@pytest.fixture(scope="module")
def history():
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    keys = [
        KeyVersion(DID, public_jwk(old, "k1"), T0, ROTATED),
        KeyVersion(DID, public_jwk(new, "k2"), ROTATED),
    ]
    statuses = [StatusChange(DID, "active", T0), StatusChange(DID, "suspended", SUSPENDED)]
    return old, new, keys, statuses


def test_the_keys_in_force_at_each_moment(history) -> None:
    _old, _new, keys, statuses = history
    (before,) = issuers_as_of(T0 + timedelta(days=1), [DID], keys, statuses)
    assert [k["kid"] for k in before.jwks["keys"]] == ["k1"]  # type: ignore[index]
    (after,) = issuers_as_of(ROTATED, [DID], keys, statuses)
    assert [k["kid"] for k in after.jwks["keys"]] == ["k2"]  # type: ignore[index]
    assert before.status == after.status == "active"
    (late,) = issuers_as_of(SUSPENDED + timedelta(seconds=1), [DID], keys, statuses)
    assert late.status == "suspended"
    assert issuers_as_of(T0 - timedelta(days=1), [DID], keys, statuses) == ()


def test_a_token_signed_before_the_rotation_verifies_with_the_keys_of_then(history) -> None:
    old, _new, keys, statuses = history
    signed_at = T0 + timedelta(days=2)
    claims = generic_claims(DID, iat=int(signed_at.timestamp()), exp=NOW + 3600)
    token = mint(claims, old, "ES256", kid="k1")
    then = trust_snapshot(issuers_as_of(signed_at, [DID], keys, statuses))
    assert verify_token(token, then, now=signed_at).code is Code.VALID
    today = trust_snapshot(issuers_as_of(ROTATED + timedelta(days=1), [DID], keys, statuses))
    assert verify_token(token, today, now=ROTATED + timedelta(days=1)).code is Code.KEY_NOT_FOUND


def test_self_keyed_dids_need_no_history() -> None:
    did = did_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    (issuer,) = issuers_as_of(T0, [did], [])
    assert issuer.jwks is None
    assert len(trust_snapshot([issuer])) == 1


def test_unusable_keys_or_status_are_refused() -> None:
    with pytest.raises(InvalidKeyMaterial):
        trust_snapshot([IssuerKeys(DID, "active", {"keys": [{"kty": "EC"}]})])
    with pytest.raises(ValueError, match="status"):
        trust_snapshot([IssuerKeys(DID, "paused", None)])
