"""No double spend across server processes: concurrent presentations under one open
mandate, sent to two real servers on one database, end as if run one after another."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.ap2.scenarios import (
    M1,
    OPEN_CHECKOUT_HASH,
    amount_range,
    budget,
    payees,
    recurrence,
    reference,
)
from tests.ap2_api.helpers import Presented, issuer_bodies, next_leaf, payment_chain
from tests.drills.server import serve

URL = "/api/v1/ap2/presentations"
SERVER_ENV = {"RATE_LIMIT_ENABLED": "false", "WEBHOOK_WORKER_IN_SERVER": "false"}


async def _present_all(
    http: httpx.AsyncClient, bases: list[str], headers: dict[str, str], chains: list[Presented]
) -> list[httpx.Response]:
    return await asyncio.gather(
        *(
            http.post(bases[i % len(bases)] + URL, json=c.body(), headers=headers)
            for i, c in enumerate(chains)
        )
    )


def _codes(responses: list[httpx.Response]) -> Counter[Any]:
    return Counter((r.status_code, r.json().get("code")) for r in responses)


async def test_budget_replay_and_single_use_hold_across_two_processes(database_url, world):
    headers = world.a["customer_user"].key()
    with serve(database_url, **SERVER_ENV) as one, serve(database_url, **SERVER_ENV) as two:
        bases = [one.base, two.base]
        async with httpx.AsyncClient(timeout=120) as http:
            for body in issuer_bodies():
                response = await http.post(
                    bases[0] + "/api/v1/issuers", json=body, headers=world.a["customer_admin"].key()
                )
                assert response.status_code == 201, response.text
            now = int(time.time())
            # Budget 500 at 100 each: exactly 5 of 24 distinct closed mandates.
            cons = [
                amount_range(1000, 0),
                payees(M1),
                reference(OPEN_CHECKOUT_HASH),
                budget(500),
                recurrence("ON_DEMAND"),
            ]
            first = payment_chain(now, cons=cons, amount=100)
            chains = [first] + [next_leaf(first, now, amount=100) for _ in range(23)]
            responses = await _present_all(http, bases, headers, chains)
            codes = _codes(responses)
            assert codes == {(200, None): 5, (422, "invalid_mandate"): 19}, codes
            for response in responses:
                if response.status_code == 422:
                    assert "payment.budget" in [
                        v["constraint"] for v in response.json()["violations"]
                    ]
            ledger = await http.get(
                bases[1] + f"/api/v1/ap2/ledger/{first.open_mandate_hash}", headers=headers
            )
            assert ledger.json()["occurrences"] == 5
            assert ledger.json()["spent"] == {"USD": 500}
            assert len(ledger.json()["approvals"]) == 5
            assert len({r.json()["mandate_id"] for r in responses if r.status_code == 200}) == 5

            # One closed mandate sent 12 times at once: approved once.
            once = payment_chain(now, cons=cons, amount=100)
            responses = await _present_all(http, bases, headers, [once] * 12)
            assert _codes(responses) == {(200, None): 1, (422, "invalid_mandate"): 11}

            # Single use (no agent_recurrence): one of 12 distinct closed mandates.
            single = payment_chain(now, amount=100)
            chains = [single] + [next_leaf(single, now, amount=100) for _ in range(11)]
            responses = await _present_all(http, bases, headers, chains)
            assert _codes(responses) == {(200, None): 1, (422, "invalid_mandate"): 11}

            # Occurrences: max 3 under ON_DEMAND with an ample budget.
            capped = [
                amount_range(1000, 0),
                payees(M1),
                reference(OPEN_CHECKOUT_HASH),
                recurrence("ON_DEMAND", 3),
            ]
            root = payment_chain(now, cons=capped, amount=100)
            chains = [root] + [next_leaf(root, now, amount=100) for _ in range(11)]
            responses = await _present_all(http, bases, headers, chains)
            assert _codes(responses) == {(200, None): 3, (422, "invalid_mandate"): 9}
    for server in (one, two):
        assert "Traceback" not in server.log_text()


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_double_spend_drill_repeated_on_postgres(database_url, world):
    """The drill of the issue at test size: 32 concurrent, budget admits 4, 3 rounds."""
    headers = world.a["customer_user"].key()
    with serve(database_url, **SERVER_ENV) as one, serve(database_url, **SERVER_ENV) as two:
        bases = [one.base, two.base]
        async with httpx.AsyncClient(timeout=120) as http:
            for body in issuer_bodies():
                await http.post(
                    bases[0] + "/api/v1/issuers", json=body, headers=world.a["customer_admin"].key()
                )
            for _round in range(3):
                now = int(time.time())
                cons = [
                    amount_range(1000, 0),
                    payees(M1),
                    reference(OPEN_CHECKOUT_HASH),
                    budget(4 * 250),
                    recurrence("ON_DEMAND"),
                ]
                first = payment_chain(now, cons=cons, amount=250)
                chains = [first] + [next_leaf(first, now, amount=250) for _ in range(31)]
                codes = _codes(await _present_all(http, bases, headers, chains))
                assert codes == {(200, None): 4, (422, "invalid_mandate"): 28}, codes
