"""The vault's signing keys: ES256 (P-256) private keys, their public JWK and kid.

A key is made on first start (`generate_signing_key`), stored sealed with the
application's SecretBox (`seal_signing_key` / `unseal_signing_key`, PKCS#8 DER
inside a Fernet token), or read from a PEM file (`SIGNING_KEY_FILE`,
`load_signing_key_pem`). Its kid is the RFC 7638 JWK thumbprint of the public
key, so a kid names exactly one key everywhere it appears.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.core.secretbox import SecretBox, SecretUnreadable
from app.keys import b64url_encode

ALGORITHM = "ES256"
_COORDINATE_BYTES = 32
# RFC 7638 section 3.2: the members that define a key, per key type.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}


class SigningError(Exception):
    """Base of the signing package's errors."""


class SigningKeyError(SigningError):
    """A private key that cannot be used as the vault's signing key."""


class SigningKeyUnreadable(SigningKeyError):
    """A sealed private key that the configured keys do not open."""


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) of a public JWK; ValueError if incomplete."""
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ValueError(f"no thumbprint rule for kty {jwk.get('kty')!r}")
    required: dict[str, str] = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"JWK member {name!r} missing for the thumbprint")
        required[name] = value
    # RFC 7638: the required members, sorted, no whitespace; RFC 8785 output is exactly that.
    return b64url_encode(hashlib.sha256(rfc8785.dumps(required)).digest())


def _public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
    }


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One ES256 private key with its kid (RFC 7638 thumbprint) and public JWK."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    kid: str = field(init=False)
    _jwk: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            self.private_key.curve, ec.SECP256R1
        ):
            raise SigningKeyError("the vault signing key must be an EC P-256 (ES256) key")
        jwk = _public_jwk(self.private_key.public_key())
        kid = jwk_thumbprint(jwk)
        object.__setattr__(self, "kid", kid)
        object.__setattr__(self, "_jwk", {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK with kid, alg ES256 and use sig (a fresh copy)."""
        return dict(self._jwk)

    def private_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM, the form SIGNING_KEY_FILE holds."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def generate_signing_key() -> SigningKey:
    """A fresh random ES256 key."""
    return SigningKey(ec.generate_private_key(ec.SECP256R1()))


def _from_private(key: Any, source: str) -> SigningKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SigningKeyError(f"{source} holds a {_describe(key)}; an EC P-256 key is required")
    return SigningKey(key)


def _describe(key: Any) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name} key"
    return type(key).__name__.removeprefix("_").replace("PrivateKey", " key")


def seal_signing_key(key: SigningKey, box: SecretBox) -> str:
    """The private key as PKCS#8 DER sealed by `box` (text to store)."""
    der = key.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return box.seal(der)


def unseal_signing_key(sealed: str, box: SecretBox, *, kid: str | None = None) -> SigningKey:
    """Open a sealed key; with `kid`, also check it is the key that kid names."""
    try:
        der = box.open_bytes(sealed)
    except SecretUnreadable as exc:
        raise SigningKeyUnreadable(
            "the stored signing key cannot be decrypted (SECRET_KEY or ENCRYPTION_KEYS changed?)"
        ) from exc
    try:
        private = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError("the stored signing key is not a PKCS#8 private key") from exc
    key = _from_private(private, "the stored signing key")
    if kid is not None and key.kid != kid:
        raise SigningKeyError(f"the stored signing key is not the key {kid!r} names")
    return key


def load_signing_key_pem(data: bytes, password: bytes | None = None) -> SigningKey:
    """An ES256 key from PEM (PKCS#8 or SEC1, optionally encrypted with `password`)."""
    try:
        private = serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        # cryptography raises TypeError for a missing or unexpected password.
        raise SigningKeyError(f"signing key PEM: {exc}") from exc
    except ValueError as exc:
        raise SigningKeyError("signing key PEM cannot be read (not a private key PEM?)") from exc
    return _from_private(private, "the signing key PEM")


def read_signing_key_file(path: str | Path, password: bytes | None = None) -> SigningKey:
    """The key in SIGNING_KEY_FILE; SigningKeyError names the file when it cannot be used."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read signing key file {path}: {exc.strerror}") from exc
    try:
        return load_signing_key_pem(data, password)
    except SigningKeyError as exc:
        raise SigningKeyError(f"{path}: {exc}") from exc
