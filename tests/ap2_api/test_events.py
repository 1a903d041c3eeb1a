"""AP2 webhook events go through the outbox in the presentation's transaction."""

from __future__ import annotations

from sqlalchemy import select

from app.models import WebhookDelivery
from tests.ap2.scenarios import NOW_TS
from tests.ap2_api.helpers import checkout_chain, merchant_receipt, payment_chain
from tests.events.conftest import add_webhook

URL = "/api/v1/ap2/presentations"


async def _deliveries(database) -> list[WebhookDelivery]:
    async with database.sessions() as session:
        return list((await session.scalars(select(WebhookDelivery))).all())


async def test_approved_rejected_and_receipt_events(api, tenant, database, world):
    async with database.sessions.begin() as session:
        await add_webhook(session, world.tenant_a)
    presented = checkout_chain(NOW_TS)
    approved = await api.post(URL, json=presented.body(), headers=tenant.headers)
    assert approved.status_code == 200
    rejected = await api.post(URL, json=presented.body(), headers=tenant.headers)  # replay
    assert rejected.status_code == 422
    early = await api.post(URL, json={**presented.body(), "sd_jwt": "x~"}, headers=tenant.headers)
    assert early.status_code == 422
    dry = await api.post(URL, json=payment_chain(NOW_TS).body(dry_run=True), headers=tenant.headers)
    assert dry.status_code == 200  # a dry run sends nothing
    receipt = merchant_receipt(presented, NOW_TS)
    stored = await api.post(
        "/api/v1/ap2/receipts", json={"receipt": receipt}, headers=tenant.headers
    )
    assert stored.status_code == 201

    rows = await _deliveries(database)
    by_type = {}
    for row in rows:
        by_type.setdefault(row.event_type, []).append(row.payload)
    assert sorted(by_type) == [
        "ap2.presentation.approved",
        "ap2.presentation.rejected",
        "ap2.receipt.stored",
    ]
    (ok,) = by_type["ap2.presentation.approved"]
    data = ok["data"]
    assert data["mandate_id"] == approved.json()["mandate_id"]
    assert data["mandate_type"] == "checkout"
    assert data["open_mandate_hash"] == presented.open_mandate_hash
    assert data["occurrences"] == 1
    codes = sorted(p["data"]["code"] for p in by_type["ap2.presentation.rejected"])
    assert codes == ["invalid_credential", "invalid_mandate"]
    refusals = {
        p["data"]["code"]: p["data"].get("rejection_id")
        for p in by_type["ap2.presentation.rejected"]
    }
    assert refusals == {
        "invalid_credential": None,
        "invalid_mandate": rejected.json()["rejection_id"],
    }
    (kept,) = by_type["ap2.receipt.stored"]
    assert kept["data"]["receipt_id"] == stored.json()["id"]
    assert kept["data"]["reference_form"] == "spec"
    # Tenant B has no endpoint: its presentations write no delivery.
    await api.post(URL, json=checkout_chain(NOW_TS).body(), headers=tenant.other)
    assert len(await _deliveries(database)) == len(rows)


async def test_open_mandate_revoked_event(api, tenant, database, world):
    async with database.sessions.begin() as session:
        await add_webhook(session, world.tenant_a)
    presented = payment_chain(NOW_TS)
    assert (await api.post(URL, json=presented.body(), headers=tenant.headers)).status_code == 200
    unseen = payment_chain(NOW_TS)
    for target in (presented, unseen, presented):  # the third changes nothing
        path = f"/api/v1/ap2/ledger/{target.open_mandate_hash}/revoke"
        response = await api.post(path, json={"reason": "withdrawn"}, headers=tenant.headers)
        assert response.status_code == 200, response.text
    revoked = [
        row.payload["data"]
        for row in await _deliveries(database)
        if row.event_type == "ap2.open_mandate.revoked"
    ]
    assert [(d["open_mandate_hash"], d["presented"], d["reason"]) for d in revoked] == [
        (presented.open_mandate_hash, True, "withdrawn"),
        (unseen.open_mandate_hash, False, "withdrawn"),
    ]
