"""Keys of a chain: root keys from the tenant's truststore by `kid`, and each hop's `cnf.jwk`.

Only EC P-256 keys (ES256) count anywhere in a v0.2 chain. The caller loads root
candidates before verifying (`root_kid` reads the `kid`), so the engine itself
never performs I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from app.ap2.verification.wire import b64url
from app.keys import (
    InvalidKeyMaterial,
    IssuerStatus,
    TrustedIssuer,
    TrustedKey,
    TrustSnapshot,
    b64url_encode,
    keys_from_did,
    prepare_public_key,
)

ALG = "ES256"


class RootKey(NamedTuple):
    """A candidate root key and the DID of the issuer that owns it."""

    issuer_did: str
    key: TrustedKey


class RootKeys(Protocol):
    """What the engine needs from the truststore: candidate keys for a header `kid`."""

    def candidates(self, kid: str, /) -> Sequence[RootKey]: ...


def is_es256_key(key: TrustedKey) -> bool:
    """True for an EC P-256 key that can verify ES256."""
    return key.kty == "EC" and key.crv == "P-256" and ALG in key.verifiers


class RootKeyIndex:
    """An in-memory RootKeys over trusted issuers: active ones, EC P-256 keys with a `kid`."""

    __slots__ = ("_by_kid",)

    def __init__(self, keys: Iterable[RootKey] = ()) -> None:
        by_kid: dict[str, list[RootKey]] = {}
        for root in keys:
            if root.key.kid is not None and is_es256_key(root.key):
                by_kid.setdefault(root.key.kid, []).append(root)
        self._by_kid = {kid: tuple(found) for kid, found in by_kid.items()}

    @classmethod
    def from_issuers(cls, issuers: Iterable[TrustedIssuer]) -> RootKeyIndex:
        """Index the JWKS keys of the active issuers among `issuers`.

        Keys a did:key / did:jwk issuer only has through its DID are left out: such an
        issuer has no JWKS `kid`, so it cannot sign a v0.2 root.
        """
        return cls(
            RootKey(issuer.did, key)
            for issuer in issuers
            if issuer.status == IssuerStatus.ACTIVE
            for key in issuer.keys
            if key.kid not in _did_kids(issuer.did)
        )

    @classmethod
    def from_snapshot(cls, snapshot: TrustSnapshot, dids: Iterable[str]) -> RootKeyIndex:
        """Index the issuers of `snapshot` named by `dids` (a snapshot is looked up by DID)."""
        found = (snapshot.get(did) for did in dids)
        return cls.from_issuers(issuer for issuer in found if issuer is not None)

    def candidates(self, kid: str, /) -> Sequence[RootKey]:
        return self._by_kid.get(kid, ())


def _did_kids(did: str) -> frozenset[str | None]:
    """The `kid`s keys_from_did gives a self-describing DID's key (none for other methods)."""
    if not did.startswith(("did:key:", "did:jwk:")):
        return frozenset()
    try:
        return frozenset(key.kid for key in keys_from_did(did))
    except InvalidKeyMaterial:
        return frozenset()


# AP2 types/jwk.json: these members only, with these types.
_KEY_OPS = frozenset(
    {"sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey", "deriveBits"}
)
_STRING_MEMBERS = ("kid", "x5u", "x5t", "x5t#S256")
_MEMBERS = frozenset({"kty", "crv", "x", "y", "use", "key_ops", "alg", "x5c", *_STRING_MEMBERS})


class InvalidCnf(ValueError):
    """A `cnf` that is not `{"jwk": <EC P-256 public JWK>}` as the contract allows."""


def _check_jwk(jwk: Mapping[str, Any]) -> None:
    if not _MEMBERS.issuperset(jwk):
        extra = sorted(set(jwk) - _MEMBERS)[:4]
        raise InvalidCnf(f"cnf.jwk has members outside the allowed set: {extra}")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidCnf("cnf.jwk must be an EC P-256 key")
    for name in ("x", "y"):
        value = jwk.get(name)
        # 43 characters; the alphabet is enforced by the strict decoding in cnf_key.
        if type(value) is not str or len(value) != 43:
            raise InvalidCnf(f"cnf.jwk '{name}' must be 43 base64url characters")
    if "alg" in jwk and jwk["alg"] != ALG:
        raise InvalidCnf("cnf.jwk 'alg' must be ES256")
    if "use" in jwk and jwk["use"] not in ("sig", "enc"):
        raise InvalidCnf("cnf.jwk 'use' must be 'sig' or 'enc'")
    if "key_ops" in jwk:
        ops = jwk["key_ops"]
        if type(ops) is not list or not all(type(op) is str and op in _KEY_OPS for op in ops):
            raise InvalidCnf("cnf.jwk 'key_ops' must be an array of key operations")
    if "x5c" in jwk:
        chain = jwk["x5c"]
        if type(chain) is not list or not all(type(cert) is str for cert in chain):
            raise InvalidCnf("cnf.jwk 'x5c' must be an array of strings")
    for name in _STRING_MEMBERS:
        if name in jwk and type(jwk[name]) is not str:
            raise InvalidCnf(f"cnf.jwk '{name}' must be a string")


def cnf_key(content: Mapping[str, Any]) -> TrustedKey:
    """The ES256 key a content endorses in `cnf.jwk`; raises InvalidCnf."""
    cnf = content.get("cnf")
    if type(cnf) is not dict:
        raise InvalidCnf("content has no 'cnf' object")
    jwk = cnf.get("jwk")
    if type(jwk) is not dict:
        raise InvalidCnf("cnf has no 'jwk' object")
    _check_jwk(jwk)
    try:
        return _p256_key(jwk["x"], jwk["y"])
    except ValueError:  # WireError included: a non-canonical coordinate, or no curve point
        raise InvalidCnf("cnf.jwk is not a P-256 public key") from None


_P256 = ec.SECP256R1()


# An agent key signs many presentations; building and checking the point costs about as
# much as the rest of the hop's checks. The key is (x, y), which for an EC P-256 JWK is
# what its RFC 7638 thumbprint covers; failures (ValueError) are not cached.
@lru_cache(maxsize=4096)
def _p256_key(x: str, y: str) -> TrustedKey:
    """The prepared ES256 key of P-256 coordinates `x`, `y` (strict base64url)."""
    point = b"\x04" + b64url(x, "x") + b64url(y, "y")
    public = ec.EllipticCurvePublicKey.from_encoded_point(_P256, point)
    return prepare_public_key(public, alg=ALG)


def public_jwk(key: TrustedKey) -> dict[str, str]:
    """The public JWK of an EC P-256 key (what storage keeps of the root key used)."""
    public = key.public_key
    if not isinstance(public, ec.EllipticCurvePublicKey) or not is_es256_key(key):
        raise InvalidKeyMaterial("not an EC P-256 key")
    numbers = public.public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }
    if key.kid is not None:
        jwk["kid"] = key.kid
    return jwk
