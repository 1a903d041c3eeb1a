"""Vault receipt payloads, and validation of incoming merchant / processor receipts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from app.ap2.verification import (
    Decision,
    Family,
    IncomingReceipt,
    ReceiptRejection,
    ReceiptStatus,
    ReferenceForm,
    Rejection,
    ResultCode,
    RootKeyIndex,
    Stage,
    VerifiedChain,
    decision_receipt,
    receipt_payload,
    reference_form,
    rejection_receipt,
    sign_receipt,
    verify_receipt,
)
from app.keys import TrustedIssuer, key_from_jwk
from tests.ap2.minting import b64, b64d, enc, party, sign, sign_parts
from tests.ap2.scenarios import MERCHANT_KEY, NOW, NOW_TS, checkout, payment

MERCHANT_DID, MPP_DID = "did:web:shop.example", "did:web:mpp.example"
MPP = party("mpp-1")
RECEIPT_KEYS = RootKeyIndex.from_issuers(
    [
        TrustedIssuer(MERCHANT_DID, "active", (key_from_jwk(MERCHANT_KEY.public_jwk()),)),
        TrustedIssuer(MPP_DID, "active", (key_from_jwk(MPP.public_jwk()),)),
    ]
)
VAULT = party("vault-1")


class TestSigner:
    """An ES256 signer for the tests, standing in for the vault key."""

    def sign(self, payload: dict[str, Any]) -> str:
        return sign({"alg": "ES256", "typ": "JWT", "kid": VAULT.kid}, payload, VAULT.key)


def _no_nulls(payload: dict[str, Any]) -> None:
    assert all(value is not None for value in payload.values())


# --- vault receipts -----------------------------------------------------------------------------


def test_success_receipt_for_a_checkout_and_a_payment() -> None:
    for scenario, family, id_member in (
        (checkout(), Family.CHECKOUT, "order_id"),
        (payment(), Family.PAYMENT, "payment_id"),
    ):
        chain = scenario.verify()
        assert isinstance(chain, VerifiedChain)
        decision = scenario.decide()
        assert isinstance(decision, Decision)
        payload = decision_receipt(
            chain, decision, issuer="did:web:vault.example", issued_at=NOW, mandate_id="m-1"
        )
        assert payload == {
            "iss": "did:web:vault.example",
            "iat": NOW_TS,
            "reference": chain.reference,
            "status": "Success",
            "mandate_id": "m-1",
            id_member: "m-1",
        }
        assert chain.family is family


def test_error_receipts_carry_the_code_and_first_reason() -> None:
    s = payment(amount=10**6)
    chain = s.verify()
    assert isinstance(chain, VerifiedChain)
    decision = s.decide()
    assert isinstance(decision, Decision)
    payload = decision_receipt(chain, decision, issuer="v", issued_at=NOW + timedelta(seconds=0.9))
    assert payload is not None
    assert (payload["status"], payload["error"], payload["iat"]) == (
        "Error",
        "invalid_mandate",
        NOW_TS,
    )
    assert payload["error_description"] == decision.violations[0].reason
    assert "mandate_id" not in payload
    _no_nulls(payload)


def test_rejection_receipts() -> None:
    s = checkout(leaf_kw={"aud": "https://attacker.example"})
    rejection = s.verify()
    assert isinstance(rejection, Rejection)
    payload = rejection_receipt(rejection, issuer="v", issued_at=NOW)
    assert payload is not None
    assert (payload["error"], payload["reference"]) == ("invalid_credential", rejection.reference)
    _no_nulls(payload)
    shape = Rejection(ResultCode.INVALID_CREDENTIAL, Stage.SHAPE, "bad", None)
    assert (
        rejection_receipt(shape, issuer="v", issued_at=NOW) is None
    )  # no receipt when stage A failed


def test_success_needs_the_mandate_id() -> None:
    with pytest.raises(ValueError, match="mandate id"):
        receipt_payload(issuer="v", issued_at=NOW, reference="r", code=None)


def test_signed_receipt() -> None:
    payload = receipt_payload(
        issuer="v",
        issued_at=NOW,
        reference="r",
        code=ResultCode.UNRESOLVED_CONSTRAINT,
        reason="why",
    )
    jwt = sign_receipt(TestSigner(), payload)
    head, body, _ = jwt.split(".")
    assert json.loads(b64d(head)) == {"alg": "ES256", "typ": "JWT", "kid": "vault-1"}
    assert json.loads(b64d(body)) == payload
    keys = RootKeyIndex.from_issuers(
        [TrustedIssuer("v", "active", (key_from_jwk(VAULT.public_jwk()),))]
    )
    checked = verify_receipt(jwt, keys, NOW)
    assert isinstance(checked, IncomingReceipt)  # anyone holding the vault key can check it
    assert checked.status is ReceiptStatus.ERROR


# --- incoming receipts ----------------------------------------------------------------------------


def _receipt(
    payload: dict[str, Any], key: Any = MERCHANT_KEY, header: dict[str, Any] | None = None
) -> str:
    return sign(header or {"alg": "ES256", "kid": key.kid, "typ": "JWT"}, payload, key.key)


CHECKOUT_OK = {
    "status": "Success",
    "iss": MERCHANT_DID,
    "iat": NOW_TS,
    "reference": "ref-1",
    "order_id": "o-1",
}
PAYMENT_OK = {
    "status": "Success",
    "iss": MPP_DID,
    "iat": NOW_TS,
    "reference": "ref-2",
    "payment_id": "p-1",
    "psp_confirmation_id": "psp-1",
    "network_confirmation_id": "net-1",
}


def _accepted(jwt: str, kind: Family | None = None) -> IncomingReceipt:
    result = verify_receipt(jwt, RECEIPT_KEYS, NOW)
    assert isinstance(result, IncomingReceipt), result
    if kind is not None:
        assert result.check_kind(kind) is None
    return result


def _refused(jwt: Any, match: str = "") -> None:
    result = verify_receipt(jwt, RECEIPT_KEYS, NOW)
    assert isinstance(result, ReceiptRejection), result
    assert result.code == "invalid_receipt"
    assert match in result.reason


def test_valid_receipts() -> None:
    merchant = _accepted(_receipt(CHECKOUT_OK), Family.CHECKOUT)
    assert (merchant.issuer_did, merchant.kid, merchant.status, merchant.reference) == (
        MERCHANT_DID,
        "m-1",
        ReceiptStatus.SUCCESS,
        "ref-1",
    )
    processor = _accepted(_receipt(PAYMENT_OK, MPP), Family.PAYMENT)
    assert processor.issuer_did == MPP_DID


@pytest.mark.parametrize(
    ("status", "result", "expected"),
    [
        ("Success", None, ReceiptStatus.SUCCESS),
        (None, "success", ReceiptStatus.SUCCESS),
        (None, "error", ReceiptStatus.ERROR),
        ("Error", "error", ReceiptStatus.ERROR),
        ("Success", "success", ReceiptStatus.SUCCESS),
    ],
)
def test_status_and_result_alias(status: Any, result: Any, expected: ReceiptStatus) -> None:
    payload = {k: v for k, v in CHECKOUT_OK.items() if k != "status"} | {"error": "declined"}
    if status is not None:
        payload["status"] = status
    if result is not None:
        payload["result"] = result
    assert _accepted(_receipt(payload)).status is expected


@pytest.mark.parametrize(
    "change",
    [
        {"status": "Success", "result": "error"},
        {"status": "success"},
        {"status": "OK"},
        {"result": "Success"},
        {"status": None},
        {"status": 1},
    ],
)
def test_bad_status(change: dict[str, Any]) -> None:
    _refused(_receipt(CHECKOUT_OK | change), "receipt")


def test_null_members_count_as_absent() -> None:
    payload = CHECKOUT_OK | {"error": None, "payment_id": None, "status": None, "result": "success"}
    accepted = _accepted(_receipt(payload), Family.CHECKOUT)
    assert "error" not in accepted.payload
    assert accepted.check_kind(Family.PAYMENT) is not None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"iss": MPP_DID}, "iss"),
        ({"iss": None}, "iss"),
        ({"iss": 5}, "iss"),
        ({"iat": float(NOW_TS)}, "iat"),
        ({"iat": None}, "iat"),
        ({"iat": NOW_TS + 61}, "60 s"),
        ({"reference": None}, "reference"),
        ({"reference": ""}, "reference"),
        ({"reference": ["r"]}, "reference"),
        ({"status": "Error"}, "error"),
    ],
)
def test_payload_rules(change: dict[str, Any], match: str) -> None:
    _refused(_receipt(CHECKOUT_OK | change), match)


def test_iat_up_to_60_s_ahead_and_any_age() -> None:
    _accepted(_receipt(CHECKOUT_OK | {"iat": NOW_TS + 60}))
    _accepted(_receipt(CHECKOUT_OK | {"iat": 1}))


def test_what_each_kind_needs() -> None:
    checkout_receipt = _accepted(_receipt(CHECKOUT_OK))
    assert checkout_receipt.check_kind(Family.CHECKOUT) is None
    missing = checkout_receipt.check_kind(Family.PAYMENT)
    assert isinstance(missing, ReceiptRejection)
    assert "payment_id" in missing.reason
    for member in ("payment_id", "psp_confirmation_id", "network_confirmation_id"):
        partial = {k: v for k, v in PAYMENT_OK.items() if k != member}
        problem = _accepted(_receipt(partial, MPP)).check_kind(Family.PAYMENT)
        assert problem is not None
        assert member in problem.reason
    error = _accepted(
        _receipt(
            {"result": "error", "iss": MPP_DID, "iat": NOW_TS, "reference": "r", "error": "x"}, MPP
        )
    )
    assert error.check_kind(Family.PAYMENT) is None
    assert error.check_kind(Family.CHECKOUT) is None
    empty_id = _accepted(_receipt(CHECKOUT_OK | {"order_id": ""}))
    assert empty_id.check_kind(Family.CHECKOUT) is not None


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "kid": "m-1"},
        {"alg": "HS256", "kid": "m-1"},
        {"alg": "ES384", "kid": "m-1"},
        {"kid": "m-1"},
        {"alg": "ES256"},
        {"alg": "ES256", "kid": "nobody"},
        {"alg": "ES256", "kid": "m-1", "crit": ["x"]},
        {"alg": "ES256", "kid": "mpp-1"},  # a trusted kid, but not the signing key
    ],
)
def test_receipt_headers(header: dict[str, Any]) -> None:
    _refused(_receipt(CHECKOUT_OK, header=header))


def test_receipt_signature_and_format() -> None:
    good = _receipt(CHECKOUT_OK)
    head, body, sig = good.split(".")
    _refused(f"{head}.{enc(CHECKOUT_OK | {'order_id': 'o-2'})}.{sig}", "signature")
    _refused(_receipt(CHECKOUT_OK, key=party("m-1")), "signature")
    for junk in (None, 5, "", "a.b", good + ".x", "é" + good, "x" * 70000, f"{head}.{body}.!!"):
        _refused(junk)
    raw = sign_parts_raw(b'{"alg":"ES256","kid":"m-1"}', b'{"iss":"a","iss":"b"}')
    _refused(raw, "duplicate")


def sign_parts_raw(header: bytes, payload: bytes) -> str:
    return sign_parts(b64(header), b64(payload), MERCHANT_KEY.key)


def test_reference_forms() -> None:
    chain = checkout().verify()
    assert isinstance(chain, VerifiedChain)
    assert (
        reference_form(chain.reference, chain.reference, chain.reference_sdk) is ReferenceForm.SPEC
    )
    assert (
        reference_form(chain.reference_sdk, chain.reference, chain.reference_sdk)
        is ReferenceForm.SDK
    )
    assert reference_form("other", chain.reference, chain.reference_sdk) is None
