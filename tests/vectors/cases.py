"""The vector issuers and cases, by kind; `tests.vectors.mint` runs the sections in order.

Every expected code below was checked against the engine's documented order of checks
(app/mandates/verification/engine.py); the submission order matters only for
"same token again", which must follow the token it repeats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from app.keys import b64url_decode
from tests.vectors import claims as c
from tests.vectors.signing import (
    Jws,
    Signer,
    ec_key,
    ed25519_key,
    encode_json,
    flip_signature,
    hmac_signature,
    jwk,
    public_pem,
    rsa_key,
    sign_parts,
)
from tests.verification.helpers import b64url, did_jwk, did_key

TOO_LARGE_BYTES = 65536  # the engine's (and the settings') default token limit
CREATED, AGAIN, REFUSED = [201], [200, 201], [422]
NONE_HEADER = encode_json({"alg": "none", "typ": "JWT"})


class Minter:
    """Collects issuers and cases in file order, in the shared sample's format."""

    def __init__(self) -> None:
        self.issuers: dict[str, dict[str, Any]] = {}
        self.cases: list[dict[str, Any]] = []

    def issuer(self, short: str, name: str, signers: list[Signer], status: str = "") -> None:
        """A POST /api/v1/issuers body (JWKS unless the DID carries its key), plus a status."""
        body: dict[str, Any] = {"did": signers[0].did, "name": name}
        if not signers[0].did.startswith(("did:key:", "did:jwk:")):
            body["jwks"] = {"keys": [jwk(s.key, s.kid) for s in signers]}
        if status:
            body["status"] = status
        self.issuers[short] = body

    def add(
        self,
        name: str,
        token: str | Jws,
        code: str,
        *,
        check: dict[str, Any] | None = None,
        same_as: str | None = None,
    ) -> None:
        if any(existing["name"] == name for existing in self.cases):
            raise ValueError(f"duplicate vector name {name!r}")
        valid = code == "VALID"
        case: dict[str, Any] = {
            "name": name,
            "vc_jwt": token.compact if isinstance(token, Jws) else token,
            "expect_status": (AGAIN if same_as else CREATED) if valid else REFUSED,
            "code": code,
        }
        if check:
            case["check_fields"] = check
        if same_as:
            case["same_as"] = same_as
        self.cases.append(case)


@dataclass(frozen=True, slots=True)
class Cast:
    """Every key the vectors use, derived from fixed labels (RSA: the committed PEM)."""

    es1: Signer
    es2: Signer
    rs: Signer
    p384: Signer
    ed: Signer
    edkey: Signer
    p256key: Signer
    didjwk: Signer
    merchant: Signer
    suspended: Signer
    revoked: Signer
    stranger: Signer

    @classmethod
    def create(cls) -> Cast:
        bank = "did:web:bank.vectors.example"
        ed_key, p256_key, jwk_key = (
            ed25519_key("did-key/ed25519"),
            ec_key("did-key/p256"),
            ec_key("did-jwk/p256"),
        )
        return cls(
            es1=Signer(bank, ec_key("bank/k1"), "k1"),
            es2=Signer(bank, ec_key("bank/k2"), "k2"),
            rs=Signer("did:web:rsa.vectors.example", rsa_key()),
            p384=Signer("did:web:p384.vectors.example", ec_key("p384/k1", "P-384")),
            ed=Signer("did:web:ed.vectors.example", ed25519_key("ed/k1")),
            edkey=Signer(did_key(ed_key.public_key()), ed_key, None),
            p256key=Signer(did_key(p256_key.public_key()), p256_key, None),
            didjwk=Signer(did_jwk(jwk_key), jwk_key, None),
            merchant=Signer("did:web:shop.vectors.example", ec_key("merchant/k1")),
            suspended=Signer("did:web:suspended.vectors.example", ec_key("suspended/k1")),
            revoked=Signer("did:web:revoked.vectors.example", ec_key("revoked/k1")),
            stranger=Signer("did:web:stranger.vectors.example", ec_key("stranger/k1")),
        )

    def gen(
        self, name: str, subject: dict | None = None, *, by: Signer | None = None, **top: Any
    ) -> dict[str, Any]:
        """Generic mandate claims of the bank (or `by`)."""
        return c.generic((by or self.es1).did, name, subject, **top)

    def es(self, claims: Any, **header: Any) -> Jws:
        """Signed by the bank's first key, ES256."""
        return self.es1.token(claims, "ES256", **header)


