"""Stage C: vct and family, each content's row, constraint shapes, `contains` rules."""

from __future__ import annotations

from typing import Any

import pytest

from app.ap2.verification import (
    ClosedCheckout,
    ClosedPayment,
    Decision,
    Family,
    Rejection,
    ResultCode,
    Stage,
    VerifiedChain,
    verify_chain,
)
from app.ap2.verification.shapes import UnknownConstraint
from tests.ap2.minting import H, Hop, b64, chain, enc, kb_hop, sign, sign_parts
from tests.ap2.scenarios import (
    CARD,
    M1,
    MERCHANT_KEY,
    NOW,
    NOW_TS,
    OPEN_CHECKOUT_HASH,
    PISP1,
    ROOT_KEYS,
    SHOE,
    Sd,
    amount_range,
    checkout,
    closed_checkout,
    closed_payment,
    lines,
    merchants,
    open_checkout,
    payees,
    payment,
    reference,
)


def _schema_refusal(result: Any) -> str:
    assert isinstance(result, Rejection), result
    assert (result.code, result.stage) == (ResultCode.INVALID_MANDATE, Stage.SCHEMA), result
    assert result.reference is not None
    return result.reason


def _passes_c(result: Any) -> VerifiedChain:
    assert isinstance(result, VerifiedChain), result
    return result


# --- C1: vct -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vct",
    [
        "mandate.checkout.open.1",
        "mandate.checkout",
        "mandate.checkout.2",
        "Mandate.Checkout.1",
        None,
        1,
    ],
)
def test_leaf_vct_must_be_closed(vct: Any) -> None:
    def closed(cj: str) -> dict[Any, Any]:
        c = closed_checkout(cj)
        if vct is None:
            del c["vct"]
        else:
            c["vct"] = vct
        return c

    assert "vct" in _schema_refusal(checkout(closed=closed).verify())


def test_open_vct_of_the_same_family() -> None:
    s = checkout()
    for vct in ("mandate.payment.open.1", "mandate.checkout.1", "mandate.checkout.open", None):
        agent = s.agent
        content = open_checkout(agent)
        content["vct"] = vct
        assert "vct" in _schema_refusal(checkout(root_content=content, agent=agent).verify())


def test_payment_leaf_under_a_checkout_root() -> None:
    s = checkout(closed=lambda cj: closed_payment(cj))
    assert "vct" in _schema_refusal(s.verify())


def test_families() -> None:
    assert _passes_c(checkout().verify()).family is Family.CHECKOUT
    assert _passes_c(payment().verify()).family is Family.PAYMENT


# --- C2: closed checkout -------------------------------------------------------------------


def _jws(header: bytes, payload: bytes) -> str:
    return sign_parts(b64(header), b64(payload), MERCHANT_KEY.key)


@pytest.mark.parametrize(
    "cj",
    [
        None,
        5,
        "not-a-jws",
        "a.b",
        enc({"alg": "ES256"}) + "." + enc([1]) + ".sig",
        enc(["h"]) + "." + enc({}) + ".sig",
        enc({"alg": "ES256"}) + ".!!!.sig",
        _jws(b'{"alg":"ES256"}', b'{"merchant":{},"merchant":{}}'),
        _jws(b"{}", b"not json"),
    ],
)
def test_checkout_jwt_must_be_a_jws_of_json_objects(cj: Any) -> None:
    def closed(real: str) -> dict[Any, Any]:
        c = closed_checkout(real)
        if cj is None:
            del c[Sd("checkout_jwt")]
        else:
            c[Sd("checkout_jwt")] = cj
        return c

    _schema_refusal(checkout(closed=closed).verify())


def test_checkout_jwt_signature_is_not_verified_and_plain_member_accepted() -> None:
    cj = enc({"alg": "ES256"}) + "." + enc({"merchant": M1, "line_items": []}) + "."
    s = checkout(
        closed=lambda real: {
            "vct": "mandate.checkout.1",
            "checkout_jwt": cj,
            "checkout_hash": H(cj),
        }
    )
    verified = _passes_c(s.verify())
    assert isinstance(verified.closed, ClosedCheckout)
    assert verified.checkout_jwt == cj
    assert verified.transaction_id == verified.checkout_hash == H(cj)


@pytest.mark.parametrize("value", [None, 7, ["h"]])
def test_checkout_hash_required_string(value: Any) -> None:
    def closed(cj: str) -> dict[Any, Any]:
        c = closed_checkout(cj)
        if value is None:
            del c["checkout_hash"]
        else:
            c["checkout_hash"] = value
        return c

    assert "checkout_hash" in _schema_refusal(checkout(closed=closed).verify())


# --- C2: closed payment --------------------------------------------------------------------


