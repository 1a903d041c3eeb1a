"""Standard parties, contents and chains of the AP2 tests, each easy to vary."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.ap2.verification import (
    EMPTY_LEDGER,
    Decision,
    LedgerState,
    Rejection,
    RequestContext,
    VerifiedChain,
    evaluate,
    verify_chain,
)
from tests.ap2.minting import H, Hop, Party, Sd, chain, index_of, kb_hop, party, root_hop, sign

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW_TS = calendar.timegm(NOW.timetuple())
EXP = calendar.timegm((2091, 6, 1, 0, 0, 0))
PROVIDER_DID = "did:web:agent-provider.example"
OTHER_DID = "did:web:other-provider.example"
AUD = "https://verifier.example"
NONCE = "nonce-1"

PROVIDER = party("ap-1")
OTHER = party("op-1")
MERCHANT_KEY = party("m-1")
ROOT_KEYS = index_of((PROVIDER_DID, PROVIDER), (OTHER_DID, OTHER))

M1 = {"id": "merchant_1", "name": "Demo Merchant", "website": "https://demo-merchant.example"}
M2 = {"id": "merchant_2", "name": "Other Shop", "website": "https://other-shop.example"}
SHOE = {"id": "SKU-SHOE-9", "title": "Shoe, size 9"}
SHOE10 = {"id": "SKU-SHOE-10", "title": "Shoe, size 10"}
CAP = {"id": "SKU-CAP", "title": "Cap"}
CARD = {"id": "pi_card_4242", "type": "card", "description": "Card ending 4242"}
BANK = {"id": "pi_bank_77", "type": "bank_account"}
PISP1 = {"legal_name": "PayInit Ltd", "brand_name": "PayInit", "domain_name": "payinit.example"}
PISP2 = {"legal_name": "Other SA", "brand_name": "OtherPay", "domain_name": "otherpay.example"}


def checkout_jwt(lines: list[tuple[dict[str, str], int]], merchant: Any = M1, **extra: Any) -> str:
    body: dict[str, Any] = {
        "id": "chk_1",
        "line_items": [
            {"id": f"li_{n}", "item": {**item, "price": 100}, "quantity": q}
            for n, (item, q) in enumerate(lines)
        ],
        "currency": "USD",
    }
    if merchant is not None:
        body["merchant"] = merchant
    body.update(extra)
    return sign({"alg": "ES256", "typ": "JWT", "kid": "m-1"}, body, MERCHANT_KEY.key)


def lines(*entries: tuple[str, int, list[dict[str, str]]]) -> dict[str, Any]:
    return {
        "type": "checkout.line_items",
        "items": [
            {"id": e, "acceptable_items": [Sd(dict(i)) for i in its], "quantity": q}
            for e, q, its in entries
        ],
    }


def merchants(*ms: dict[str, str]) -> dict[str, Any]:
    return {"type": "checkout.allowed_merchants", "allowed": [Sd(dict(m)) for m in ms]}


def amount_range(mx: Any, mn: Any = None, cur: str = "USD") -> dict[str, Any]:
    c = {"type": "payment.amount_range", "currency": cur, "max": mx}
    if mn is not None:
        c["min"] = mn
    return c


def payees(*ms: dict[str, str]) -> dict[str, Any]:
    return {"type": "payment.allowed_payees", "allowed": [Sd(dict(m)) for m in ms]}


def instruments(*ps: dict[str, str]) -> dict[str, Any]:
    return {"type": "payment.allowed_payment_instruments", "allowed": [Sd(dict(p)) for p in ps]}


def pisps(*ps: dict[str, str]) -> dict[str, Any]:
    return {"type": "payment.allowed_pisps", "allowed": [dict(p) for p in ps]}


def execution(nb: str | None = None, na: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": "payment.execution_date"}
    if nb is not None:
        c["not_before"] = nb
    if na is not None:
        c["not_after"] = na
    return c


def reference(h: str) -> dict[str, Any]:
    return {"type": "payment.reference", "conditional_transaction_id": h}


def budget(mx: Any, cur: str = "USD") -> dict[str, Any]:
    return {"type": "payment.budget", "max": mx, "currency": cur}


def recurrence(freq: str, mx: Any = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": "payment.agent_recurrence", "frequency": freq}
    if mx is not None:
        c["max_occurrences"] = mx
    return c


OPEN_CHECKOUT_HASH = H("open-checkout-mandate-as-issued~")


def open_checkout(agent: Party, cons: list[Any] | None = None, **extra: Any) -> dict[Any, Any]:
    cons = [lines(("line_1", 1, [SHOE])), merchants(M1)] if cons is None else cons
    return {
        "vct": "mandate.checkout.open.1",
        "constraints": cons,
        "cnf": agent.cnf,
        "iat": NOW_TS - 3600,
        "exp": EXP,
        **extra,
    }


def open_payment(agent: Party, cons: list[Any] | None = None, **extra: Any) -> dict[Any, Any]:
    cons = (
        [amount_range(20000, 0), payees(M1), reference(OPEN_CHECKOUT_HASH)]
        if cons is None
        else cons
    )
    return {
        "vct": "mandate.payment.open.1",
        "constraints": cons,
        "cnf": agent.cnf,
        "iat": NOW_TS - 3600,
        "exp": EXP,
        **extra,
    }


def closed_checkout(cj: str, **extra: Any) -> dict[Any, Any]:
    return {Sd("checkout_jwt"): cj, "vct": "mandate.checkout.1", "checkout_hash": H(cj), **extra}


def closed_payment(
    cj: str, amount: Any = 19900, currency: str = "USD", payee: Any = M1, **extra: Any
) -> dict[Any, Any]:
    return {
        "vct": "mandate.payment.1",
        "transaction_id": H(cj),
        "payee": payee,
        "payment_amount": {"amount": amount, "currency": currency},
        "payment_instrument": CARD,
        **extra,
    }


@dataclass
class Scenario:
    """A minted chain with the request that goes with it."""

    hops: list[Hop]
    context: RequestContext
    agent: Party
    cj: str
    sd_jwt: str = field(init=False)

    def __post_init__(self) -> None:
        self.sd_jwt = chain(*self.hops)

    @property
    def root(self) -> Hop:
        return self.hops[0]

    @property
    def leaf(self) -> Hop:
        return self.hops[-1]

    def verify(self, now: datetime = NOW, root_keys: Any = ROOT_KEYS) -> VerifiedChain | Rejection:
        return verify_chain(self.sd_jwt, self.context, root_keys, now)

    def decide(
        self, ledger: LedgerState = EMPTY_LEDGER, now: datetime = NOW
    ) -> Decision | Rejection:
        verified = self.verify(now)
        if isinstance(verified, Rejection):
            return verified
        return evaluate(verified, ledger, now)


def checkout(
    cons: list[Any] | None = None,
    cart: list[tuple[dict[str, str], int]] | None = None,
    merchant: Any = M1,
    root_content: Any = None,
    closed: Any = None,
    root_kw: dict[str, Any] | None = None,
    leaf_kw: dict[str, Any] | None = None,
    agent: Party | None = None,
    request_hash: bool = True,
    issuer: Party = PROVIDER,
) -> Scenario:
    agent = agent or party()
    cj = checkout_jwt([(SHOE, 1)] if cart is None else cart, merchant)
    root = root_hop(root_content or open_checkout(agent, cons), issuer, **(root_kw or {}))
    leaf = kb_hop(
        root, closed(cj) if closed else closed_checkout(cj), agent, iat=NOW_TS, **(leaf_kw or {})
    )
    context = RequestContext(AUD, NONCE, H(cj) if request_hash else None)
    return Scenario([root, leaf], context, agent, cj)


def payment(
    cons: list[Any] | None = None,
    amount: Any = 19900,
    currency: str = "USD",
    payee: Any = M1,
    root_extra: dict[str, Any] | None = None,
    closed_extra: dict[str, Any] | None = None,
    closed: Any = None,
    root_kw: dict[str, Any] | None = None,
    leaf_kw: dict[str, Any] | None = None,
    agent: Party | None = None,
    root: Hop | None = None,
    checkout_hash: bool = True,
    open_checkout_hash: str | None = OPEN_CHECKOUT_HASH,
) -> Scenario:
    agent = agent or party()
    cj = checkout_jwt([(SHOE, 1)])
    root = root or root_hop(
        open_payment(agent, cons, **(root_extra or {})), PROVIDER, **(root_kw or {})
    )
    content = (
        closed(cj)
        if closed
        else closed_payment(cj, amount, currency, payee, **(closed_extra or {}))
    )
    leaf = kb_hop(root, content, agent, iat=NOW_TS, **(leaf_kw or {}))
    context = RequestContext(AUD, NONCE, H(cj) if checkout_hash else None, open_checkout_hash)
    return Scenario([root, leaf], context, agent, cj)