def issuers(m: Minter, k: Cast) -> None:
    m.issuer("es", "ES bank (two keys)", [k.es1, k.es2])
    m.issuer("rs", "RSA bank", [k.rs])
    m.issuer("p384", "P-384 bank", [k.p384])
    m.issuer("ed", "Ed25519 bank (JWKS)", [k.ed])
    m.issuer("edkey", "did:key Ed25519 wallet", [k.edkey])
    m.issuer("p256key", "did:key P-256 wallet", [k.p256key])
    m.issuer("jwk", "did:jwk P-256 wallet", [k.didjwk])
    m.issuer("merchant", "Shop", [k.merchant])
    m.issuer("suspended", "Suspended bank", [k.suspended], status="suspended")
    m.issuer("revoked", "Revoked bank", [k.revoked], status="revoked")


def valid(m: Minter, k: Cast) -> None:
    first = "valid ES256 generic"
    check = {
        "mandate_type": "generic",
        "issuer_did": k.es1.did,
        "subject_did": c.subject_of(first),
        "scope": "payments:recurring",
        "amount_limit": "500.00",
        "currency": "USD",
        "merchants": [],
    }
    m.add(first, k.es(k.gen(first)), "VALID", check=check)
    m.add("same token again is idempotent", m.cases[-1]["vc_jwt"], "VALID", same_as=first)
    for alg in ("RS256", "RS384", "RS512", "PS256", "PS384"):
        name = f"valid {alg}"
        m.add(name, k.rs.token(k.gen(name, by=k.rs), alg), "VALID")
    name = "valid second kid"
    m.add(name, k.es2.token(k.gen(name), "ES256"), "VALID")
    name = "valid ES384 (P-384 key, typ vc+jwt)"
    m.add(name, k.p384.token(k.gen(name, by=k.p384), "ES384", typ="vc+jwt"), "VALID")
    name = "valid EdDSA with a JWKS issuer"
    m.add(name, k.ed.token(k.gen(name, by=k.ed), "EdDSA"), "VALID")
    name = "did:key Ed25519 issuer"
    m.add(name, k.edkey.token(k.gen(name, by=k.edkey), "EdDSA"), "VALID")
    name = "did:key P-256 issuer"
    m.add(name, k.p256key.token(k.gen(name, by=k.p256key), "ES256"), "VALID")
    name = "did:jwk P-256 issuer"
    m.add(name, k.didjwk.token(k.gen(name, by=k.didjwk), "ES256"), "VALID")
    name = "kid as a DID URL"
    m.add(name, k.es2.with_kid(f"{k.es2.did}#k2").token(k.gen(name), "ES256"), "VALID")
    name = "valid with nbf in the past"
    m.add(name, k.es(k.gen(name, nbf=c.ISSUED_AT)), "VALID")
    name = "exp as a non-integer NumericDate"
    m.add(name, k.es(k.gen(name, exp=c.EXPIRES_AT + 0.5)), "VALID")


def times(m: Minter, k: Cast) -> None:
    m.add("expired", k.es(k.gen("expired", exp=c.PAST_EXPIRY)), "EXPIRED")
    name = "not yet valid (nbf in the future)"
    m.add(name, k.es(k.gen(name, nbf=c.FUTURE)), "NOT_YET_VALID")
    name = "iat too far in the future"
    m.add(name, k.es(k.gen(name, iat=c.FUTURE)), "NOT_YET_VALID")