@pytest.mark.parametrize(
    "member", ["transaction_id", "payee", "payment_amount", "payment_instrument"]
)
def test_closed_payment_required_members(member: str) -> None:
    def closed(cj: str) -> dict[Any, Any]:
        c = closed_payment(cj)
        del c[member]
        return c

    assert member in _schema_refusal(payment(closed=closed).verify())


@pytest.mark.parametrize("amount", [19900.0, 199.5, "19900", True, False, None, -1, [19900]])
def test_amount_must_be_a_non_negative_integer_literal(amount: Any) -> None:
    assert "amount" in _schema_refusal(payment(amount=amount).verify())


@pytest.mark.parametrize("literal", [b"1.99e4", b"19900.0", b"19900E0", b"1990e1"])
def test_number_literals_with_fraction_or_exponent_are_not_integers(literal: bytes) -> None:
    s = payment()
    cj = s.cj
    body = (
        b'{"vct":"mandate.payment.1","transaction_id":"' + H(cj).encode() + b'",'
        b'"payee":{"id":"merchant_1","name":"Demo Merchant"},'
        b'"payment_amount":{"amount":' + literal + b',"currency":"USD"},'
        b'"payment_instrument":{"id":"pi","type":"card"}}'
    )
    content = b64(b'["salt-1", ' + body + b"]")
    payload = {"delegate_payload": [{"...": H(content)}], "iat": NOW_TS, "aud": s.context.audience}
    payload |= {"nonce": s.context.nonce, "sd_hash": H(s.root.text)}
    leaf = Hop(sign({"alg": "ES256", "typ": "kb+sd-jwt"}, payload, s.agent.key), [content])
    result = verify_chain(chain(s.root, leaf), s.context, ROOT_KEYS, NOW)
    assert "amount" in _schema_refusal(result)


def test_zero_and_large_amounts_are_integers() -> None:
    assert _passes_c(payment(amount=0).verify()).amount == 0
    assert _passes_c(payment(amount=10**15).verify()).amount == 10**15


@pytest.mark.parametrize(
    "currency", ["usd", "US", "USDX", "U$D", " USD", "USD\n", "ÜSD", 840, None]
)
def test_currency_must_be_three_capital_letters(currency: Any) -> None:
    s = payment(
        closed=lambda cj: (
            closed_payment(cj) | {"payment_amount": {"amount": 1, "currency": currency}}
        )
    )
    assert "currency" in _schema_refusal(s.verify())


@pytest.mark.parametrize(
    "payee",
    [
        {"name": "Demo Merchant"},
        {"id": "merchant_1"},
        {"id": 1, "name": "n"},
        {"id": "m", "name": "n", "website": 3},
        {"id": "m", "name": "n", "website": None},
        "merchant_1",
        None,
    ],
)
def test_payee_is_a_merchant(payee: Any) -> None:
    assert "payee" in _schema_refusal(payment(payee=payee).verify())


def test_merchant_empty_strings_are_shapes() -> None:
    _passes_c(payment(payee={"id": "", "name": ""}).verify())
    _passes_c(payment(payee={"id": "m", "name": "n", "website": "https://m.example"}).verify())


# Merchant, Amount and PISP close their objects; PaymentInstrument and the UCP
# checkout's merchant do not.
@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("payee", M1 | {"extra": 1}),
        ("payee", M1 | {"_sd_alg": "sha-256"}),
        ("payment_amount", {"amount": 19900, "currency": "USD", "display": "$199.00"}),
        ("payment_amount", {"amount": 19900, "currency": "USD", "scale": 2}),
        ("pisp", PISP1 | {"country": "FR"}),
    ],
)
def test_closed_shared_objects_refuse_unknown_members(member: str, value: Any) -> None:
    s = payment(closed=lambda cj: closed_payment(cj) | {member: value})
    reason = _schema_refusal(s.verify())
    assert member in reason
    assert "does not allow" in reason


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("payee", M1 | {"mcc": "5411"}),
        ("payment_amount", {"amount": 19900, "currency": "USD", "x": None}),
        ("pisp", PISP1 | {"extra": "x"}),
    ],
)
def test_open_payment_presets_refuse_unknown_members(member: str, value: Any) -> None:
    reason = _schema_refusal(payment(root_extra={member: value}).verify())
    assert member in reason
    assert "does not allow" in reason


