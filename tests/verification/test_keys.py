"""Key preparation: JWKS and DID validation raise InvalidKeyMaterial with a clear message."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.keys import (
    InvalidKeyMaterial,
    TrustedIssuer,
    UnsupportedDid,
    key_from_jwk,
    prepare_public_key,
)
from tests.verification.helpers import b64url, did_jwk, did_key, public_jwk


def test_jwk_round_trip_keeps_kid_and_algs(keys):
    key = key_from_jwk(public_jwk(keys.es, kid="k1"))
    assert (key.kid, key.kty, key.crv, key.algs) == ("k1", "EC", "P-256", frozenset({"ES256"}))
    rsa_key = key_from_jwk(public_jwk(keys.rs))
    assert rsa_key.algs == frozenset({"RS256", "RS384", "RS512", "PS256", "PS384"})
    narrowed = key_from_jwk({**public_jwk(keys.rs), "alg": "PS256"})
    assert narrowed.algs == frozenset({"PS256"})


def test_small_rsa_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(InvalidKeyMaterial, match="2048"):
        key_from_jwk(public_jwk(small))
    with pytest.raises(InvalidKeyMaterial, match="2048"):
        prepare_public_key(small.public_key())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda j: {**j, "d": "AAAA"},
        lambda j: {**j, "crv": "P-521"},
        lambda j: {**j, "kty": "oct"},
        lambda j: {**j, "x": j["x"] + "A"},
        lambda j: {**j, "y": b64url(b"\x01" * 32)},
        lambda j: {**j, "alg": "HS256"},
        lambda j: {**j, "alg": "RS256"},
        lambda j: {**j, "use": "enc"},
        lambda j: {**j, "x": 5},
        lambda j: [j],
    ],
)
def test_bad_jwk_refused(keys, mutate):
    with pytest.raises(InvalidKeyMaterial):
        key_from_jwk(mutate(public_jwk(keys.es)))


def test_bad_jwks_refused(keys):
    with pytest.raises(InvalidKeyMaterial):
        TrustedIssuer.from_jwks("did:web:x", "active", {"keys": []})
    with pytest.raises(InvalidKeyMaterial):
        TrustedIssuer.from_jwks("did:web:x", "active", [public_jwk(keys.es)])
    duplicate = {"keys": [public_jwk(keys.es, "k"), public_jwk(keys.multi1, "k")]}
    with pytest.raises(InvalidKeyMaterial, match="kid"):
        TrustedIssuer.from_jwks("did:web:x", "active", duplicate)
    with pytest.raises(ValueError, match="status"):
        TrustedIssuer.from_jwks("did:web:x", "paused", {"keys": [public_jwk(keys.es)]})


@pytest.mark.parametrize(
    "did",
    [
        "did:web:bank.example",
        "did:key:abc",
        "did:key:z111",
        "did:key:z6MkrfT4iDbbN66XBCSWRGzVWQRJdZoYy1Dw28PTPKCUTY1",
        "did:jwk:!!!",
        "did:jwk:" + b64url(b'{"kty":"EC"}'),
        "did:jwk:" + b64url(b"[[[[["),
    ],
)
def test_bad_dids_refused(did):
    with pytest.raises(UnsupportedDid):
        TrustedIssuer.from_did(did, "active")


def test_did_key_and_did_jwk_resolve(keys):
    ed = TrustedIssuer.from_did(did_key(keys.ed.public_key()), "active")
    assert (ed.keys[0].crv, ed.keys[0].algs) == ("Ed25519", frozenset({"EdDSA"}))
    p256 = TrustedIssuer.from_did(did_key(keys.es.public_key()), "active")
    assert p256.keys[0].crv == "P-256"
    assert p256.keys[0].public_key.public_numbers() == keys.es.public_key().public_numbers()
    jwk = TrustedIssuer.from_did(did_jwk(keys.rs), "active")
    assert (jwk.keys[0].kid, jwk.keys[0].kty) == ("0", "RSA")


def test_unsupported_curve_object_refused():
    with pytest.raises(InvalidKeyMaterial):
        prepare_public_key(ec.generate_private_key(ec.SECP256K1()).public_key())
