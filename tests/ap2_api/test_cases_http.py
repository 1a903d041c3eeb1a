"""The project's own AP2 v0.2 cases over HTTP (no ../shared needed), and the bad inputs:
each answered with its status and code, nothing stored, no ledger change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from app.models import Ap2Approval, Ap2Ledger, Ap2Rejection, Mandate
from tests.ap2.minting import H, b64, chain, disclosure, kb_hop, party, resign, root_hop, sign
from tests.ap2.scenarios import (
    AUD,
    CAP,
    M1,
    M2,
    NONCE,
    NOW_TS,
    OPEN_CHECKOUT_HASH,
    PISP1,
    PROVIDER,
    SHOE,
    amount_range,
    closed_payment,
    lines,
    merchants,
    open_checkout,
    open_payment,
    payees,
    reference,
)
from tests.ap2_api.helpers import Presented, checkout_chain, count, payment_chain

URL = "/api/v1/ap2/presentations"
IC, NS, IM, UC = (
    "invalid_credential",
    "mandates_not_supported",
    "invalid_mandate",
    "unresolved_constraint",
)


@dataclass
class Case:
    name: str
    body: Callable[[], dict[str, Any]]
    code: str | None
    constraint: str | None = None
    body_sent: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return 200 if self.code is None else 422


def _pay(**kw: Any) -> Callable[[], dict[str, Any]]:
    return lambda: payment_chain(NOW_TS, **kw).body()


def _chk(**kw: Any) -> Callable[[], dict[str, Any]]:
    return lambda: checkout_chain(NOW_TS, **kw).body()


def _with(make: Callable[[], Presented], **changes: Any) -> Callable[[], dict[str, Any]]:
    def body() -> dict[str, Any]:
        out = make().body()
        for name, value in changes.items():
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        return out

    return body


def _root_with_cnf(extra: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    def body() -> dict[str, Any]:
        agent = party()
        content = open_payment(agent)
        content["cnf"] = {"jwk": {**agent.jwk, **extra}}
        return payment_chain(NOW_TS, agent=agent, root=root_hop(content, PROVIDER)).body()

    return body


def _unknown_issuer() -> dict[str, Any]:
    stranger = party("ap-1")  # the trusted kid, another key
    agent = party()
    return payment_chain(NOW_TS, agent=agent, root=root_hop(open_payment(agent), stranger)).body()


def _single_hop() -> dict[str, Any]:
    presented = checkout_chain(NOW_TS)
    return {**presented.body(), "sd_jwt": presented.root.text}


def _kb_jwt_tail() -> dict[str, Any]:
    presented = checkout_chain(NOW_TS)
    kb = sign(
        {"alg": "ES256", "typ": "kb+jwt"},
        {"iat": NOW_TS, "aud": AUD, "nonce": NONCE, "sd_hash": H(presented.hops[-1].text)},
        presented.agent.key,
    )
    return {**presented.body(), "sd_jwt": presented.sd_jwt + kb}


def _stale() -> dict[str, Any]:
    agent = party()
    cj_root = root_hop(open_checkout(agent), PROVIDER)
    presented = checkout_chain(NOW_TS, agent=agent, root=cj_root)
    leaf = kb_hop(cj_root, _closed_of(presented), agent, iat=NOW_TS - 301)
    return {**presented.body(), "sd_jwt": chain(cj_root, leaf)}


def _closed_of(presented: Presented) -> dict[str, Any]:
    from tests.ap2.scenarios import closed_checkout

    return closed_checkout(presented.cj)


def _alg_none() -> dict[str, Any]:
    presented = checkout_chain(NOW_TS)
    root = presented.root
    header = b64(b'{"alg":"none","kid":"ap-1"}')
    payload = root.jwt.split(".")[1]
    hacked = f"{header}.{payload}.c2ln~" + "".join(d + "~" for d in root.disclosures)
    return {**presented.body(), "sd_jwt": hacked + "~" + presented.hops[-1].text}


def _leaf_resigned_by_stranger() -> dict[str, Any]:
    presented = checkout_chain(NOW_TS)
    leaf = resign(presented.hops[-1], party().key)
    return {**presented.body(), "sd_jwt": chain(presented.root, leaf)}


def _non_json_disclosure() -> dict[str, Any]:
    presented = checkout_chain(NOW_TS)
    root = presented.root
    return {
        **presented.body(),
        "sd_jwt": chain(
            type(root)(root.jwt, [*root.disclosures, b64(b"not json")]), presented.hops[-1]
        ),
    }


def _unreferenced_disclosure() -> dict[str, Any]:
    presented = checkout_chain(NOW_TS)
    root = presented.root
    extra = disclosure({"id": "x", "title": "y"})
    return {
        **presented.body(),
        "sd_jwt": chain(type(root)(root.jwt, [*root.disclosures, extra]), presented.hops[-1]),
    }


def _amount(value: Any) -> Callable[[], dict[str, Any]]:
    def body() -> dict[str, Any]:
        agent = party()
        root = root_hop(open_payment(agent), PROVIDER)
        presented = payment_chain(NOW_TS, agent=agent, root=root)
        leaf = kb_hop(root, closed_payment(presented.cj, value), agent, iat=NOW_TS)
        return {**presented.body(), "sd_jwt": chain(root, leaf)}

    return body


REF = reference(OPEN_CHECKOUT_HASH)
CASES = [
    Case("checkout-approved", _chk(), None),
    Case("payment-approved", _pay(), None),
    Case(
        "checkout-two-entries-max-flow",
        _chk(
            cons=[lines(("a", 1, [SHOE]), ("b", 1, [SHOE, CAP])), merchants(M1)],
            cart=[(SHOE, 1), (CAP, 1)],
        ),
        None,
    ),
    Case("checkout-line-items-over-fill", _chk(cart=[(SHOE, 2)]), IM, "checkout.line_items"),
    Case("checkout-extra-item", _chk(cart=[(SHOE, 1), (CAP, 1)]), IM, "checkout.line_items"),
    Case(
        "checkout-merchant-not-allowed",
        _chk(cons=[lines(("l", 1, [SHOE])), merchants(M2)]),
        IM,
        "checkout.allowed_merchants",
    ),
    Case("payment-over-range", _pay(amount=20001), IM, "payment.amount_range"),
    Case(
        "payment-under-range",
        _pay(cons=[amount_range(20000, 20000), payees(M1), REF]),
        IM,
        "payment.amount_range",
    ),
    Case("payment-currency-mismatch", _pay(currency="EUR"), IM, "payment.amount_range"),
    Case(
        "payment-payee-not-allowed",
        _pay(cons=[amount_range(20000), payees(M2), REF]),
        IM,
        "payment.allowed_payees",
    ),
    Case(
        "payment-unknown-constraint",
        _pay(cons=[amount_range(20000), REF, {"type": "x.loyalty", "min": 1}]),
        UC,
        "x.loyalty",
    ),
    Case("payment-no-open-checkout-hash", _pay(open_checkout_hash=None), UC, "payment.reference"),
    Case(
        "payment-reference-mismatch",
        _with(lambda: payment_chain(NOW_TS), open_checkout_hash="y" * 43),
        IM,
        "payment.reference",
    ),
    Case(
        "payment-no-checkout-jwt-hash",
        _with(lambda: payment_chain(NOW_TS), checkout_jwt_hash=None),
        UC,
    ),
    Case(
        "payment-wrong-checkout-jwt-hash",
        _with(lambda: payment_chain(NOW_TS), checkout_jwt_hash="z" * 43),
        IM,
    ),
    Case(
        "checkout-wrong-checkout-jwt-hash",
        _with(lambda: checkout_chain(NOW_TS), checkout_jwt_hash="z" * 43),
        IM,
    ),
    Case("amount-as-string", _amount("19900"), IM),
    Case("amount-as-float", _amount(19900.0), IM),
    Case("amount-with-exponent-like-float", _amount(1.99e4), IM),
    Case("amount-negative", _amount(-1), IM),
    Case("amount-boolean", _amount(True), IM),
    Case(
        "amount-with-unknown-member",
        _pay(closed_extra={"payment_amount": {"amount": 19900, "currency": "USD", "scale": 2}}),
        IM,
    ),
    Case("pisp-with-unknown-member", _pay(closed_extra={"pisp": PISP1 | {"country": "FR"}}), IM),
    Case(
        "allowed-payee-with-unknown-member",
        _pay(cons=[amount_range(20000), payees(M1 | {"mcc": "5411"}), REF]),
        IM,
    ),
    Case(
        "instrument-extra-members-ignored",
        _pay(closed_extra={"payment_instrument": {"id": "pi", "type": "card", "last4": "4242"}}),
        None,
    ),
    Case("cnf-with-private-d", _root_with_cnf({"d": "A" * 43}), IC),
    Case("cnf-with-unknown-member", _root_with_cnf({"foo": "bar"}), IC),
    Case("aud-wrong", _with(lambda: checkout_chain(NOW_TS), audience="https://other.example"), IC),
    Case("nonce-wrong", _with(lambda: checkout_chain(NOW_TS), nonce="n-2"), IC),
    Case("kb-iat-too-old", _stale, IC),
    Case("root-key-unknown", _unknown_issuer, IC),
    Case("alg-none", _alg_none, IC),
    Case("leaf-signed-by-stranger", _leaf_resigned_by_stranger, IC),
    Case("non-json-disclosure", _non_json_disclosure, IC),
    Case("unreferenced-disclosure", _unreferenced_disclosure, IC),
    Case("single-hop", _single_hop, NS),
    Case("trailing-kb-jwt", _kb_jwt_tail, NS),
    Case("not-a-chain", lambda: {"sd_jwt": "hello", "audience": AUD, "nonce": NONCE}, IC),
    Case("empty", lambda: {"sd_jwt": "", "audience": AUD, "nonce": NONCE}, IC),
    Case("only-tildes", lambda: {"sd_jwt": "~~~~", "audience": AUD, "nonce": NONCE}, IC),
    Case(
        "empty-segment",
        lambda: {
            **checkout_chain(NOW_TS).body(),
            "sd_jwt": checkout_chain(NOW_TS).sd_jwt.replace("~", "~~~", 1),
        },
        IC,
    ),
    Case("empty-jwt-parts", lambda: {"sd_jwt": "..~~..~", "audience": AUD, "nonce": NONCE}, IC),
    Case(
        "9000-hops",
        lambda: {"sd_jwt": "a.b.c~~" * 8999 + "a.b.c~", "audience": AUD, "nonce": NONCE},
        IC,
    ),
    Case(
        "10000-hops",
        lambda: {"sd_jwt": "a.b.c~~" * 9999 + "a.b.c~", "audience": AUD, "nonce": NONCE},
        IC,
    ),
    Case("over-65536", lambda: {"sd_jwt": "a" * 65536 + "~", "audience": AUD, "nonce": NONCE}, IC),
    Case("non-ascii", lambda: {"sd_jwt": "é.b.c~~a.b.c~", "audience": AUD, "nonce": NONCE}, IC),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_own_case_over_http(api, tenant, database, case):
    body = case.body()
    case.body_sent = body
    response = await api.post(URL, json=body, headers=tenant.headers)
    assert response.status_code == case.status, (case.name, response.text[:500])
    answer = response.json()
    assert answer["code"] == case.code
    if case.constraint is not None:
        assert case.constraint in [v["constraint"] for v in answer["violations"]]
    stored = await count(database, Mandate)
    if case.code is None:
        assert stored == 1
        assert answer["mandate_id"]
    else:
        assert answer["violations"]
        assert answer["mandate_id"] is None
        assert stored == 0
        assert await count(database, Ap2Approval) == 0
        assert await count(database, Ap2Ledger) == 0  # a refusal leaves no ledger behind
        async with database.sessions() as session:
            kept = list(await session.scalars(select(Ap2Rejection)))
        if answer["ledger"] is None:  # stages A-C: malformed or unverifiable, nothing kept
            assert kept == []
            assert answer["rejection_id"] is None
        else:  # stage D: a genuine chain, kept verbatim with its verdict
            (row,) = kept
            assert str(row.id) == answer["rejection_id"]
            assert (row.sd_jwt, row.code) == (case.body_sent["sd_jwt"], case.code)


BAD_BODIES = [
    ("not-json", b"{not json"),
    ("array", b"[1, 2]"),
    ("string", b'"sd_jwt"'),
    ("null", b"null"),
    ("no-sd-jwt", b'{"audience": "a", "nonce": "n"}'),
    ("no-audience", b'{"sd_jwt": "a.b.c~", "nonce": "n"}'),
    ("empty-audience", b'{"sd_jwt": "a.b.c~", "audience": "", "nonce": "n"}'),
    ("null-nonce", b'{"sd_jwt": "a.b.c~", "audience": "a", "nonce": null}'),
    ("sd-jwt-number", b'{"sd_jwt": 12, "audience": "a", "nonce": "n"}'),
    ("sd-jwt-object", b'{"sd_jwt": {"a": 1}, "audience": "a", "nonce": "n"}'),
    ("dry-run-string", b'{"sd_jwt": "a.b.c~", "audience": "a", "nonce": "n", "dry_run": "true"}'),
    ("dry-run-number", b'{"sd_jwt": "a.b.c~", "audience": "a", "nonce": "n", "dry_run": 1}'),
    ("hash-number", b'{"sd_jwt": "a.b.c~", "audience": "a", "nonce": "n", "checkout_jwt_hash": 5}'),
    ("deep", b"[" * 100_000 + b"]" * 100_000),
]


@pytest.mark.parametrize(("name", "raw"), BAD_BODIES, ids=[n for n, _ in BAD_BODIES])
async def test_bad_body_is_invalid_request(api, tenant, database, name, raw):
    headers = {**tenant.headers, "content-type": "application/json"}
    response = await api.post(URL, content=raw, headers=headers)
    assert response.status_code == 400, (name, response.text[:300])
    assert response.json()["code"] == "invalid_request"
    assert await count(database, Mandate) == 0
    assert await count(database, Ap2Ledger) == 0


async def test_unknown_request_members_are_ignored(api, tenant):
    body = checkout_chain(NOW_TS).body(extra_member={"x": 1}, another=[1])
    response = await api.post(URL, json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text


async def test_a_body_over_the_cap_is_413_and_stores_nothing(api, tenant, database):
    body = {"sd_jwt": "a" * (10 * 1024 * 1024) + "~", "audience": AUD, "nonce": NONCE}
    response = await api.post(URL, json=body, headers=tenant.headers)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert await count(database, Mandate) == 0
    assert await count(database, Ap2Ledger) == 0
