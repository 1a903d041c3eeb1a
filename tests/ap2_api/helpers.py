"""Chains for the HTTP tests, minted at any instant (the in-process app runs on a manual
clock at scenarios.NOW; real server processes run on the real clock)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from tests.ap2.minting import H, Hop, Party, b64, chain, kb_hop, party, root_hop, sign
from tests.ap2.scenarios import (
    AUD,
    M1,
    MERCHANT_KEY,
    NONCE,
    OPEN_CHECKOUT_HASH,
    OTHER,
    OTHER_DID,
    PROVIDER,
    PROVIDER_DID,
    SHOE,
    checkout_jwt,
    closed_checkout,
    closed_payment,
    open_checkout,
    open_payment,
)

MERCHANT_DID = "did:web:merchant.example"
PROCESSOR = party("pp-1")
PROCESSOR_DID = "did:web:processor.example"
ISSUERS = [
    (PROVIDER_DID, PROVIDER),
    (OTHER_DID, OTHER),
    (MERCHANT_DID, MERCHANT_KEY),
    (PROCESSOR_DID, PROCESSOR),
]


def issuer_bodies() -> list[dict[str, Any]]:
    return [{"did": did, "jwks": {"keys": [p.public_jwk()]}} for did, p in ISSUERS]


@dataclass
class Presented:
    """A chain and the request members that go with it."""

    hops: list[Hop]
    request: dict[str, Any]
    cj: str
    agent: Party

    @property
    def sd_jwt(self) -> str:
        return chain(*self.hops)

    def body(self, **extra: Any) -> dict[str, Any]:
        return {"sd_jwt": self.sd_jwt, **self.request, **extra}

    @property
    def root(self) -> Hop:
        return self.hops[0]

    @property
    def open_mandate_hash(self) -> str:
        return H(self.hops[0].jwt)

    @property
    def reference(self) -> str:
        return H(self.hops[-1].text)

    @property
    def reference_sdk(self) -> str:
        return H(self.hops[-1].jwt)


def checkout_chain(
    now_ts: int,
    *,
    cons: list[Any] | None = None,
    agent: Party | None = None,
    root: Hop | None = None,
    cart: list[tuple[dict[str, str], int]] | None = None,
    issuer: Party = PROVIDER,
) -> Presented:
    agent = agent or party()
    cj = checkout_jwt([(SHOE, 1)] if cart is None else cart, M1)
    root = root or root_hop(open_checkout(agent, cons), issuer)
    leaf = kb_hop(root, closed_checkout(cj), agent, iat=now_ts)
    request = {"audience": AUD, "nonce": NONCE, "checkout_jwt_hash": H(cj)}
    return Presented([root, leaf], request, cj, agent)


def payment_chain(
    now_ts: int,
    *,
    cons: list[Any] | None = None,
    amount: Any = 19900,
    currency: str = "USD",
    agent: Party | None = None,
    root: Hop | None = None,
    cj: str | None = None,
    open_checkout_hash: str | None = OPEN_CHECKOUT_HASH,
    closed_extra: dict[str, Any] | None = None,
) -> Presented:
    agent = agent or party()
    cj = cj or checkout_jwt([(SHOE, 1)])
    root = root or root_hop(open_payment(agent, cons), PROVIDER)
    content = closed_payment(cj, amount, currency, M1, **(closed_extra or {}))
    leaf = kb_hop(root, content, agent, iat=now_ts)
    request: dict[str, Any] = {"audience": AUD, "nonce": NONCE, "checkout_jwt_hash": H(cj)}
    if open_checkout_hash is not None:
        request["open_checkout_hash"] = open_checkout_hash
    return Presented([root, leaf], request, cj, agent)


def next_leaf(first: Presented, now_ts: int, **kw: Any) -> Presented:
    """Another closed payment mandate under the same open mandate (same root and agent)."""
    return payment_chain(now_ts, agent=first.agent, root=first.root, cj=first.cj, **kw)


def receipt_jwt(signer: Party, kid: str, payload: dict[str, Any]) -> str:
    return sign({"alg": "ES256", "typ": "JWT", "kid": kid}, payload, signer.key)


def merchant_receipt(presented: Presented, now_ts: int, *, sdk: bool = False) -> str:
    reference = presented.reference_sdk if sdk else presented.reference
    return receipt_jwt(
        MERCHANT_KEY,
        "m-1",
        {
            "iss": MERCHANT_DID,
            "iat": now_ts,
            "reference": reference,
            "status": "Success",
            "order_id": "order-1",
        },
    )


def processor_receipt(presented: Presented, now_ts: int, **extra: Any) -> str:
    payload = {
        "iss": PROCESSOR_DID,
        "iat": now_ts,
        "reference": presented.reference,
        "status": "Success",
        "payment_id": "pay-1",
        "psp_confirmation_id": "psp-1",
        "network_confirmation_id": "net-1",
        **extra,
    }
    return receipt_jwt(PROCESSOR, "pp-1", {k: v for k, v in payload.items() if v is not None})


def raw_json_b64(text: str) -> str:
    return b64(text.encode())


def dumps(value: Any) -> str:
    return json.dumps(value)


async def count(database: Any, model: Any, *where: Any) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))
