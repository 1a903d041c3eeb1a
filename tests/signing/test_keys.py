"""The vault signing key: kid, sealing at rest, PEM files."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from app.core.secretbox import SecretBox, new_key
from app.keys import key_from_jwk
from app.signing import (
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

# RFC 7638 section 3.1: the worked example and its thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_thumbprint_matches_rfc7638_example() -> None:
    assert jwk_thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_refuses_incomplete_or_unknown_keys() -> None:
    with pytest.raises(ValueError, match="'n' missing"):
        jwk_thumbprint({"kty": "RSA", "e": "AQAB"})
    with pytest.raises(ValueError, match="no thumbprint rule"):
        jwk_thumbprint({"kty": "oct", "k": "abc"})


def test_generated_key_is_p256_with_its_thumbprint_as_kid() -> None:
    key = generate_signing_key()
    jwk = key.public_jwk()
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    assert jwk["alg"] == "ES256"
    assert jwk["use"] == "sig"
    assert jwk["kid"] == key.kid
    assert key.kid == jwk_thumbprint(jwk)
    assert "d" not in jwk
    # app.keys accepts it as a public ES256 key.
    assert key_from_jwk(jwk).algs == frozenset({"ES256"})
    assert generate_signing_key().kid != key.kid


def test_public_jwk_is_a_copy() -> None:
    key = generate_signing_key()
    key.public_jwk()["kid"] = "changed"
    assert key.public_jwk()["kid"] == key.kid


def test_other_curves_are_refused() -> None:
    with pytest.raises(SigningKeyError, match="P-256"):
        SigningKey(ec.generate_private_key(ec.SECP384R1()))


def test_seal_and_unseal_round_trip_checks_the_kid() -> None:
    box = SecretBox([new_key()])
    key = generate_signing_key()
    sealed = seal_signing_key(key, box)
    assert "PRIVATE" not in sealed
    assert unseal_signing_key(sealed, box, kid=key.kid).kid == key.kid
    with pytest.raises(SigningKeyError, match="not the key"):
        unseal_signing_key(sealed, box, kid=generate_signing_key().kid)


def test_unseal_with_another_secret_key_is_refused() -> None:
    sealed = seal_signing_key(generate_signing_key(), SecretBox.from_settings("a" * 40))
    with pytest.raises(SigningKeyUnreadable, match="cannot be decrypted"):
        unseal_signing_key(sealed, SecretBox.from_settings("b" * 40))
    with pytest.raises(SigningKeyUnreadable):
        unseal_signing_key("not a fernet token", SecretBox.from_settings("a" * 40))


def test_unseal_refuses_sealed_bytes_that_are_not_a_p256_key() -> None:
    box = SecretBox([new_key()])
    with pytest.raises(SigningKeyError, match="PKCS#8"):
        unseal_signing_key(box.seal(b"junk"), box)
    other = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SigningKeyError, match="EC P-256"):
        unseal_signing_key(box.seal(other), box)


def _pem(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    fmt: serialization.PrivateFormat,
    password: bytes | None = None,
) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption)


def test_pem_pkcs8_sec1_and_encrypted_load() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = SigningKey(private).kid
    assert load_signing_key_pem(_pem(private, serialization.PrivateFormat.PKCS8)).kid == kid
    assert (
        load_signing_key_pem(_pem(private, serialization.PrivateFormat.TraditionalOpenSSL)).kid
        == kid
    )
    encrypted = _pem(private, serialization.PrivateFormat.PKCS8, b"pass phrase")
    assert load_signing_key_pem(encrypted, b"pass phrase").kid == kid
    with pytest.raises(SigningKeyError, match="PEM"):
        load_signing_key_pem(encrypted)
    with pytest.raises(SigningKeyError, match="cannot be read"):
        load_signing_key_pem(encrypted, b"wrong")


def test_pem_of_other_key_types_or_junk_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SigningKeyError, match="RSA"):
        load_signing_key_pem(_pem(rsa_key, serialization.PrivateFormat.PKCS8))
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(SigningKeyError, match="secp384r1"):
        load_signing_key_pem(_pem(p384, serialization.PrivateFormat.PKCS8))
    with pytest.raises(SigningKeyError, match="cannot be read"):
        load_signing_key_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_key_file_round_trip_and_errors_name_the_file(tmp_path: Path) -> None:
    key = generate_signing_key()
    path = tmp_path / "vault.pem"
    path.write_bytes(key.private_pem())
    assert read_signing_key_file(path).kid == key.kid
    with pytest.raises(SigningKeyError, match="cannot read signing key file .*missing.pem"):
        read_signing_key_file(tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    with pytest.raises(SigningKeyError, match="bad.pem"):
        read_signing_key_file(bad)
