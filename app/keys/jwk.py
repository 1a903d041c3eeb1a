"""Public keys from JWKs, prepared once with a verifier per allowed algorithm.

A trust snapshot holds these; a verification engine only looks a key up by
`kid` and calls the verifier bound here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from app.keys.b64 import b64url_decode

# Raises cryptography.exceptions.InvalidSignature on a bad signature.
Verifier = Callable[[bytes, bytes], None]

ALLOWED_ALGS: frozenset[str] = frozenset(
    {"ES256", "ES384", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384"}
)
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
_RSA_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384")
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class InvalidKeyMaterial(ValueError):
    """A JWK, JWKS or DID that cannot be used as a trusted verification key."""


# --- per-algorithm verifiers -------------------------------------------------------------


def _ecdsa_verifier(key: ec.EllipticCurvePublicKey, size: int, hash_alg: Any) -> Verifier:
    scheme = ec.ECDSA(hash_alg)
    verify = key.verify
    from_bytes = int.from_bytes

    def check(signature: bytes, data: bytes) -> None:
        if len(signature) != 2 * size:
            raise _bad_signature()
        der = encode_dss_signature(
            from_bytes(signature[:size], "big"), from_bytes(signature[size:], "big")
        )
        verify(der, data, scheme)

    return check


def _rsa_verifier(key: rsa.RSAPublicKey, alg: str) -> Verifier:
    hash_alg = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    if alg.startswith("PS"):
        # RFC 7518 3.5: the salt is as long as the digest.
        pad: padding.AsymmetricPadding = padding.PSS(
            mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size
        )
    else:
        pad = padding.PKCS1v15()
    verify = key.verify
    expected = (key.key_size + 7) // 8

    def check(signature: bytes, data: bytes) -> None:
        if len(signature) != expected:
            raise _bad_signature()
        verify(signature, data, pad, hash_alg)

    return check


def _eddsa_verifier(key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> Verifier:
    return key.verify


def _bad_signature() -> Exception:
    return InvalidSignature()


# --- trusted keys and issuers --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One prepared public key: its `kid`, type/curve, and a verifier per allowed alg."""

    kid: str | None
    kty: str
    crv: str | None
    public_key: Any
    verifiers: Mapping[str, Verifier] = field(repr=False)

    @property
    def algs(self) -> frozenset[str]:
        return frozenset(self.verifiers)

    def __reduce__(self) -> tuple[Any, tuple[bytes, str | None, tuple[str, ...]]]:
        """Pickled as its public key's DER (a process pool's workers verify with it)."""
        der = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return _restore_key, (der, self.kid, tuple(sorted(self.verifiers)))


@lru_cache(maxsize=1024)
def _restore_key(der: bytes, kid: str | None, algs: tuple[str, ...]) -> TrustedKey:
    """A key unpickled again; cached, so a worker loads each key once."""
    key = prepare_public_key(serialization.load_der_public_key(der), kid=kid)
    verifiers = {alg: verify for alg, verify in key.verifiers.items() if alg in algs}
    return TrustedKey(
        kid=key.kid, kty=key.kty, crv=key.crv, public_key=key.public_key, verifiers=verifiers
    )


def prepare_public_key(
    public_key: Any, kid: str | None = None, alg: str | None = None
) -> TrustedKey:
    """Wrap a cryptography public key object; `alg` narrows it to one algorithm."""
    verifiers: dict[str, Verifier]
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = public_key.curve.name
        if curve == "secp256r1":
            kty, crv = "EC", "P-256"
            verifiers = {"ES256": _ecdsa_verifier(public_key, 32, hashes.SHA256())}
        elif curve == "secp384r1":
            kty, crv = "EC", "P-384"
            verifiers = {"ES384": _ecdsa_verifier(public_key, 48, hashes.SHA384())}
        else:
            raise InvalidKeyMaterial(f"unsupported EC curve {curve}")
    elif isinstance(public_key, rsa.RSAPublicKey):
        kty, crv = "RSA", None
        if not MIN_RSA_BITS <= public_key.key_size <= MAX_RSA_BITS:
            raise InvalidKeyMaterial(
                f"RSA key of {public_key.key_size} bits; {MIN_RSA_BITS}-{MAX_RSA_BITS} required"
            )
        verifiers = {name: _rsa_verifier(public_key, name) for name in _RSA_ALGS}
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        kty, crv = "OKP", "Ed25519"
        verifiers = {"EdDSA": _eddsa_verifier(public_key)}
    elif isinstance(public_key, ed448.Ed448PublicKey):
        kty, crv = "OKP", "Ed448"
        verifiers = {"EdDSA": _eddsa_verifier(public_key)}
    else:
        raise InvalidKeyMaterial(f"unsupported key type {type(public_key).__name__}")
    if alg is not None:
        if alg not in verifiers:
            raise InvalidKeyMaterial(f"alg {alg!r} does not fit a {kty} {crv or ''} key".strip())
        verifiers = {alg: verifiers[alg]}
    return TrustedKey(kid=kid, kty=kty, crv=crv, public_key=public_key, verifiers=verifiers)


