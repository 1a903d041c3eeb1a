"""Deterministic keys and compact JWS signing for the verification vectors.

Every key comes from a fixed label (EC and Ed25519) or a committed test-only PEM
(RSA), and every signature is deterministic (RFC 6979 ECDSA, Ed25519, PKCS#1 v1.5,
and PSS with a salt derived from the signing input), so minting twice gives the
same bytes and a test can compare the committed file with a fresh mint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from app.keys import b64url_decode
from tests.verification.helpers import b64url, public_jwk

RSA_PEM = Path(__file__).with_name("rsa_issuer_test_only.pem")
_LABEL_PREFIX = b"mandate-vault-vectors/"
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES: dict[str, tuple[ec.EllipticCurve, Any]] = {
    "P-256": (ec.SECP256R1(), hashlib.sha256),
    "P-384": (ec.SECP384R1(), hashlib.sha384),
}
# Group orders of the curves above (SEC 2).
_ORDERS = {
    "P-256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "P-384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def ec_key(label: str, curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    """The EC key of a label: scalar = H(label) mod (n - 1) + 1, never zero."""
    curve_obj, digest = _CURVES[curve]
    scalar = int.from_bytes(digest(_LABEL_PREFIX + label.encode()).digest(), "big")
    return ec.derive_private_key(scalar % (_ORDERS[curve] - 1) + 1, curve_obj)


def ed25519_key(label: str) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 key of a label: its 32-byte seed is SHA-256(label)."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(_LABEL_PREFIX + label.encode()).digest()
    )


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    """The committed 2048-bit test-only RSA key (generating one per run would be slow)."""
    key = serialization.load_pem_private_key(RSA_PEM.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{RSA_PEM} does not hold an RSA private key")
    return key


def jwk(key: PrivateKey, kid: str | None = None) -> dict[str, Any]:
    """The public JWK of a private key, members in a stable order."""
    return public_jwk(key, kid)


def encode_json(value: Any) -> str:
    """base64url of compact JSON, as a JWS header or payload."""
    return b64url(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _pss_sign(key: rsa.RSAPrivateKey, data: bytes, bits: str) -> bytes:
    """RSASSA-PSS (RFC 8017 8.1.1) with a salt derived from `data`, so the output is fixed.

    cryptography always draws a random salt; the verifier does not care where the
    salt came from, and a test checks these signatures with cryptography's verifier.
    """
    digest = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[bits]
    h_len = digest().digest_size
    salt = digest(b"pss-salt/" + data).digest()
    mod_bits = key.key_size
    em_len = (mod_bits - 1 + 7) // 8
    m_hash = digest(data).digest()
    h = digest(b"\x00" * 8 + m_hash + salt).digest()
    db = b"\x00" * (em_len - 2 * h_len - 2) + b"\x01" + salt
    mask_len = em_len - h_len - 1
    mask = b"".join(  # MGF1 over h
        digest(h + counter.to_bytes(4, "big")).digest() for counter in range(-(-mask_len // h_len))
    )[:mask_len]
    masked = bytearray(a ^ b for a, b in zip(db, mask, strict=True))
    masked[0] &= 0xFF >> (8 * em_len - (mod_bits - 1))
    em = int.from_bytes(bytes(masked) + h + b"\xbc", "big")
    numbers = key.private_numbers()
    signature = pow(em, numbers.d, numbers.public_numbers.n)
    return signature.to_bytes((mod_bits + 7) // 8, "big")


def raw_signature(key: PrivateKey, alg: str, data: bytes) -> bytes:
    """The JWS signature bytes of `data` under `alg` (deterministic for every alg)."""
    bits = alg[2:]
    if isinstance(key, ec.EllipticCurvePrivateKey) and alg.startswith("ES"):
        der = key.sign(data, ec.ECDSA(_HASHES[bits](), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, ed25519.Ed25519PrivateKey) and alg == "EdDSA":
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey) and alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), _HASHES[bits]())
    if isinstance(key, rsa.RSAPrivateKey) and alg.startswith("PS"):
        return _pss_sign(key, data, bits)
    raise ValueError(f"cannot sign {alg} with {type(key).__name__}")


def hmac_signature(secret: bytes, data: bytes) -> bytes:
    """HS256, for the key-confusion vector (a public key used as an HMAC secret)."""
    return hmac.new(secret, data, hashlib.sha256).digest()


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True, slots=True)
class Jws:
    """A compact JWS in parts, so vectors can tamper with one part and keep the rest."""

    header: str
    payload: str
    signature: str

    @property
    def signing_input(self) -> bytes:
        return f"{self.header}.{self.payload}".encode("ascii")

    @property
    def compact(self) -> str:
        return f"{self.header}.{self.payload}.{self.signature}"


def sign(header: dict[str, Any], claims: Any, key: PrivateKey, alg: str | None = None) -> Jws:
    """Sign `claims` under `header`; `alg` overrides the algorithm used (mismatch vectors)."""
    return sign_parts(encode_json(header), encode_json(claims), key, alg or header["alg"])


def sign_parts(header: str, payload: str, key: PrivateKey, alg: str) -> Jws:
    """Sign already-encoded parts (for payloads that json.dumps must write, such as NaN)."""
    data = f"{header}.{payload}".encode("ascii")
    return Jws(header, payload, b64url(raw_signature(key, alg, data)))


def flip_signature(jws: Jws) -> Jws:
    """The same JWS with one signature bit flipped (still canonical base64url)."""
    raw = bytearray(b64url_decode(jws.signature))
    raw[len(raw) // 2] ^= 0x01
    return Jws(jws.header, jws.payload, b64url(bytes(raw)))


@dataclass(frozen=True, slots=True)
class Signer:
    """A key as vector tokens use it: the issuer DID they claim and the `kid` they carry."""

    did: str
    key: PrivateKey
    kid: str | None = "k1"

    def with_kid(self, kid: str | None) -> Signer:
        return Signer(self.did, self.key, kid)

    def with_key(self, key: PrivateKey) -> Signer:
        """The same DID and kid, signed by another key (forgery vectors)."""
        return Signer(self.did, key, self.kid)

    def token(self, claims: Any, alg: str, alg_used: str | None = None, **header: Any) -> Jws:
        """A JWS over `claims`: header alg, kid, typ JWT plus `header` (`...` removes one).

        `alg_used` signs with another algorithm than the header names.
        """
        head: dict[str, Any] = {"alg": alg}
        if self.kid is not None:
            head["kid"] = self.kid
        head["typ"] = "JWT"
        head.update(header)
        head = {k: v for k, v in head.items() if v is not ...}
        return sign(head, claims, self.key, alg_used)
