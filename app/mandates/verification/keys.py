"""Issuer keys: JWK and DID (did:key, did:jwk) parsing into ready-to-verify key objects.

Keys are prepared once, when a trust snapshot is built; the engine then only looks
them up by `kid` and calls the per-algorithm verifier bound here.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

IssuerStatus = Literal["active", "suspended", "revoked"]
ISSUER_STATUSES: frozenset[str] = frozenset({"active", "suspended", "revoked"})

# Raises cryptography.exceptions.InvalidSignature on a bad signature.
Verifier = Callable[[bytes, bytes], None]

ALLOWED_ALGS: frozenset[str] = frozenset(
    {"ES256", "ES384", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384"}
)
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
_RSA_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384")
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Value of each base64url character (0xFF for bytes outside the alphabet).
_B64URL_VALUE = [0xFF] * 256
for _i, _c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"):
    _B64URL_VALUE[_c] = _i
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
_MAX_DID_LENGTH = 4096


class InvalidKeyMaterial(ValueError):
    """A JWK, JWKS or DID that cannot be used as a trusted verification key."""


class UnsupportedDid(InvalidKeyMaterial):
    """A DID method (or key type inside it) that cannot be resolved offline."""


def b64url_decode(data: str | bytes) -> bytes:
    """Strict unpadded base64url; raises ValueError on any other alphabet or bad length."""
    if type(data) is str:
        data = data.encode("ascii")  # UnicodeEncodeError is a ValueError
    # strict_mode rejects anything outside the standard alphabet once "-_" are mapped,
    # so only the standard-only characters and padding need refusing here.
    if b"+" in data or b"/" in data or b"=" in data:
        raise ValueError("not unpadded base64url")
    rest = len(data) % 4
    # Unused low bits must be zero, so each byte string has exactly one encoding.
    if rest and (rest == 1 or _B64URL_VALUE[data[-1]] & (0x0F if rest == 2 else 0x03)):
        raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(data.translate(_TO_STD) + _PADDING[rest], strict_mode=True)


_TO_STD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")


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
    return key.verify  # type: ignore[return-value]


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


# --- DIDs ------------------------------------------------------------------------------------


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58_INDEX.get(char)
        if index is None:
            raise UnsupportedDid("did:key value is not base58btc")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def _did_key(did: str) -> TrustedKey:
    value = did[len("did:key:") :]
    if not value.startswith("z") or len(value) > 200:
        raise UnsupportedDid("did:key must use base58btc multibase ('z')")
    raw = _b58decode(value[1:])
    public_key: Any
    try:
        if raw[:2] == b"\xed\x01" and len(raw) == 34:
            public_key = ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])
        elif raw[:2] == b"\x80\x24" and len(raw) == 35:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw[2:])
        elif raw[:2] == b"\x81\x24" and len(raw) == 51:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), raw[2:])
        else:
            raise UnsupportedDid("did:key multicodec must be Ed25519, P-256 or P-384")
    except ValueError as exc:
        if isinstance(exc, InvalidKeyMaterial):
            raise
        raise UnsupportedDid(f"did:key holds an invalid public key: {exc}") from exc
    return prepare_public_key(public_key, kid=value)


def _did_jwk(did: str) -> TrustedKey:
    try:
        jwk = json.loads(b64url_decode(did[len("did:jwk:") :]))
    except (ValueError, RecursionError) as exc:
        raise UnsupportedDid("did:jwk value is not base64url JSON") from exc
    try:
        key = key_from_jwk(jwk)
    except InvalidKeyMaterial as exc:
        raise UnsupportedDid(f"did:jwk holds an unusable key: {exc}") from exc
    # The DID document names its only verification method "#0".
    return TrustedKey("0", key.kty, key.crv, key.public_key, key.verifiers)


def keys_from_did(did: str) -> tuple[TrustedKey, ...]:
    """Resolve did:key / did:jwk offline; other methods need a JWKS."""
    if not isinstance(did, str) or len(did) > _MAX_DID_LENGTH:
        raise UnsupportedDid("DID must be a string of sane length")
    if did.startswith("did:key:"):
        return (_did_key(did),)
    if did.startswith("did:jwk:"):
        return (_did_jwk(did),)
    raise UnsupportedDid(f"cannot resolve {did.split(':')[:2]} offline; register a JWKS")


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer the caller trusts, with its keys already prepared."""

    did: str
    status: IssuerStatus
    keys: tuple[TrustedKey, ...]
    _by_kid: Mapping[str, TrustedKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status not in ISSUER_STATUSES:
            raise ValueError(f"issuer status must be one of {sorted(ISSUER_STATUSES)}")
        by_kid = {k.kid: k for k in self.keys if k.kid is not None}
        object.__setattr__(self, "_by_kid", by_kid)

    @classmethod
    def from_jwks(cls, did: str, status: IssuerStatus, jwks: Any) -> TrustedIssuer:
        return cls(did, status, keys_from_jwks(jwks))

    @classmethod
    def from_did(cls, did: str, status: IssuerStatus) -> TrustedIssuer:
        return cls(did, status, keys_from_did(did))

    def find_key(self, kid: str | None) -> TrustedKey | None:
        """The key a token's `kid` names; without `kid` only a sole key qualifies."""
        if kid is None:
            return self.keys[0] if len(self.keys) == 1 else None
        key = self._by_kid.get(kid)
        if key is not None:
            return key
        # A DID URL ("did:...#frag") or bare fragment names the same key.
        if "#" in kid:
            base, _, fragment = kid.rpartition("#")
            if base in ("", self.did):
                key = self._by_kid.get(fragment)
                if key is not None:
                    return key
        if len(self.keys) == 1 and self.keys[0].kid is None:
            return self.keys[0]
        return None


class TrustStore(Protocol):
    """What the engine needs from the caller: issuers by DID."""

    def get(self, did: str, /) -> TrustedIssuer | None: ...


class TrustSnapshot:
    """An immutable in-memory TrustStore."""

    __slots__ = ("_issuers",)

    def __init__(self, issuers: Iterable[TrustedIssuer] = ()) -> None:
        self._issuers: dict[str, TrustedIssuer] = {i.did: i for i in issuers}

    def get(self, did: str, /) -> TrustedIssuer | None:
        return self._issuers.get(did)

    def __len__(self) -> int:
        return len(self._issuers)