def _member(jwk: Mapping[str, Any], name: str, length: int | None = None) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidKeyMaterial(f"JWK member {name!r} missing or not a string")
    try:
        raw = b64url_decode(value)
    except ValueError as exc:
        raise InvalidKeyMaterial(f"JWK member {name!r} is not base64url") from exc
    if length is not None and len(raw) != length:
        raise InvalidKeyMaterial(f"JWK member {name!r} must be {length} bytes, got {len(raw)}")
    return raw


_EC_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
}


def key_from_jwk(jwk: Any) -> TrustedKey:
    """Validate one public JWK and prepare it; raises InvalidKeyMaterial."""
    if not isinstance(jwk, Mapping):
        raise InvalidKeyMaterial("JWK must be a JSON object")
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidKeyMaterial("JWK carries private key material; send the public key only")
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > 512):
        raise InvalidKeyMaterial("JWK 'kid' must be a non-empty string")
    alg = jwk.get("alg")
    if alg is not None and alg not in ALLOWED_ALGS:
        raise InvalidKeyMaterial(f"JWK 'alg' {alg!r} is not allowed")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise InvalidKeyMaterial("JWK 'use' must be 'sig'")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise InvalidKeyMaterial("JWK 'key_ops' must include 'verify'")
    kty = jwk.get("kty")
    public_key: Any
    try:
        if kty == "EC":
            crv = jwk.get("crv")
            if crv not in _EC_CURVES:
                raise InvalidKeyMaterial(f"unsupported EC curve {crv!r}")
            curve, size = _EC_CURVES[crv]
            x = int.from_bytes(_member(jwk, "x", size), "big")
            y = int.from_bytes(_member(jwk, "y", size), "big")
            public_key = ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
        elif kty == "RSA":
            n_raw = _member(jwk, "n")
            if n_raw[0] == 0:
                raise InvalidKeyMaterial("JWK 'n' has a leading zero byte")
            n = int.from_bytes(n_raw, "big")
            e = int.from_bytes(_member(jwk, "e"), "big")
            if n.bit_length() < MIN_RSA_BITS:
                raise InvalidKeyMaterial(f"RSA key under {MIN_RSA_BITS} bits")
            if n.bit_length() > MAX_RSA_BITS:
                raise InvalidKeyMaterial(f"RSA key over {MAX_RSA_BITS} bits")
            if e < 3 or e % 2 == 0 or e.bit_length() > 32:
                raise InvalidKeyMaterial("RSA exponent is not a sane odd number")
            public_key = rsa.RSAPublicNumbers(e, n).public_key()
        elif kty == "OKP":
            crv = jwk.get("crv")
            if crv == "Ed25519":
                public_key = ed25519.Ed25519PublicKey.from_public_bytes(_member(jwk, "x", 32))
            elif crv == "Ed448":
                public_key = ed448.Ed448PublicKey.from_public_bytes(_member(jwk, "x", 57))
            else:
                raise InvalidKeyMaterial(f"unsupported OKP curve {crv!r}")
        else:
            raise InvalidKeyMaterial(f"unsupported JWK kty {kty!r}")
    except (ValueError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, InvalidKeyMaterial):
            raise
        raise InvalidKeyMaterial(f"invalid {kty} public key: {exc}") from exc
    return prepare_public_key(public_key, kid=kid, alg=alg)


def keys_from_jwks(jwks: Any) -> tuple[TrustedKey, ...]:
    """Validate a JWKS object (`{"keys": [...]}`); kids must be unique."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise InvalidKeyMaterial("JWKS must be an object with a 'keys' list")
    if not jwks["keys"]:
        raise InvalidKeyMaterial("JWKS has no keys")
    if len(jwks["keys"]) > 100:
        raise InvalidKeyMaterial("JWKS has more than 100 keys")
    keys = tuple(key_from_jwk(item) for item in jwks["keys"])
    kids = [k.kid for k in keys]
    if len(keys) > 1 and (None in kids or len(set(kids)) != len(kids)):
        raise InvalidKeyMaterial("every key of a multi-key JWKS needs a distinct 'kid'")
    return keys