def signatures(m: Minter, k: Cast) -> None:
    base = k.es(k.gen("tampered"))
    m.add("tampered signature", flip_signature(base), "SIG_INVALID")
    forged = encode_json(k.gen("tampered", {"amount_limit": "999999.00"}))
    m.add("tampered payload", Jws(base.header, forged, base.signature), "SIG_INVALID")
    m.add("alg none", f"{NONE_HEADER}.{base.payload}.", "ALG_NOT_ALLOWED")
    hs_header = encode_json({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    hs_input = f"{hs_header}.{base.payload}".encode("ascii")
    hs_sig = b64url(hmac_signature(public_pem(k.es1.key), hs_input))
    m.add("HS256 key confusion", f"{hs_header}.{base.payload}.{hs_sig}", "ALG_NOT_ALLOWED")
    name = "unsupported alg ES256K"
    m.add(name, k.es1.token(k.gen(name), "ES256K", alg_used="ES256"), "ALG_NOT_ALLOWED")
    name = "alg/key mismatch ES384 header on P-256 key"
    m.add(name, k.es1.token(k.gen(name), "ES384"), "ALG_NOT_ALLOWED")
    name = "alg/key mismatch RS256 header on a P-256 key"
    m.add(name, k.es1.with_key(k.rs.key).token(k.gen(name), "RS256"), "ALG_NOT_ALLOWED")
    name = "alg/key mismatch ES256 header on an RSA key"
    claims = k.gen(name, by=k.rs)
    m.add(name, k.rs.with_key(k.stranger.key).token(claims, "ES256"), "ALG_NOT_ALLOWED")
    name = "other key same kid"
    m.add(name, k.es1.with_key(k.stranger.key).token(k.gen(name), "ES256"), "SIG_INVALID")
    name = "did:key issuer, signed by another key"
    impostor = k.edkey.with_key(ed25519_key("did-key/impostor"))
    m.add(name, impostor.token(k.gen(name, by=k.edkey), "EdDSA"), "SIG_INVALID")
    name = "ECDSA signature in DER form"
    plain = k.es(k.gen(name))
    raw = b64url_decode(plain.signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    m.add(name, f"{plain.header}.{plain.payload}.{b64url(der)}", "SIG_INVALID")
    name = "embedded jwk header is not trusted"
    attacker = k.es1.with_key(k.stranger.key)
    m.add(name, attacker.token(k.gen(name), "ES256", jwk=jwk(k.stranger.key)), "SIG_INVALID")


def keys_and_issuers(m: Minter, k: Cast) -> None:
    name = "unknown kid"
    m.add(name, k.es1.with_kid("k9").token(k.gen(name), "ES256"), "KEY_NOT_FOUND")
    name = "multi-key issuer, no kid"
    m.add(name, k.es1.with_kid(None).token(k.gen(name), "ES256"), "KEY_NOT_FOUND")
    name = "kid naming another issuer's key"
    borrowed = Signer(k.es1.did, k.merchant.key, f"{k.merchant.did}#k1")
    m.add(name, borrowed.token(k.gen(name), "ES256"), "KEY_NOT_FOUND")
    name = "kid not a string"
    m.add(name, k.es(k.gen(name), kid=1), "INVALID_FORMAT")
    name = "unknown issuer"
    m.add(name, k.stranger.token(k.gen(name, by=k.stranger), "ES256"), "ISSUER_UNKNOWN")
    for signer, name in ((k.suspended, "suspended issuer"), (k.revoked, "revoked issuer")):
        m.add(name, signer.token(k.gen(name, by=signer), "ES256"), "ISSUER_REVOKED")


def registered_claims(m: Minter, k: Cast) -> None:
    for claim in ("exp", "sub", "iat", "iss"):
        name = f"missing {claim}"
        removed: dict[str, Any] = {claim: ...}
        m.add(name, k.es(k.gen(name, **removed)), "MISSING_REQUIRED_FIELD")
    name = "sub is an empty string"
    m.add(name, k.es(k.gen(name, sub="")), "INVALID_FORMAT")
    name = "exp as a string"
    m.add(name, k.es(k.gen(name, exp=str(c.EXPIRES_AT))), "INVALID_FORMAT")


def headers_and_shape(m: Minter, k: Cast) -> None:
    name = "crit header"
    m.add(name, k.es(k.gen(name), crit=["exp"], exp=c.EXPIRES_AT), "INVALID_FORMAT")
    name = "jku header pointing at another key set"
    m.add(name, k.es(k.gen(name), jku="https://attacker.example/jwks.json"), "INVALID_FORMAT")
    name = "typ is not a mandate token"
    m.add(name, k.es(k.gen(name), typ="at+jwt"), "INVALID_FORMAT")
    m.add("garbage", "not-a-jwt", "INVALID_FORMAT")
    good = k.es(k.gen("shape"))
    m.add("bad base64 parts", f"{good.header}.@@@.###", "INVALID_FORMAT")
    no_alg = encode_json({"typ": "JWT", "kid": "k1"})
    m.add("header without alg", f"{no_alg}.{good.payload}.{good.signature}", "INVALID_FORMAT")
    m.add("payload is a JSON array", k.es([1, 2], typ=...), "INVALID_FORMAT")
    name = "payload with NaN"
    nan = b64url(json.dumps(k.gen(name, exp=float("nan"))).encode())
    m.add(name, sign_parts(good.header, nan, k.es1.key, "ES256"), "INVALID_FORMAT")
    m.add("non-ASCII token", good.compact + "\u00e9", "INVALID_FORMAT")
    m.add("four segments", good.compact + ".e30", "INVALID_FORMAT")
    jwe = encode_json({"alg": "RSA-OAEP", "enc": "A256GCM"})
    m.add("five segments (JWE)", f"{jwe}.AAAA.AAAA.AAAA.AAAA", "INVALID_FORMAT")
    m.add("empty signature", f"{good.header}.{good.payload}.", "SIG_INVALID")
    m.add("base64 padding in the signature", good.compact + "==", "INVALID_FORMAT")
    # A compact JWS has no white space: otherwise one token would have several hashes.
    m.add("trailing newline", good.compact + "\n", "INVALID_FORMAT")
    m.add("leading space", " " + good.compact, "INVALID_FORMAT")
    name = "oversize token"
    big = k.es(k.gen(name, {"note": "x" * 49_500})).compact
    if len(big) <= TOO_LARGE_BYTES:
        raise AssertionError("the oversize vector must exceed the token limit")
    m.add(name, big, "TOO_LARGE")


def envelope(m: Minter, k: Cast) -> None:
    name = "missing vc"
    m.add(name, k.es(c.registered(k.es1.did, name)), "MISSING_REQUIRED_FIELD")
    name = "missing credentialSubject"
    claims = k.gen(name)
    del claims["vc"]["credentialSubject"]
    m.add(name, k.es(claims), "MISSING_REQUIRED_FIELD")
    for name, types in (
        ("vc.type without VerifiableCredential", ["Mandate"]),
        ("unknown credential type", ["VerifiableCredential", "LoyaltyCard"]),
    ):
        claims = k.gen(name)
        claims["vc"]["type"] = types
        m.add(name, k.es(claims), "INVALID_FORMAT")
    name = "credentialSubject.id differs from sub"
    m.add(name, k.es(k.gen(name, {"id": "did:example:someone-else"})), "INVALID_FORMAT")


def generic_content(m: Minter, k: Cast) -> None:
    accepted: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("amount as a JSON number", {"amount_limit": 500}, {"amount_limit": "500.00"}),
        ("amount as a JSON fraction", {"amount_limit": 19.99}, {"amount_limit": "19.99"}),
        (
            "zero-decimal currency JPY",
            {"amount_limit": "1000", "currency": "JPY"},
            {"amount_limit": "1000", "currency": "JPY"},
        ),
        ("merchants listed", {"merchants": ["Shop", "Other"]}, {"merchants": ["Shop", "Other"]}),
    ]
    for name, members, check in accepted:
        m.add(name, k.es(k.gen(name, members)), "VALID", check=check)
    name = "top-level scope and amount claims (older clients)"
    legacy: dict[str, Any] = {
        "scope": "payments:legacy",
        "amount_limit": "75.00",
        "currency": "GBP",
    }
    moved = dict.fromkeys(legacy, ...)
    m.add(name, k.es(k.gen(name, moved, **legacy)), "VALID", check=legacy)
    refused = [
        ("lowercase currency", {"currency": "usd"}),
        ("4-letter currency", {"currency": "USDT"}),
        ("negative amount", {"amount_limit": "-5.00"}),
        ("more decimals than the currency allows", {"amount_limit": "10.001"}),
        ("merchants is a string", {"merchants": "Shop"}),
        ("scope over 255 characters", {"scope": "payments:" + "x" * 250}),
    ]
    for name, members in refused:
        m.add(name, k.es(k.gen(name, members)), "SCOPE_INVALID")
    for member in ("scope", "amount_limit", "currency"):
        name = f"missing {member}"
        m.add(name, k.es(k.gen(name, {member: ...})), "MISSING_REQUIRED_FIELD")


def carts(m: Minter, k: Cast) -> None:
    def cart(name: str, contents: dict[str, Any], auth: Jws | str | None) -> Jws:
        compact = auth.compact if isinstance(auth, Jws) else auth
        return k.es(c.cart(k.es1.did, name, contents, compact))

    def authorization(name: str, contents: dict, by: Signer = k.merchant, **claims: Any) -> Jws:
        return by.token(c.merchant_claims(by.did, name, contents, **claims), "ES256")

    contents = c.cart_contents()
    name = "AP2 cart mandate"
    check: dict[str, Any] = {"mandate_type": "cart", "amount_limit": "129.99"}
    check |= {"currency": "USD", "merchants": ["Shop"]}
    m.add(name, cart(name, contents, authorization(name, contents)), "VALID", check=check)
    name = "AP2 cart with mismatched cart_hash"
    evil = c.cart_contents(merchant_name="Evil shop")
    m.add(name, cart(name, evil, authorization(name, contents)), "CART_HASH_MISMATCH")
    name = "cart past cart_expiry"
    stale = c.cart_contents(cart_expiry=c.ISO_PAST)
    m.add(name, cart(name, stale, authorization(name, stale)), "EXPIRED")
    name = "cart total with a lowercase currency"
    odd = c.cart_contents()
    odd["payment_request"]["details"]["total"]["amount"]["currency"] = "usd"
    m.add(name, cart(name, odd, authorization(name, odd)), "SCOPE_INVALID")
    name = "cart without merchant_authorization"
    m.add(name, cart(name, contents, None), "MISSING_REQUIRED_FIELD")
    name = "merchant_authorization not a string"
    claims = c.cart(k.es1.did, name, contents, None)
    claims["vc"]["credentialSubject"]["merchant_authorization"] = {"jws": "x"}
    m.add(name, k.es(claims), "INVALID_FORMAT")

    def refused(what: str, code: str, by: Signer = k.merchant, **claims: Any) -> None:
        """A cart whose merchant authorization (by `by`, with `claims` changed) fails."""
        name = f"merchant authorization {what}"
        auth = authorization(name, contents, by, **claims)
        m.add(name, cart(name, contents, auth), code)

    refused("expired", "EXPIRED", exp=c.PAST_EXPIRY)
    refused("issued in the future", "NOT_YET_VALID", iat=c.FUTURE)
    untrusted = Signer("did:web:stranger-shop.vectors.example", k.stranger.key)
    refused("from an untrusted merchant", "ISSUER_UNKNOWN", untrusted)
    refused("signed by the wrong key", "SIG_INVALID", k.merchant.with_key(k.stranger.key))
    refused("with an unknown kid", "KEY_NOT_FOUND", k.merchant.with_kid("k9"))
    refused("without cart_hash", "MISSING_REQUIRED_FIELD", cart_hash=...)
    refused("without jti", "MISSING_REQUIRED_FIELD", jti=...)
    name = "merchant authorization with alg none"
    unsigned = encode_json(c.merchant_claims(k.merchant.did, name, contents))
    m.add(name, cart(name, contents, f"{NONE_HEADER}.{unsigned}."), "ALG_NOT_ALLOWED")


def intents_and_payments(m: Minter, k: Cast) -> None:
    bank = k.es1.did
    name = "AP2 intent mandate"
    check: dict[str, Any] = {"mandate_type": "intent", "amount_limit": "150.00"}
    check |= {"currency": "USD", "merchants": ["Shop", "Other"]}
    m.add(name, k.es(c.intent(bank, name)), "VALID", check=check)
    name = "intent past intent_expiry"
    m.add(name, k.es(c.intent(bank, name, intent_expiry=c.ISO_PAST)), "EXPIRED")
    name = "intent without natural_language_description"
    m.add(
        name, k.es(c.intent(bank, name, natural_language_description=...)), "MISSING_REQUIRED_FIELD"
    )
    name = "intent_expiry not ISO 8601"
    m.add(name, k.es(c.intent(bank, name, intent_expiry="next tuesday")), "INVALID_FORMAT")
    name = "AP2 payment mandate"
    check = {"mandate_type": "payment", "amount_limit": "42.50"}
    check |= {"currency": "EUR", "merchants": ["Shop"]}
    m.add(name, k.es(c.payment(bank, name)), "VALID", check=check)
    name = "payment without merchant_agent"
    m.add(name, k.es(c.payment(bank, name, merchant_agent=...)), "MISSING_REQUIRED_FIELD")


# File order: issuers first, then cases (the first valid token before its repeat).
SECTIONS: tuple[Callable[[Minter, Cast], None], ...] = (
    issuers,
    valid,
    times,
    signatures,
    keys_and_issuers,
    registered_claims,
    headers_and_shape,
    envelope,
    generic_content,
    carts,
    intents_and_payments,
)