def test_instrument_and_checkout_merchant_members_stay_open() -> None:
    instrument = CARD | {"network": "visa", "last4": "4242"}
    _passes_c(
        payment(closed=lambda cj: closed_payment(cj) | {"payment_instrument": instrument}).verify()
    )
    decision = checkout(
        merchant=M1 | {"logo": "https://m.example/logo.png"},
        cons=[lines(("l", 1, [SHOE])), merchants(M1)],
    ).decide()
    assert isinstance(decision, Decision), decision
    assert decision.approved, decision


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("payment_instrument", {"id": "pi"}),
        ("payment_instrument", {"type": "card"}),
        ("payment_instrument", {"id": "pi", "type": "card", "description": 5}),
        ("pisp", {"legal_name": "a", "brand_name": "b"}),
        ("pisp", {"legal_name": "a", "brand_name": "b", "domain_name": 1}),
        ("pisp", "payinit"),
        ("execution_date", "tomorrow"),
        ("execution_date", "2026-05-01T12:00:00"),
        ("execution_date", 1777636800),
        ("risk_data", "low"),
        ("risk_data", ["a"]),
    ],
)
def test_closed_payment_member_types(member: str, value: Any) -> None:
    s = payment(closed=lambda cj: closed_payment(cj) | {member: value})
    assert member in _schema_refusal(s.verify())


def test_closed_payment_optional_members() -> None:
    extra = {
        "pisp": PISP1,
        "execution_date": "2026-05-02T09:00:00+02:00",
        "risk_data": {"score": 3},
        "payment_instrument": CARD | {"network": "visa"},
        "note": "extra members are ignored",
    }
    verified = _passes_c(payment(closed=lambda cj: closed_payment(cj) | extra).verify())
    closed = verified.closed
    assert isinstance(closed, ClosedPayment)
    assert (closed.pisp and closed.pisp.domain_name, closed.execution_date) == (
        "payinit.example",
        "2026-05-02T09:00:00+02:00",
    )
    assert verified.payee is not None
    assert verified.merchant_ids == ("merchant_1",)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("payee", {"id": "merchant_1"}),
        ("payment_amount", {"amount": 19900.0, "currency": "USD"}),
        ("payment_instrument", {"id": "pi"}),
        ("pisp", {"legal_name": "a"}),
        ("execution_date", "soon"),
        ("risk_data", 1),
    ],
)
def test_open_payment_presets_are_typed(member: str, value: Any) -> None:
    assert member in _schema_refusal(payment(root_extra={member: value}).verify())


def test_open_checkout_presets_are_untyped() -> None:
    _passes_c(checkout(root_content=None, root_kw=None).verify())
    s = checkout()
    content = open_checkout(s.agent, anything={"goes": [1.5, True]})
    _passes_c(checkout(root_content=content, agent=s.agent).verify())


# --- C2: constraints -----------------------------------------------------------------------

REF = reference(OPEN_CHECKOUT_HASH)


@pytest.mark.parametrize(
    "constraint",
    [
        "payment.amount_range",
        {"max": 1},
        {"type": 5},
        {"type": None},
        {"type": "payment.amount_range", "currency": "USD"},
        {"type": "payment.amount_range", "currency": "USD", "max": 1.0},
        {"type": "payment.amount_range", "currency": "USD", "max": -1},
        {"type": "payment.amount_range", "currency": "USD", "max": 5, "min": -1},
        {"type": "payment.amount_range", "currency": "USD", "max": 5, "min": "1"},
        {"type": "payment.amount_range", "currency": "usd", "max": 5},
        {"type": "payment.amount_range", "max": 5},
        {"type": "payment.budget", "max": "100", "currency": "USD"},
        {"type": "payment.budget", "max": 100.0, "currency": "USD"},
        {"type": "payment.budget", "max": 100},
        {"type": "payment.agent_recurrence"},
        {"type": "payment.agent_recurrence", "frequency": "HOURLY"},
        {"type": "payment.agent_recurrence", "frequency": "monthly"},
        {"type": "payment.agent_recurrence", "frequency": "DAILY", "max_occurrences": 0},
        {"type": "payment.agent_recurrence", "frequency": "DAILY", "max_occurrences": 1.0},
        {"type": "payment.agent_recurrence", "frequency": "DAILY", "max_occurrences": True},
        {"type": "payment.allowed_payees"},
        {"type": "payment.allowed_payees", "allowed": {"id": "m"}},
        {"type": "payment.allowed_payees", "allowed": [{"id": "m"}]},
        {"type": "payment.allowed_payment_instruments", "allowed": [{"id": "pi"}]},
        {"type": "payment.allowed_payment_instruments", "allowed": ["pi"]},
        {"type": "payment.allowed_pisps", "allowed": [{"legal_name": "a", "brand_name": "b"}]},
        {"type": "payment.allowed_pisps"},
        {"type": "payment.allowed_pisps", "allowed": [PISP1 | {"extra": "x"}]},
        {"type": "payment.allowed_payees", "allowed": [M1 | {"extra": "x"}]},
        {"type": "payment.execution_date", "not_before": "yesterday"},
        {"type": "payment.execution_date", "not_after": 1777636800},
        {"type": "payment.reference"},
        {"type": "payment.reference", "conditional_transaction_id": 5},
    ],
)
def test_payment_constraint_shapes(constraint: Any) -> None:
    _schema_refusal(payment(cons=[REF, constraint]).verify())


