"""Values past what a column holds: the chain decides, storage never fails (no 500)."""

from __future__ import annotations

import pytest

from tests.ap2.scenarios import M1, NOW_TS, OPEN_CHECKOUT_HASH, amount_range, payees, reference
from tests.ap2_api.helpers import payment_chain

URL = "/api/v1/ap2/presentations"


@pytest.mark.parametrize("length", [0, 65, 300, 5000])
async def test_any_transaction_id_matching_the_request_is_stored(api, tenant, length):
    txn = "t" * length
    presented = payment_chain(NOW_TS, closed_extra={"transaction_id": txn})
    body = {**presented.body(), "checkout_jwt_hash": txn}
    response = await api.post(URL, json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    mandate_id = response.json()["mandate_id"]
    stored = await api.get(f"/api/v1/mandates/{mandate_id}", headers=tenant.headers)
    assert stored.status_code == 200
    assert stored.json()["transaction_id"] == (txn if length <= 64 else None)
    check = await api.post(f"/api/v1/mandates/{mandate_id}/dispute-check", headers=tenant.headers)
    chain_step = next(s for s in check.json()["steps"] if s["step"] == "chain")
    assert chain_step["ok"], chain_step


@pytest.mark.parametrize(
    ("amount", "status"), [(2**53 - 1, 200), (2**53, 422), (10**25, 422), (10**400, 422)]
)
async def test_amounts_past_the_exact_json_range_are_refused(api, tenant, amount, status):
    cons = [amount_range(2**53 - 1, 0, "JPY"), payees(M1), reference(OPEN_CHECKOUT_HASH)]
    presented = payment_chain(NOW_TS, cons=cons, amount=amount, currency="JPY")
    response = await api.post(URL, json=presented.body(), headers=tenant.headers)
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["code"] == "invalid_mandate"
    else:
        stored = await api.get(
            f"/api/v1/mandates/{response.json()['mandate_id']}", headers=tenant.headers
        )
        assert stored.json()["amount"] == amount


async def test_bounds_past_the_exact_json_range_are_refused(api, tenant):
    cons = [amount_range(2**53, 0), payees(M1), reference(OPEN_CHECKOUT_HASH)]
    response = await api.post(
        URL, json=payment_chain(NOW_TS, cons=cons).body(), headers=tenant.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_mandate"
