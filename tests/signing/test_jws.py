"""Strict JWS: what the vault signs verifies anywhere; nothing else verifies here."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from app.keys import b64url_decode, b64url_encode
from app.signing import (
    JwsErrorCode,
    JwsInvalid,
    Keyring,
    KeySet,
    KeySetInvalid,
    SigningKey,
    generate_signing_key,
    sign_compact,
    verify_jws,
)

TYP = "test-document+jws"


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring.of(generate_signing_key())


def _forge(header: dict, payload: bytes, key: SigningKey) -> str:
    """A JWS with any header, ES256-signed by `key` over exactly these bytes."""
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(payload)
    der = key.private_key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{head}.{body}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def test_round_trip_returns_the_exact_payload_and_kid(keyring: Keyring) -> None:
    payload = b'{"b":1,"a":[true,null]}\n'
    token = keyring.sign(payload, typ=TYP)
    verified = verify_jws(token, keyring.public_jwks(), typ=TYP)
    assert verified.payload == payload
    assert verified.kid == keyring.kid
    assert verified.typ == TYP
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header == {"alg": "ES256", "kid": keyring.kid, "typ": TYP}


def test_an_independent_library_verifies_what_we_sign(keyring: Keyring) -> None:
    token = keyring.sign(b"evidence", typ=TYP)
    public = keyring.current.private_key.public_key()
    assert jwt.api_jws.PyJWS().decode(token, public, algorithms=["ES256"]) == b"evidence"


def test_we_verify_what_an_independent_library_signs(keyring: Keyring) -> None:
    key = keyring.current
    token = jwt.api_jws.PyJWS().encode(
        b"x", key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": TYP}
    )
    assert verify_jws(token, keyring.keyset(), typ=TYP).payload == b"x"


def test_typ_is_required_to_sign_and_checked_when_asked(keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="typ"):
        sign_compact(keyring.current, b"x", typ="")
    token = keyring.sign(b"x", typ="other+jws")
    with pytest.raises(JwsInvalid) as caught:
        verify_jws(token, keyring.keyset(), typ=TYP)
    assert caught.value.code is JwsErrorCode.TYP_MISMATCH


def test_rotated_keyring_still_verifies_old_signatures(keyring: Keyring) -> None:
    token = keyring.sign(b"old", typ=TYP)
    rotated = keyring.rotated()
    assert rotated.kid != keyring.kid
    assert verify_jws(token, rotated.public_jwks()).kid == keyring.kid
    assert verify_jws(rotated.sign(b"new", typ=TYP), rotated.keyset()).kid == rotated.kid


def test_a_key_outside_the_set_is_unknown_and_a_kid_reuse_fails_the_signature(
    keyring: Keyring,
) -> None:
    stranger = Keyring.of(generate_signing_key())
    with pytest.raises(JwsInvalid) as caught:
        verify_jws(stranger.sign(b"x", typ=TYP), keyring.keyset())
    assert caught.value.code is JwsErrorCode.UNKNOWN_KEY
    # Another key claiming our kid: the signature does not verify.
    impostor = _forge({"alg": "ES256", "kid": keyring.kid, "typ": TYP}, b"x", stranger.current)
    with pytest.raises(JwsInvalid) as caught:
        verify_jws(impostor, keyring.keyset())
    assert caught.value.code is JwsErrorCode.BAD_SIGNATURE


def test_the_forger_signing_our_own_bytes_passes(keyring: Keyring) -> None:
    # The _forge helper itself must produce verifiable tokens, or the refusals below prove nothing.
    token = _forge({"alg": "ES256", "kid": keyring.kid, "typ": TYP}, b"x", keyring.current)
    assert verify_jws(token, keyring.keyset()).payload == b"x"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"alg": "none", "kid": "K"}, JwsErrorCode.ALG_NOT_ALLOWED),
        ({"alg": "HS256", "kid": "K"}, JwsErrorCode.ALG_NOT_ALLOWED),
        ({"alg": "ES384", "kid": "K"}, JwsErrorCode.ALG_NOT_ALLOWED),
        ({"alg": "es256", "kid": "K"}, JwsErrorCode.ALG_NOT_ALLOWED),
        ({"kid": "K"}, JwsErrorCode.ALG_NOT_ALLOWED),
        ({"alg": "ES256", "kid": "K", "crit": ["exp"], "exp": 1}, JwsErrorCode.HEADER_REFUSED),
        ({"alg": "ES256", "kid": "K", "b64": False}, JwsErrorCode.HEADER_REFUSED),
        ({"alg": "ES256", "kid": "K", "jku": "https://evil.example"}, JwsErrorCode.HEADER_REFUSED),
        ({"alg": "ES256", "kid": "K", "jwk": {"kty": "EC"}}, JwsErrorCode.HEADER_REFUSED),
        ({"alg": "ES256", "kid": "K", "x5c": ["AAAA"]}, JwsErrorCode.HEADER_REFUSED),
        ({"alg": "ES256"}, JwsErrorCode.KID_MISSING),
        ({"alg": "ES256", "kid": 7}, JwsErrorCode.MALFORMED),
        ({"alg": "ES256", "kid": "K", "typ": 1}, JwsErrorCode.MALFORMED),
    ],
)
def test_refused_headers(keyring: Keyring, header: dict, code: JwsErrorCode) -> None:
    header = {k: (keyring.kid if v == "K" else v) for k, v in header.items()}
    token = _forge(header, b"x", keyring.current)
    with pytest.raises(JwsInvalid) as caught:
        verify_jws(token, keyring.keyset())
    assert caught.value.code is code


def test_hs256_signed_with_the_public_key_is_refused(keyring: Keyring) -> None:
    # The classic confusion: HMAC keyed with the public key's text.
    secret = keyring.current.public_jwk()["x"].encode()
    token = jwt.api_jws.PyJWS().encode(
        b"x", secret, algorithm="HS256", headers={"kid": keyring.kid}
    )
    with pytest.raises(JwsInvalid) as caught:
        verify_jws(token, keyring.keyset())
    assert caught.value.code is JwsErrorCode.ALG_NOT_ALLOWED


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.rsplit(".", 1)[0],  # two parts
        lambda t: t + ".x",  # four parts
        lambda t: "." + t.split(".", 1)[1],  # empty header
        lambda t: t.rsplit(".", 1)[0] + ".",  # empty signature
        lambda t: "e30." + t.split(".", 1)[1].replace("e30", ""),  # {} header (no alg)
        lambda t: "bm90IGpzb24." + t.split(".", 1)[1],  # header not JSON
        lambda t: "WzFd." + t.split(".", 1)[1],  # header a JSON array
        lambda t: t.replace(".", ".=", 1),  # padding
        lambda t: t + "é",  # not ASCII
    ],
)
def test_malformed_tokens(keyring: Keyring, mangle) -> None:
    token = mangle(keyring.sign(b"payload", typ=TYP))
    with pytest.raises(JwsInvalid) as caught:
        verify_jws(token, keyring.keyset())
    assert caught.value.code in {JwsErrorCode.MALFORMED, JwsErrorCode.ALG_NOT_ALLOWED}


def test_non_canonical_base64_and_short_signatures(keyring: Keyring) -> None:
    head, body, sig = keyring.sign(b"payload", typ=TYP).split(".")
    # The last signature character carries 2 unused bits in 86 characters; set them.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sneaky = sig[:-1] + alphabet[alphabet.index(sig[-1]) | 1]
    if sneaky != sig:
        with pytest.raises(JwsInvalid) as caught:
            verify_jws(f"{head}.{body}.{sneaky}", keyring.keyset())
        assert caught.value.code is JwsErrorCode.MALFORMED
    with pytest.raises(JwsInvalid) as caught:
        verify_jws(f"{head}.{body}.{sig[:40]}", keyring.keyset())
    assert caught.value.code in {JwsErrorCode.BAD_SIGNATURE, JwsErrorCode.MALFORMED}


def test_size_and_type_limits(keyring: Keyring) -> None:
    with pytest.raises(JwsInvalid) as caught:
        verify_jws(keyring.sign(b"x" * 2000, typ=TYP), keyring.keyset(), max_bytes=1000)
    assert caught.value.code is JwsErrorCode.TOO_LARGE
    for value in (None, 1, b"a.b.c", ["a"]):
        with pytest.raises(JwsInvalid):
            verify_jws(value, keyring.keyset())


def test_keyset_needs_kids_and_valid_keys() -> None:
    key = generate_signing_key()
    jwk = key.public_jwk()
    del jwk["kid"]
    with pytest.raises(KeySetInvalid, match="kid"):
        KeySet.from_jwks({"keys": [jwk]})
    with pytest.raises(KeySetInvalid):
        KeySet.from_jwks({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]})
    with pytest.raises(KeySetInvalid):
        KeySet.from_jwks({"nope": []})
    with pytest.raises(KeySetInvalid):
        verify_jws("a.b.c", {"keys": "x"})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_verifies_and_raises_only_jws_invalid(text: str) -> None:
    keys = _SHARED.keyset()
    with pytest.raises(JwsInvalid):
        verify_jws(text, keys)


_SHARED = Keyring.of(generate_signing_key())
_TOKEN = _SHARED.sign(b'{"seq":1}', typ=TYP)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(_TOKEN) - 1), st.sampled_from("AQgw-_.x="))
def test_any_changed_character_fails(position: int, char: str) -> None:
    if _TOKEN[position] == char:
        return
    mutated = _TOKEN[:position] + char + _TOKEN[position + 1 :]
    with pytest.raises(JwsInvalid):
        verify_jws(mutated, _SHARED.keyset())
