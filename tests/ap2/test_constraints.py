"""Stage D: pre-set claims, hash bindings, and each constraint's pass and fail sides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.ap2.verification import (
    EMPTY_LEDGER,
    Decision,
    LedgerState,
    RequestContext,
    ResultCode,
    VerifiedChain,
    evaluate,
    same_value,
)
from tests.ap2.minting import H, chain, kb_hop, party, sign
from tests.ap2.scenarios import (
    AUD,
    BANK,
    CAP,
    CARD,
    M1,
    M2,
    MERCHANT_KEY,
    NONCE,
    NOW,
    NOW_TS,
    OPEN_CHECKOUT_HASH,
    PISP1,
    PISP2,
    PROVIDER,
    SHOE,
    SHOE10,
    Scenario,
    amount_range,
    budget,
    checkout,
    checkout_jwt,
    closed_checkout,
    closed_payment,
    execution,
    instruments,
    lines,
    merchants,
    open_checkout,
    payees,
    payment,
    pisps,
    recurrence,
    reference,
    root_hop,
)

IM, UC = ResultCode.INVALID_MANDATE, ResultCode.UNRESOLVED_CONSTRAINT
REF = reference(OPEN_CHECKOUT_HASH)


def _decide(s: Scenario, ledger: LedgerState = EMPTY_LEDGER, now: Any = NOW) -> Decision:
    decision = s.decide(ledger, now)
    assert isinstance(decision, Decision), decision
    return decision


def _approved(s: Scenario, **kw: Any) -> Decision:
    decision = _decide(s, **kw)
    assert decision.code is None, decision.violations
    assert decision.violations == ()
    assert decision.ledger_change is not None
    return decision


def _fails(s: Scenario, constraint: str | None, code: ResultCode = IM, **kw: Any) -> Decision:
    decision = _decide(s, **kw)
    assert decision.code is code, decision.violations
    assert constraint in [v.constraint for v in decision.violations], decision.violations
    assert decision.ledger_change is None
    return decision


# --- checkout.allowed_merchants -------------------------------------------------------------


def _merchant_case(allowed: list[dict[str, str]], merchant: Any) -> Scenario:
    return checkout(cons=[lines(("l", 1, [SHOE])), merchants(*allowed)], merchant=merchant)


@pytest.mark.parametrize(
    ("allowed", "merchant", "ok"),
    [
        ([M1], M1, True),
        ([M2, M1], M1, True),
        ([M2], M1, False),
        ([{"id": "merchant_1", "name": "Other name"}], M1, True),  # ids decide
        ([M1 | {"id": "x"}], M1, False),  # ids differ, though name and website agree
        ([M1], {"name": M1["name"], "website": M1["website"]}, True),  # no id: name and website
        ([M1], {"id": "", "name": M1["name"], "website": M1["website"]}, True),
        ([M1 | {"id": ""}], M1, True),
        ([M1], {"name": M1["name"], "website": "https://elsewhere.example"}, False),
        ([M1], {"name": "Other", "website": M1["website"]}, False),
        ([{"id": "", "name": M1["name"]}], {"name": M1["name"]}, False),  # no website: no match
        ([{"id": "", "name": "", "website": ""}], {"name": "", "website": ""}, False),
        ([M1], None, False),  # the checkout names no merchant
        ([M1], {"id": "merchant_1"}, False),  # malformed: no name
        ([M1], {"id": 1, "name": "n"}, False),
        ([M1], "merchant_1", False),
    ],
)
def test_allowed_merchants(allowed: list[dict[str, str]], merchant: Any, ok: bool) -> None:
    s = _merchant_case(allowed, merchant)
    if ok:
        _approved(s)
    else:
        _fails(s, "checkout.allowed_merchants")


def test_allowed_merchants_only_revealed_elements_count() -> None:
    s = _merchant_case([M2, M1], M1)
    without_m1 = s.root.without(lambda d: len(d) == 2 and d[1] == M1)
    leaf = kb_hop(without_m1, closed_checkout(s.cj), s.agent, iat=NOW_TS)
    _fails(Scenario([without_m1, leaf], s.context, s.agent, s.cj), "checkout.allowed_merchants")
    without_m2 = s.root.without(lambda d: len(d) == 2 and d[1] == M2)
    leaf = kb_hop(without_m2, closed_checkout(s.cj), s.agent, iat=NOW_TS)
    _approved(Scenario([without_m2, leaf], s.context, s.agent, s.cj))
    none = s.root.without(lambda d: len(d) == 2 and d[1] in (M1, M2))
    leaf = kb_hop(none, closed_checkout(s.cj), s.agent, iat=NOW_TS)
    _fails(Scenario([none, leaf], s.context, s.agent, s.cj), "checkout.allowed_merchants")


def test_plain_and_disclosed_elements_mix() -> None:
    c = {"type": "checkout.allowed_merchants", "allowed": [M2, *merchants(M1)["allowed"]]}
    _approved(checkout(cons=[lines(("l", 1, [SHOE])), c]))
    c = {"type": "checkout.allowed_merchants", "allowed": [M1]}
    _approved(checkout(cons=[lines(("l", 1, [SHOE])), c]))


# --- checkout.line_items (the flow rule itself: test_lineitems.py) ----------------------------


@pytest.mark.parametrize(
    ("entries", "cart", "ok"),
    [
        ([("l", 1, [SHOE])], [(SHOE, 1)], True),
        ([("l", 2, [SHOE])], [(SHOE, 1)], False),  # under-filled entry
        ([("l", 1, [SHOE])], [(SHOE, 2)], False),  # checkout item left over
        ([("l", 1, [SHOE])], [(SHOE, 1), (CAP, 1)], False),
        ([("l", 1, [SHOE, SHOE10])], [(SHOE10, 1)], True),
        ([("a", 1, [SHOE]), ("b", 1, [SHOE])], [(SHOE, 1)], False),  # one item used twice
        ([("a", 1, [SHOE]), ("b", 1, [SHOE])], [(SHOE, 2)], True),
        ([("a", 1, [SHOE]), ("b", 1, [CAP])], [(SHOE, 1), (CAP, 1)], True),
        ([("a", 1, [SHOE, CAP]), ("b", 1, [SHOE])], [(CAP, 1), (SHOE, 1)], True),
        ([("a", 1, [SHOE, CAP]), ("b", 1, [SHOE])], [(CAP, 2)], False),
        ([("a", 1, [])], [(SHOE, 1)], False),  # no revealed items: not a wildcard
        ([("a", 3, [SHOE])], [(SHOE, 1), (SHOE, 2)], True),  # counted per item.id across lines
    ],
)
def test_line_items(entries: list[Any], cart: list[Any], ok: bool) -> None:
    s = checkout(cons=[lines(*entries), merchants(M1)], cart=cart)
    if ok:
        _approved(s)
    else:
        _fails(s, "checkout.line_items")


def test_line_items_counts_item_id_not_line_id() -> None:
    # The minted checkout's lines are "li_0", ... ; their items are SKUs.
    _fails(
        checkout(cons=[lines(("l", 1, [{"id": "li_0", "title": "a line id"}]))]),
        "checkout.line_items",
    )


@pytest.mark.parametrize(
    "line_items",
    [
        None,
        "x",
        [{"item": {"title": "no id"}, "quantity": 1}],
        [{"item": {"id": 5}, "quantity": 1}],
        [{"id": "SKU-SHOE-9", "quantity": 1}],
        [{"item": {"id": "SKU-SHOE-9"}, "quantity": 0}],
        [{"item": {"id": "SKU-SHOE-9"}, "quantity": 1.0}],
        [{"item": {"id": "SKU-SHOE-9"}, "quantity": True}],
        [{"item": {"id": "SKU-SHOE-9"}}],
        ["SKU-SHOE-9"],
    ],
)
def test_unreadable_checkout_line_items_fail_the_constraint(line_items: Any) -> None:
    body: dict[str, Any] = {"merchant": M1}
    if line_items is not None:
        body["line_items"] = line_items
    cj = sign({"alg": "ES256"}, body, MERCHANT_KEY.key)
    s = checkout(closed=lambda _: closed_checkout(cj))
    s.context = RequestContext(AUD, NONCE, H(cj))
    decision = _fails(s, "checkout.line_items")
    assert [v.constraint for v in decision.violations] == ["checkout.line_items"]


# --- payment constraints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "amount", "ok"),
    [
        (amount_range(20000, 0), 20000, True),
        (amount_range(20000, 0), 20001, False),
        (amount_range(20000, 100), 100, True),
        (amount_range(20000, 100), 99, False),
        (amount_range(20000), 0, True),
        (amount_range(0), 0, True),
        (amount_range(100, 200), 150, False),
        (amount_range(20000, cur="EUR"), 100, False),
    ],
)
def test_amount_range(constraint: dict[str, Any], amount: int, ok: bool) -> None:
    s = payment(cons=[constraint, REF], amount=amount)
    if ok:
        _approved(s)
    else:
        _fails(s, "payment.amount_range")


@pytest.mark.parametrize(
    ("spent", "amount", "ok"),
    [
        ({}, 5000, True),
        ({"USD": 4000}, 1000, True),
        ({"USD": 4001}, 1000, False),
        ({"EUR": 9999}, 5000, True),
    ],
)
def test_budget(spent: dict[str, int], amount: int, ok: bool) -> None:
    s = payment(cons=[budget(5000), recurrence("ON_DEMAND"), REF], amount=amount)
    ledger = LedgerState(
        spent,
        occurrences=1 if spent else 0,
        last_approval=NOW - timedelta(days=1) if spent else None,
    )
    if ok:
        change = _approved(s, ledger=ledger).ledger_change
        assert change is not None
        assert change.spent["USD"] == spent.get("USD", 0) + amount
    else:
        _fails(s, "payment.budget", ledger=ledger)


def test_budget_currency_must_match() -> None:
    _fails(payment(cons=[budget(10**9, "EUR"), recurrence("ON_DEMAND"), REF]), "payment.budget")


@pytest.mark.parametrize(("allowed", "ok"), [([M1], True), ([M2], False), ([M2, M1], True)])
def test_allowed_payees(allowed: list[dict[str, str]], ok: bool) -> None:
    s = payment(cons=[payees(*allowed), REF])
    if ok:
        _approved(s)
    else:
        _fails(s, "payment.allowed_payees")


def test_allowed_payees_by_name_and_website() -> None:
    payee = {"id": "", "name": M1["name"], "website": M1["website"]}
    _approved(payment(cons=[payees(M1), REF], payee=payee))
    _fails(
        payment(cons=[payees(M1), REF], payee=payee | {"website": "https://x.example"}),
        "payment.allowed_payees",
    )


@pytest.mark.parametrize(
    ("allowed", "ok"),
    [
        ([CARD], True),
        ([{"id": CARD["id"], "type": CARD["type"]}], True),  # description does not matter
        ([BANK], False),
        ([{"id": CARD["id"], "type": "bank_account"}], False),
        ([{"id": "other", "type": CARD["type"]}], False),
        ([BANK, CARD], True),
    ],
)
def test_allowed_payment_instruments(allowed: list[dict[str, str]], ok: bool) -> None:
    s = payment(cons=[instruments(*allowed), REF])
    if ok:
        _approved(s)
    else:
        _fails(s, "payment.allowed_payment_instruments")


@pytest.mark.parametrize(
    ("allowed", "used", "ok"),
    [
        ([PISP1], PISP1, True),
        ([PISP2, PISP1], PISP1, True),
        ([PISP2], PISP1, False),
        ([PISP1 | {"brand_name": "Other"}], PISP1, False),
        ([PISP1], None, False),
    ],
)
def test_allowed_pisps(allowed: list[dict[str, str]], used: Any, ok: bool) -> None:
    extra = {} if used is None else {"pisp": used}
    s = payment(cons=[pisps(*allowed), REF], closed_extra=extra)
    if ok:
        _approved(s)
    else:
        _fails(s, "payment.allowed_pisps")


@pytest.mark.parametrize(
    ("constraint", "date", "ok"),
    [
        (execution("2026-05-01", "2026-05-31"), "2026-05-01", True),
        (execution("2026-05-01", "2026-05-31"), "2026-05-31", True),
        (execution("2026-05-01", "2026-05-31"), "2026-05-31T00:00:01Z", False),
        (execution("2026-05-01", "2026-05-31"), "2026-04-30T23:59:59Z", False),
        (execution("2026-05-01T00:00:00+02:00"), "2026-04-30T22:00:00Z", True),
        (execution("2026-05-01T00:00:00+02:00"), "2026-04-30T21:59:59.999Z", False),
        (execution(na="2026-05-01T10:00:00-02:00"), "2026-05-01T12:00:00Z", True),
        (execution(na="2026-05-01T10:00:00-02:00"), "2026-05-01T12:00:00.001Z", False),
        (execution(), "1999-01-01", True),
        # absent: the vault clock (NOW = 2026-05-01T12:00:00Z)
        (execution("2026-05-01T12:00:00Z", "2026-05-01T12:00:00Z"), None, True),
        (execution("2026-05-01T12:00:01Z"), None, False),
        (execution(na="2026-05-01T11:59:59Z"), None, False),
    ],
)
def test_execution_date(constraint: dict[str, Any], date: str | None, ok: bool) -> None:
    extra = {} if date is None else {"execution_date": date}
    s = payment(cons=[constraint, REF], closed_extra=extra)
    if ok:
        _approved(s)
    else:
        _fails(s, "payment.execution_date")


def test_payment_reference() -> None:
    _approved(payment())
    _fails(payment(open_checkout_hash=H("another open checkout")), "payment.reference")
    decision = _fails(payment(open_checkout_hash=None), "payment.reference", UC)
    assert all(v.unresolved for v in decision.violations)


def test_unknown_constraints_are_unresolved() -> None:
    unknown = {"type": "urn:example:loyalty.min_points", "min": 10}
    decision = _fails(payment(cons=[unknown, REF]), "urn:example:loyalty.min_points", UC)
    assert decision.violations[0].reason
    # an unknown type beside a failing known constraint: invalid_mandate, both named
    decision = _fails(payment(cons=[unknown, amount_range(5), REF]), "payment.amount_range", IM)
    assert {v.constraint for v in decision.violations} == {
        "urn:example:loyalty.min_points",
        "payment.amount_range",
    }
    # a type of the other family is unknown too
    _fails(payment(cons=[merchants(M1), REF]), "checkout.allowed_merchants", UC)
    _fails(checkout(cons=[lines(("l", 1, [SHOE])), amount_range(5)]), "payment.amount_range", UC)


def test_every_violation_is_collected_in_order() -> None:
    s = payment(
        cons=[amount_range(5), payees(M2), instruments(BANK), REF], open_checkout_hash=H("x")
    )
    decision = _decide(s)
    assert [v.constraint for v in decision.violations] == [
        "payment.amount_range",
        "payment.allowed_payees",
        "payment.allowed_payment_instruments",
        "payment.reference",
    ]
    assert decision.first_reason == decision.violations[0].reason


# --- D1: pre-set claims ----------------------------------------------------------------------


def test_preset_claims() -> None:
    _approved(payment(root_extra={"payee": M1}))
    _fails(payment(cons=[payees(M1, M2), REF], root_extra={"payee": M1}, payee=M2), None)
    _fails(payment(root_extra={"payment_instrument": BANK}), None)
    _fails(payment(root_extra={"pisp": PISP1}), None)  # pre-set but missing in the closed mandate
    _approved(payment(root_extra={"pisp": PISP1}, closed_extra={"pisp": PISP1}))
    _approved(payment(root_extra={"payee": dict(reversed(list(M1.items())))}))  # any member order
    # an extra member deep inside an open object is a different value
    _fails(
        payment(root_extra={"risk_data": {"a": 1}}, closed_extra={"risk_data": {"a": 1, "b": 2}}),
        None,
    )


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ({"x": [1, 2]}, {"x": [1, 2]}, True),
        ([1, 2], [2, 1], False),
        (1, 1.0, True),
        (19900, 1.99e4, True),
        (True, 1, False),
        (False, 0, False),
        (True, True, True),
        (None, None, True),
        (None, 0, False),
        ("1", 1, False),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ({"a": {"b": [True]}}, {"a": {"b": [1]}}, False),
        (2**60 + 1, float(2**60), False),
    ],
)
def test_deep_equality(a: Any, b: Any, equal: bool) -> None:
    assert same_value(a, b) is equal
    assert same_value(b, a) is equal


def test_other_preset_claims_compare_by_value() -> None:
    _approved(payment(root_extra={"ref_no": 1}, closed_extra={"ref_no": 1.0}))
    _fails(payment(root_extra={"flag": True}, closed_extra={"flag": 1}), None)
    _fails(payment(root_extra={"tags": ["a", "b"]}, closed_extra={"tags": ["b", "a"]}), None)


def test_open_checkout_preset_claims() -> None:
    s = checkout()
    root_content = open_checkout(s.agent, channel="web")
    _fails(checkout(root_content=root_content, agent=s.agent), None)
    _approved(
        checkout(
            root_content=root_content,
            agent=s.agent,
            closed=lambda cj: closed_checkout(cj, channel="web"),
        )
    )


# --- D2: hash bindings -----------------------------------------------------------------------


def test_checkout_hash_bindings() -> None:
    _approved(checkout(request_hash=False))  # optional for checkout chains
    _fails(checkout(closed=lambda cj: closed_checkout(cj, checkout_hash=H("other"))), None)
    s = checkout()
    s.context = RequestContext(AUD, NONCE, H("another checkout"))
    _fails(s, None)


def test_payment_transaction_id_binding() -> None:
    s = payment()
    s.context = RequestContext(AUD, NONCE, H("another checkout"), OPEN_CHECKOUT_HASH)
    _fails(s, None)
    decision = _fails(payment(checkout_hash=False), None, UC)
    assert decision.violations[0].unresolved
    # unresolved findings only become invalid_mandate beside a real failure
    _fails(payment(checkout_hash=False, amount=10**6), "payment.amount_range", IM)


# --- chains of three hops: every open content counts -----------------------------------------


def _three_hops(
    root_cons: list[Any], mid_cons: list[Any], cart: list[Any], closed: Any = None
) -> Scenario:
    agent, sub = party(), party()
    root = root_hop(open_checkout(agent, root_cons), PROVIDER)
    mid = kb_hop(root, open_checkout(sub, mid_cons), agent, iat=NOW_TS, final=False)
    cj = checkout_jwt(cart)
    leaf = kb_hop(mid, closed(cj) if closed else closed_checkout(cj), sub, iat=NOW_TS)
    return Scenario([root, mid, leaf], RequestContext(AUD, NONCE, H(cj)), sub, cj)


def test_a_narrower_intermediate_restricts_the_chain() -> None:
    wide = [lines(("l", 1, [SHOE, SHOE10])), merchants(M1, M2)]
    narrow = [lines(("l", 1, [SHOE])), merchants(M1)]
    _approved(_three_hops(wide, narrow, [(SHOE, 1)]))
    decision = _fails(_three_hops(wide, narrow, [(SHOE10, 1)]), "checkout.line_items")
    assert len(decision.violations) == 1  # the root allows it, the intermediate does not
    _fails(_three_hops(narrow, wide, [(SHOE10, 1)]), "checkout.line_items")


def test_intermediate_preset_claims_bind_the_leaf() -> None:
    agent, sub = party(), party()
    root = root_hop(open_checkout(agent), PROVIDER)
    mid = kb_hop(root, open_checkout(sub, channel="app"), agent, iat=NOW_TS, final=False)
    cj = checkout_jwt([(SHOE, 1)])
    leaf = kb_hop(mid, closed_checkout(cj), sub, iat=NOW_TS)
    s = Scenario([root, mid, leaf], RequestContext(AUD, NONCE, H(cj)), sub, cj)
    assert s.sd_jwt == chain(root, mid, leaf)
    _fails(s, None)


def test_closed_payment_defaults() -> None:
    decision = _approved(payment(closed=lambda cj: closed_payment(cj)))
    change = decision.ledger_change
    assert change is not None
    assert (change.occurrences, change.currency, change.amount, dict(change.spent)) == (
        1,
        "USD",
        19900,
        {"USD": 19900},
    )
    assert change.approved_at == NOW


def test_evaluate_refuses_a_naive_now() -> None:
    chain = payment().verify()
    assert isinstance(chain, VerifiedChain)
    with pytest.raises(ValueError, match="aware"):
        evaluate(chain, EMPTY_LEDGER, NOW.replace(tzinfo=None))
