"""Minted tokens through verify_token: one test per rule, asserting the code and fields."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.keys import TrustedIssuer, TrustSnapshot, b64url_decode
from app.mandates.verification import Code, verify_token
from tests.verification.conftest import (
    ED_DID,
    ES384_DID,
    ES_DID,
    MERCHANT_DID,
    MULTI_DID,
    REVOKED_DID,
    RS_DID,
    SUSPENDED_DID,
)
from tests.verification.helpers import (
    NOW,
    b64url,
    cart_contents,
    compute_cart_hash,
    did_jwk,
    did_key,
    generic_claims,
    mint,
    subject_claims,
    unsigned,
)


def check(token, trust, **kwargs):
    return verify_token(token, trust, now=kwargs.pop("now", NOW), **kwargs)


@pytest.mark.parametrize(
    ("did", "attr", "alg"),
    [
        (ES_DID, "es", "ES256"),
        (ES384_DID, "es384", "ES384"),
        (RS_DID, "rs", "RS256"),
        (RS_DID, "rs", "RS384"),
        (RS_DID, "rs", "RS512"),
        (RS_DID, "rs", "PS256"),
        (RS_DID, "rs", "PS384"),
        (ED_DID, "ed", "EdDSA"),
    ],
)
def test_valid_generic_for_every_alg(keys, trust, did, attr, alg):
    result = check(mint(generic_claims(did), getattr(keys, attr), alg), trust)
    assert result.code is Code.VALID, result.reason
    fields = result.fields
    assert fields.mandate_type == "generic"
    assert fields.amount_limit == Decimal("500.00")
    assert fields.currency == "USD"
    assert fields.scope == "payments:recurring"
    assert fields.alg == alg
    assert fields.expires_at == datetime.fromtimestamp(NOW + 3600, UTC)


@pytest.mark.parametrize(
    ("did", "attr", "alg"),
    [
        (ES_DID, "es", "ES384"),
        (ES_DID, "es", "RS256"),
        (ES_DID, "es", "EdDSA"),
        (ES384_DID, "es384", "ES256"),
        (RS_DID, "rs", "ES256"),
        (RS_DID, "rs", "EdDSA"),
        (ED_DID, "ed", "ES256"),
        (ED_DID, "ed", "PS256"),
    ],
)
def test_alg_key_mismatch(keys, trust, did, attr, alg):
    # Signed with an unrelated key of the header's family: the mismatch must stop it first.
    signer = {
        "ES": keys.es384 if alg == "ES384" else keys.stranger,
        "RS": keys.rs,
        "PS": keys.rs,
        "Ed": keys.ed,
    }[alg[:2]]
    if alg == "ES256" and attr == "rs":
        signer = keys.stranger
    result = check(mint(generic_claims(did), signer, alg), trust)
    assert result.code is Code.ALG_NOT_ALLOWED


@pytest.mark.parametrize("alg", ["none", "HS256", "HS512", "ES512", "RS1", "", "PS512"])
def test_algorithms_outside_allowlist(trust, alg):
    token = unsigned({"alg": alg, "kid": "k1"}, generic_claims(ES_DID), b"sig")
    assert check(token, trust).code is Code.ALG_NOT_ALLOWED


def test_crit_and_b64_refused(keys, trust):
    crit = mint(generic_claims(ES_DID), keys.es, "ES256", crit=["exp"], exp=1)
    assert check(crit, trust).code is Code.INVALID_FORMAT
    b64 = mint(generic_claims(ES_DID), keys.es, "ES256", b64=False)
    assert check(b64, trust).code is Code.INVALID_FORMAT


def test_kid_rules(keys, trust):
    claims = generic_claims(MULTI_DID)
    assert check(mint(claims, keys.multi1, "ES256", kid="a"), trust).code is Code.VALID
    assert check(mint(claims, keys.multi2, "ES256", kid="b"), trust).code is Code.VALID
    assert check(mint(claims, keys.multi1, "ES256", kid=None), trust).code is Code.KEY_NOT_FOUND
    assert check(mint(claims, keys.multi1, "ES256", kid="zz"), trust).code is Code.KEY_NOT_FOUND
    assert check(mint(claims, keys.multi1, "ES256", kid="b"), trust).code is Code.SIG_INVALID
    # A DID URL naming the key works; a single-key issuer needs no kid.
    url = mint(claims, keys.multi1, "ES256", kid=f"{MULTI_DID}#a")
    assert check(url, trust).code is Code.VALID
    assert check(mint(generic_claims(ES_DID), keys.es, "ES256", kid=None), trust).ok


def test_issuer_status_and_unknown(keys, trust):
    assert check(mint(generic_claims(SUSPENDED_DID), keys.es, "ES256"), trust).code is (
        Code.ISSUER_REVOKED
    )
    assert check(mint(generic_claims(REVOKED_DID), keys.es, "ES256"), trust).code is (
        Code.ISSUER_REVOKED
    )
    stranger = mint(generic_claims("did:web:nobody.example"), keys.es, "ES256")
    assert check(stranger, trust).code is Code.ISSUER_UNKNOWN
    claims = generic_claims(ES_DID)
    del claims["iss"]
    no_iss = mint(claims, keys.es, "ES256")
    assert check(no_iss, trust).code is Code.MISSING_REQUIRED_FIELD


def test_forged_token_learns_only_sig_invalid(keys, trust):
    # Expired and content-broken, but signed by the wrong key: SIG_INVALID wins.
    claims = generic_claims(ES_DID, exp=NOW - 10_000)
    claims["vc"]["credentialSubject"]["currency"] = "usd"
    assert check(mint(claims, keys.stranger, "ES256"), trust).code is Code.SIG_INVALID


def test_ecdsa_signature_length(keys, trust):
    token = mint(generic_claims(ES_DID), keys.es, "ES256")
    head, body, sig = token.split(".")
    short = b64url(b64url_decode(sig)[:60])
    assert check(f"{head}.{body}.{short}", trust).code is Code.SIG_INVALID
    assert check(f"{head}.{body}.", trust).code is Code.SIG_INVALID


@pytest.mark.parametrize(
    ("claims_update", "now_offset", "code"),
    [
        ({"exp": NOW - 61}, 0, Code.EXPIRED),
        ({"exp": NOW - 59}, 0, Code.VALID),
        ({"exp": NOW - 60}, 0, Code.EXPIRED),
        ({"nbf": NOW + 59}, 0, Code.VALID),
        ({"nbf": NOW + 61}, 0, Code.NOT_YET_VALID),
        ({"iat": NOW + 60}, 0, Code.VALID),
        ({"iat": NOW + 61}, 0, Code.NOT_YET_VALID),
        ({"exp": ...}, 0, Code.MISSING_REQUIRED_FIELD),
        ({"iat": ...}, 0, Code.MISSING_REQUIRED_FIELD),
        ({"sub": ...}, 0, Code.MISSING_REQUIRED_FIELD),
        ({"exp": "2099-01-01"}, 0, Code.INVALID_FORMAT),
        ({"exp": True}, 0, Code.INVALID_FORMAT),
        ({"exp": 10**30}, 0, Code.INVALID_FORMAT),
        ({"iat": float(NOW)}, 0, Code.VALID),
        ({"sub": 42}, 0, Code.INVALID_FORMAT),
        ({"vc": ...}, 0, Code.MISSING_REQUIRED_FIELD),
        ({"vc": "x"}, 0, Code.INVALID_FORMAT),
    ],
)
def test_registered_claims_and_leeway(keys, trust, claims_update, now_offset, code):
    token = mint(generic_claims(ES_DID, **claims_update), keys.es, "ES256")
    assert check(token, trust, now=NOW + now_offset).code is code


def test_zero_leeway(keys, trust):
    token = mint(generic_claims(ES_DID, exp=NOW - 1), keys.es, "ES256")
    assert check(token, trust).code is Code.VALID
    assert check(token, trust, leeway_seconds=0).code is Code.EXPIRED


@pytest.mark.parametrize(
    ("subject_update", "code"),
    [
        ({"amount_limit": "-1.00"}, Code.SCOPE_INVALID),
        ({"amount_limit": "NaN"}, Code.SCOPE_INVALID),
        ({"amount_limit": "Infinity"}, Code.SCOPE_INVALID),
        ({"amount_limit": "1e3"}, Code.SCOPE_INVALID),
        ({"amount_limit": "abc"}, Code.SCOPE_INVALID),
        ({"amount_limit": "100000000000000"}, Code.SCOPE_INVALID),
        ({"amount_limit": "1.001"}, Code.SCOPE_INVALID),
        ({"amount_limit": True}, Code.SCOPE_INVALID),
        ({"amount_limit": None}, Code.MISSING_REQUIRED_FIELD),
        ({"currency": "usd"}, Code.SCOPE_INVALID),
        ({"currency": "US"}, Code.SCOPE_INVALID),
        ({"currency": 840}, Code.SCOPE_INVALID),
        ({"currency": None}, Code.MISSING_REQUIRED_FIELD),
        ({"scope": None}, Code.MISSING_REQUIRED_FIELD),
        ({"scope": ""}, Code.SCOPE_INVALID),
        ({"merchants": "Shop"}, Code.SCOPE_INVALID),
        ({"merchants": [1]}, Code.SCOPE_INVALID),
        ({"id": "did:example:someone-else"}, Code.INVALID_FORMAT),
    ],
)
def test_generic_content(keys, trust, subject_update, code):
    claims = generic_claims(ES_DID)
    subject = claims["vc"]["credentialSubject"]
    for name, value in subject_update.items():
        if value is None:
            subject.pop(name, None)
        else:
            subject[name] = value
    assert check(mint(claims, keys.es, "ES256"), trust).code is code


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("500", "USD", "500.00"),
        (500, "USD", "500.00"),
        (12.5, "EUR", "12.50"),
        ("1000", "JPY", "1000"),
        ("1.234", "KWD", "1.234"),
        ("1.50", "USD", "1.50"),
    ],
)
def test_amount_quantized_to_currency(keys, trust, amount, currency, expected):
    claims = generic_claims(ES_DID)
    claims["vc"]["credentialSubject"].update(amount_limit=amount, currency=currency)
    result = check(mint(claims, keys.es, "ES256"), trust)
    assert result.ok, result.reason
    assert str(result.fields.amount_limit) == expected


def test_generic_falls_back_to_top_level_claims(keys, trust):
    claims = generic_claims(ES_DID, scope="payments:one-off", amount_limit="20", currency="GBP")
    claims["vc"]["credentialSubject"] = {"id": "did:example:agent-1"}
    result = check(mint(claims, keys.es, "ES256"), trust)
    assert result.ok, result.reason
    assert (result.fields.scope, str(result.fields.amount_limit), result.fields.currency) == (
        "payments:one-off",
        "20.00",
        "GBP",
    )


def test_top_level_w3c_vc(keys, trust):
    claims = generic_claims(ES_DID)
    vc = claims.pop("vc")
    claims.update(type=vc["type"], credentialSubject=vc["credentialSubject"])
    result = check(mint(claims, keys.es, "ES256"), trust)
    assert result.ok, result.reason
    assert result.fields.mandate_type == "generic"


@pytest.mark.parametrize(
    ("types", "code"),
    [
        (["VerifiableCredential"], Code.INVALID_FORMAT),
        (["Mandate"], Code.INVALID_FORMAT),
        ("VerifiableCredential", Code.INVALID_FORMAT),
        (["VerifiableCredential", "Mandate", "CartMandate"], Code.INVALID_FORMAT),
    ],
)
def test_vc_type(keys, trust, types, code):
    claims = generic_claims(ES_DID)
    claims["vc"]["type"] = types
    assert check(mint(claims, keys.es, "ES256"), trust).code is code


INTENT = {
    "natural_language_description": "Red shoes under $150",
    "merchants": ["Shop"],
    "skus": ["SKU-1"],
    "requires_refundability": True,
    "user_cart_confirmation_required": False,
    "intent_expiry": "2027-01-15T10:00:00Z",
    "amount_limit": "150.00",
    "currency": "USD",
}


def test_intent_mandate(keys, trust):
    token = mint(subject_claims(ES_DID, "IntentMandate", INTENT, exp=NOW + 10**8), keys.es, "ES256")
    result = check(token, trust)
    assert result.ok, result.reason
    fields = result.fields
    assert fields.mandate_type == "intent"
    assert fields.merchants == ["Shop"]
    assert fields.amount_limit == Decimal("150.00")
    assert fields.expires_at == datetime(2027, 1, 15, 10, tzinfo=UTC)
    assert fields.details["skus"] == ["SKU-1"]


@pytest.mark.parametrize(
    ("update", "code"),
    [
        ({"intent_expiry": "2020-01-01T00:00:00Z"}, Code.EXPIRED),
        ({"intent_expiry": "not a date"}, Code.INVALID_FORMAT),
        ({"intent_expiry": None}, Code.MISSING_REQUIRED_FIELD),
        ({"natural_language_description": None}, Code.MISSING_REQUIRED_FIELD),
        ({"currency": None}, Code.MISSING_REQUIRED_FIELD),
        ({"amount_limit": "-5"}, Code.SCOPE_INVALID),
        ({"skus": "SKU-1"}, Code.SCOPE_INVALID),
        ({"requires_refundability": "yes"}, Code.INVALID_FORMAT),
    ],
)
def test_intent_rules(keys, trust, update, code):
    subject = {k: v for k, v in {**INTENT, **update}.items() if v is not None}
    token = mint(subject_claims(ES_DID, "IntentMandate", subject), keys.es, "ES256")
    assert check(token, trust).code is code


def _cart_token(
    keys,
    contents=None,
    *,
    signed_contents=None,
    merchant_key=None,
    merchant_did=MERCHANT_DID,
    auth_update=None,
    exp=NOW + 10**8,
):
    contents = contents or cart_contents()
    auth_claims = {
        "iss": merchant_did,
        "sub": merchant_did,
        "iat": NOW - 5,
        "exp": NOW + 10**8,
        "jti": "auth-1",
        "cart_hash": compute_cart_hash(signed_contents or contents),
    }
    auth_claims.update(auth_update or {})
    auth_claims = {k: v for k, v in auth_claims.items() if v is not ...}
    auth = mint(auth_claims, merchant_key or keys.merchant, "ES256")
    subject = {"contents": contents, "merchant_authorization": auth}
    return mint(subject_claims(ES_DID, "CartMandate", subject, exp=exp), keys.es, "ES256")


def test_cart_mandate(keys, trust):
    result = check(_cart_token(keys), trust)
    assert result.ok, result.reason
    fields = result.fields
    assert (fields.mandate_type, str(fields.amount_limit), fields.currency) == (
        "cart",
        "129.99",
        "USD",
    )
    assert fields.merchants == ["Shop"]
    assert fields.expires_at == datetime(2027, 1, 15, 10, tzinfo=UTC)
    assert fields.details["merchant_authorization"]["issuer_did"] == MERCHANT_DID


def test_cart_hash_mismatch(keys, trust):
    token = _cart_token(keys, cart_contents(merchant_name="Evil"), signed_contents=cart_contents())
    assert check(token, trust).code is Code.CART_HASH_MISMATCH


def test_cart_key_order_does_not_change_hash(keys, trust):
    contents = cart_contents()
    reordered = dict(reversed(list(copy.deepcopy(contents).items())))
    assert check(_cart_token(keys, reordered, signed_contents=contents), trust).ok


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"merchant_did": "did:web:unknown-shop.example"}, Code.ISSUER_UNKNOWN),
        ({"merchant_did": REVOKED_DID, "merchant_key": "es"}, Code.ISSUER_REVOKED),
        ({"merchant_key": "stranger"}, Code.SIG_INVALID),
        ({"auth_update": {"exp": NOW - 3600}}, Code.EXPIRED),
        ({"auth_update": {"iat": NOW + 3600}}, Code.NOT_YET_VALID),
        ({"auth_update": {"cart_hash": ...}}, Code.MISSING_REQUIRED_FIELD),
        ({"auth_update": {"jti": ...}}, Code.MISSING_REQUIRED_FIELD),
        ({"contents": cart_contents(cart_expiry="2020-01-01T00:00:00Z")}, Code.EXPIRED),
        ({"contents": cart_contents(merchant_name=None)}, Code.MISSING_REQUIRED_FIELD),
        ({"contents": cart_contents(merchant_name=5)}, Code.INVALID_FORMAT),
    ],
)
def test_cart_merchant_authorization(keys, trust, kwargs, code):
    if isinstance(kwargs.get("merchant_key"), str):
        kwargs = {**kwargs, "merchant_key": getattr(keys, kwargs["merchant_key"])}
    result = check(_cart_token(keys, **kwargs), trust)
    assert result.code is code, result.reason


def test_cart_needs_merchant_authorization(keys, trust):
    subject = {"contents": cart_contents()}
    token = mint(subject_claims(ES_DID, "CartMandate", subject), keys.es, "ES256")
    assert check(token, trust).code is Code.MISSING_REQUIRED_FIELD


PAYMENT = {
    "payment_mandate_contents": {
        "payment_mandate_id": "pm-1",
        "payment_details_id": "order-1",
        "payment_details_total": {"label": "Total", "amount": {"currency": "EUR", "value": "42.5"}},
        "payment_response": {"request_id": "order-1", "method_name": "CARD"},
        "merchant_agent": "Shop",
        "timestamp": "2026-11-26T03:15:08Z",
    },
    "user_authorization": "opaque",
}


def test_payment_mandate(keys, trust):
    result = check(mint(subject_claims(ES_DID, "PaymentMandate", PAYMENT), keys.es, "ES256"), trust)
    assert result.ok, result.reason
    fields = result.fields
    assert (fields.mandate_type, str(fields.amount_limit), fields.currency) == (
        "payment",
        "42.50",
        "EUR",
    )
    assert fields.merchants == ["Shop"]
    assert fields.details["user_authorization"] == "opaque"


def test_payment_missing_total(keys, trust):
    subject = copy.deepcopy(PAYMENT)
    del subject["payment_mandate_contents"]["payment_details_total"]
    token = mint(subject_claims(ES_DID, "PaymentMandate", subject), keys.es, "ES256")
    assert check(token, trust).code is Code.MISSING_REQUIRED_FIELD


@pytest.mark.parametrize("attr", ["ed", "es"])
def test_did_key_issuers(keys, attr):
    private = getattr(keys, attr)
    did = did_key(private.public_key())
    trust = TrustSnapshot([TrustedIssuer.from_did(did, "active")])
    alg = "EdDSA" if attr == "ed" else "ES256"
    assert check(mint(generic_claims(did), private, alg, kid=None), trust).ok
    fragment = did.removeprefix("did:key:")
    assert check(mint(generic_claims(did), private, alg, kid=f"{did}#{fragment}"), trust).ok
    assert check(mint(generic_claims(did), keys.stranger, "ES256", kid=None), trust).code in (
        Code.SIG_INVALID,
        Code.ALG_NOT_ALLOWED,
    )


@pytest.mark.parametrize("attr", ["es", "ed", "rs"])
def test_did_jwk_issuers(keys, attr):
    private = getattr(keys, attr)
    did = did_jwk(private)
    trust = TrustSnapshot([TrustedIssuer.from_did(did, "active")])
    alg = {"es": "ES256", "ed": "EdDSA", "rs": "RS256"}[attr]
    assert check(mint(generic_claims(did), private, alg, kid=f"{did}#0"), trust).ok
    assert check(mint(generic_claims(did), private, alg, kid=None), trust).ok


def test_too_large_and_format(trust):
    assert check("a" * 70_000, trust).code is Code.TOO_LARGE
    assert check("a.b.c", trust, max_bytes=4).code is Code.TOO_LARGE
    assert check("a.b", trust).code is Code.INVALID_FORMAT
    assert check("a.b.c.d.e", trust).code is Code.INVALID_FORMAT
    assert check(None, trust).code is Code.INVALID_FORMAT
    assert check("é.é.é", trust).code is Code.INVALID_FORMAT
    assert check(unsigned({"alg": "ES256"}, [1]), trust).code is Code.INVALID_FORMAT
    padded = unsigned({"alg": "ES256"}, generic_claims(ES_DID), b"x") + "="
    assert check(padded, trust).code is Code.INVALID_FORMAT


def test_noncanonical_signature_encoding_refused(keys, trust):
    token = mint(generic_claims(ES_DID), keys.es, "ES256")
    head, body, sig = token.split(".")
    # 64-byte signature -> 86 chars; the last char carries 4 unused bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = sig[:-1] + alphabet[alphabet.index(sig[-1]) | 1]
    assert check(token, trust).ok
    assert check(f"{head}.{body}.{twin}", trust).code is Code.INVALID_FORMAT


def test_nul_and_surrogates_refused(keys, trust):
    nul = generic_claims(ES_DID, sub="did:example:\u0000")
    assert check(mint(nul, keys.es, "ES256"), trust).code is Code.INVALID_FORMAT
    lone = unsigned({"alg": "ES256"}, {"iss": ES_DID}).split(".")
    body = "eyJpc3MiOiJcdWQ4MDAifQ"  # {"iss":"\ud800"}
    assert check(f"{lone[0]}.{body}.AAAA", trust).code is Code.INVALID_FORMAT


def test_bytes_token_accepted(keys, trust):
    token = mint(generic_claims(ES_DID), keys.es, "ES256")
    assert check(token.encode(), trust).ok


def test_white_space_around_a_token_is_refused(keys, trust):
    # One token, one hash: "t" and "t\n" would otherwise be stored as two mandates.
    token = mint(generic_claims(ES_DID), keys.es, "ES256")
    for padded in (token + "\n", " " + token, token + "\r\n"):
        assert check(padded, trust).code == Code.INVALID_FORMAT
