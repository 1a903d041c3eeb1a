"""What a token names before it is verified: issuers and their key ids."""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from app.mandates.verification import peek
from app.mandates.verification.peek import referenced_issuers, referenced_keys

KEY = ec.generate_private_key(ec.SECP256R1())


def _token(payload: dict, kid: str | None = "k1") -> str:
    headers = {"kid": kid} if kid else {}
    return jwt.encode(payload, KEY, algorithm="ES256", headers=headers)


def test_a_cart_names_its_issuer_and_its_merchants_with_their_key_ids():
    inner = _token({"iss": "did:web:shop.example"}, kid=None)
    outer = _token(
        {
            "iss": "did:web:bank.example",
            "vc": {"credentialSubject": {"merchant_authorization": inner}},
        }
    )
    expected = {"did:web:bank.example": {"k1"}, "did:web:shop.example": {None}}
    for _ in range(3):  # asked again, as a submission is: the same answer
        assert referenced_keys(outer) == expected
        assert referenced_issuers(outer) == set(expected)


def test_what_cannot_be_read_names_nothing():
    for token in (None, 42, "", "a.b", "a.b.c.d", "e30.!!!.x", "e30.W10.x", "x" * 70_000):
        assert referenced_keys(token) == {}
        assert referenced_issuers(token) == set()


def test_the_payloads_held_are_bounded_and_each_token_keeps_its_own():
    tokens = [_token({"iss": f"did:web:{n}.example"}) for n in range(3 * peek._PAYLOADS_SIZE)]
    for round_ in range(2):
        for n, token in enumerate(tokens):
            assert referenced_issuers(token) == {f"did:web:{n}.example"}, round_
            assert len(peek._PAYLOADS) <= peek._PAYLOADS_SIZE
    big = _token({"iss": "did:web:big.example", "pad": "x" * peek._PAYLOADS_MAX_TOKEN})
    assert referenced_issuers(big) == {"did:web:big.example"}
    assert big not in peek._PAYLOADS
