"""Minting of Delegate SD-JWT chains for the AP2 tests (own code over `cryptography`).

`Sd(value)` marks what becomes a disclosure: as a list element it is an array-element
disclosure (`{"...": digest}` in place), as a dict key (`{Sd("name"): value}`) an
object-property disclosure listed in that object's `_sd`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from app.ap2.verification import RootKeyIndex
from app.keys import TrustedIssuer, key_from_jwk


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def enc(value: Any) -> str:
    return b64(json.dumps(value).encode())


def H(text: str) -> str:
    return b64(hashlib.sha256(text.encode("ascii")).digest())


@dataclass(frozen=True)
class Sd:
    """A value (list element) or claim name (dict key) to disclose selectively."""

    value: Any

    def __hash__(self) -> int:
        return hash(("Sd", json.dumps(self.value, sort_keys=True)))


def disclosure(value: Any, name: str | None = None, salt: str | None = None) -> str:
    salt = salt if salt is not None else b64(os.urandom(16))
    return enc([salt, value] if name is None else [salt, name, value])


def conceal(value: Any, out: list[str], decoys: int = 0) -> Any:
    """Replace Sd markers by digests, appending the disclosures to `out`."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        digests = []
        for key, member in value.items():
            if isinstance(key, Sd):
                text = disclosure(conceal(member, out), key.value)
                out.append(text)
                digests.append(H(text))
            else:
                result[key] = conceal(member, out)
        digests += [H(b64(os.urandom(20))) for _ in range(decoys if digests else 0)]
        if digests:
            result["_sd"] = sorted(digests)
        return result
    if isinstance(value, list):
        items = []
        for element in value:
            if isinstance(element, Sd):
                text = disclosure(conceal(element.value, out))
                out.append(text)
                items.append({"...": H(text)})
            else:
                items.append(conceal(element, out))
        return items
    return value


def sign_parts(header_b64: str, payload_b64: str, key: ec.EllipticCurvePrivateKey) -> str:
    der = key.sign(f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{header_b64}.{payload_b64}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def sign(header: dict[str, Any], payload: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    return sign_parts(enc(header), enc(payload), key)


@dataclass
class Party:
    """A P-256 key pair with its public JWK."""

    key: ec.EllipticCurvePrivateKey
    kid: str | None = None
    jwk: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }

    @property
    def cnf(self) -> dict[str, Any]:
        return {"jwk": dict(self.jwk)}

    def public_jwk(self) -> dict[str, str]:
        return {**self.jwk, **({"kid": self.kid} if self.kid else {})}


def party(kid: str | None = None) -> Party:
    return Party(ec.generate_private_key(ec.SECP256R1()), kid)


@dataclass
class Hop:
    jwt: str
    disclosures: list[str]

    @property
    def text(self) -> str:
        return self.jwt + "~" + "".join(d + "~" for d in self.disclosures)

    @property
    def header(self) -> dict[str, Any]:
        return json.loads(b64d(self.jwt.split(".")[0]))

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(b64d(self.jwt.split(".")[1]))

    def decoded(self) -> list[list[Any]]:
        return [json.loads(b64d(d)) for d in self.disclosures]

    def without(self, predicate: Any) -> Hop:
        """The same hop presented without the disclosures whose array satisfies predicate."""
        return Hop(self.jwt, [d for d in self.disclosures if not predicate(json.loads(b64d(d)))])


def chain(*hops: Hop) -> str:
    return "~".join(hop.text for hop in hops)


def issue(
    claims: dict[str, Any],
    key: ec.EllipticCurvePrivateKey,
    header: dict[str, Any],
    decoys: int = 0,
) -> Hop:
    out: list[str] = []
    payload = conceal(claims, out, decoys)
    return Hop(sign(header, payload, key), out)


def root_hop(
    content: dict[Any, Any],
    issuer: Party,
    *,
    typ: str | None = "example+sd-jwt",
    kid: str | None = None,
    top: dict[str, Any] | None = None,
    decoys: int = 0,
    extra_refs: int = 0,
) -> Hop:
    header: dict[str, Any] = {"alg": "ES256", "kid": kid or issuer.kid}
    if typ is not None:
        header["typ"] = typ
    delegate: list[Any] = [Sd(content)]
    claims = {**(top or {}), "delegate_payload": delegate, "_sd_alg": "sha-256"}
    hop = issue(claims, issuer.key, header, decoys)
    if extra_refs:
        payload = hop.payload
        payload["delegate_payload"] += [{"...": H(b64(os.urandom(20)))} for _ in range(extra_refs)]
        hop = Hop(sign(hop.header, payload, issuer.key), hop.disclosures)
    return hop


def kb_hop(
    previous: Hop,
    content: dict[Any, Any],
    holder: Party,
    *,
    iat: int,
    final: bool = True,
    aud: str | None = "https://verifier.example",
    nonce: str | None = "nonce-1",
    binding: str | None = "sd_hash",
    typ: str | None = None,
    extra: dict[str, Any] | None = None,
    decoys: int = 0,
) -> Hop:
    claims: dict[str, Any] = {"delegate_payload": [Sd(content)], "iat": iat}
    if aud is not None:
        claims["aud"] = aud
    if nonce is not None:
        claims["nonce"] = nonce
    if binding == "sd_hash":
        claims["sd_hash"] = H(previous.text)
    elif binding == "issuer_jwt_hash":
        claims["issuer_jwt_hash"] = H(previous.jwt)
    claims.update(extra or {})
    header = {"alg": "ES256", "typ": typ or ("kb+sd-jwt" if final else "kb+sd-jwt+kb")}
    return issue(claims, holder.key, header, decoys)


def resign(
    hop: Hop, key: ec.EllipticCurvePrivateKey, header: Any = None, payload: Any = None
) -> Hop:
    """The hop signed again with a changed header or payload (disclosures kept)."""
    return Hop(
        sign(
            hop.header if header is None else header,
            hop.payload if payload is None else payload,
            key,
        ),
        list(hop.disclosures),
    )


def index_of(*issuers: tuple[str, Party]) -> RootKeyIndex:
    """RootKeys over issuers given as (did, party)."""
    return RootKeyIndex.from_issuers(
        TrustedIssuer(did, "active", (key_from_jwk(p.public_jwk()),)) for did, p in issuers
    )