@pytest.mark.parametrize(
    "constraint",
    [
        {"type": "checkout.line_items"},
        {"type": "checkout.line_items", "items": []},
        {"type": "checkout.line_items", "items": "x"},
        {
            "type": "checkout.line_items",
            "items": [{"id": "l", "acceptable_items": [SHOE], "quantity": 0}],
        },
        {
            "type": "checkout.line_items",
            "items": [{"id": "l", "acceptable_items": [SHOE], "quantity": 1.0}],
        },
        {"type": "checkout.line_items", "items": [{"id": "l", "acceptable_items": [SHOE]}]},
        {"type": "checkout.line_items", "items": [{"id": "l", "quantity": 1}]},
        {"type": "checkout.line_items", "items": [{"acceptable_items": [SHOE], "quantity": 1}]},
        {
            "type": "checkout.line_items",
            "items": [{"id": "l", "acceptable_items": [{"id": "x"}], "quantity": 1}],
        },
        {
            "type": "checkout.line_items",
            "items": [{"id": "l", "acceptable_items": [{"title": "t"}], "quantity": 1}],
        },
        {"type": "checkout.line_items", "items": ["entry"]},
        {"type": "checkout.allowed_merchants"},
        {"type": "checkout.allowed_merchants", "allowed": [{"name": "n"}]},
        {"type": "checkout.allowed_merchants", "allowed": "merchant_1"},
        {"type": "checkout.allowed_merchants", "allowed": [M1 | {"extra": "x"}]},
    ],
)
def test_checkout_constraint_shapes(constraint: Any) -> None:
    _schema_refusal(checkout(cons=[lines(("l", 1, [SHOE])), constraint]).verify())


def test_constraints_member_required_and_an_array() -> None:
    for value in (None, {"type": "checkout.line_items"}, "x"):
        s = checkout()
        content = open_checkout(s.agent)
        if value is None:
            del content["constraints"]
        else:
            content["constraints"] = value
        assert "constraints" in _schema_refusal(
            checkout(root_content=content, agent=s.agent).verify()
        )


def test_contains_rules() -> None:
    assert "checkout.line_items" in _schema_refusal(checkout(cons=[merchants(M1)]).verify())
    assert "payment.reference" in _schema_refusal(
        payment(cons=[amount_range(5), payees(M1)]).verify()
    )
    # a type of the other family does not count (and is unknown there)
    assert "checkout.line_items" in _schema_refusal(checkout(cons=[merchants(M1), REF]).verify())
    assert "payment.reference" in _schema_refusal(payment(cons=[lines(("l", 1, [SHOE]))]).verify())


def test_unknown_types_pass_stage_c_unchecked() -> None:
    broken_other_family = {"type": "checkout.line_items", "items": "not even a list"}
    verified = _passes_c(
        payment(cons=[REF, broken_other_family, {"type": "x:y", "min": 1.5}]).verify()
    )
    kinds = [type(c) for c in verified.open_contents[0].constraints]
    assert kinds[1:] == [UnknownConstraint, UnknownConstraint]


def test_undisclosed_constraint_elements_are_not_seen() -> None:
    # A constraint hidden as an undisclosed array element is absent, like any undisclosed element.
    s = payment(cons=[REF, Sd(amount_range(1))])
    hidden = s.root.without(
        lambda d: (
            len(d) == 2 and isinstance(d[1], dict) and d[1].get("type") == "payment.amount_range"
        )
    )
    leaf = kb_hop(hidden, closed_payment(s.cj), s.agent, iat=NOW_TS)
    verified = _passes_c(verify_chain(chain(hidden, leaf), s.context, ROOT_KEYS, NOW))
    assert [c.type for c in verified.open_contents[0].constraints] == ["payment.reference"]
    full = s.decide()
    assert isinstance(full, Decision)
    assert full.code is ResultCode.INVALID_MANDATE


def test_checkout_merchant_and_lines_read_from_the_checkout() -> None:
    verified = _passes_c(checkout(cart=[(SHOE, 2)], cons=[lines(("l", 2, [SHOE]))]).verify())
    assert verified.checkout_merchant is not None
    assert verified.merchant_ids == ("merchant_1",)
    assert _passes_c(checkout(merchant=None).verify()).merchant_ids == ()


@pytest.mark.parametrize("value", [2**53, 10**19, 10**400])
def test_integers_past_the_exact_json_range_are_refused(value: int) -> None:
    assert "at most" in _schema_refusal(payment(amount=value).verify())
    _schema_refusal(payment(cons=[REF, amount_range(value)]).verify())
    _passes_c(payment(amount=2**53 - 1, cons=[REF, amount_range(2**53 - 1)]).verify())
