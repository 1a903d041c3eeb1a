"""POST /api/v1/ap2/presentations and the ledger over HTTP, on both databases."""

from __future__ import annotations

import jwt
from sqlalchemy import select

from app.models import Ap2Approval, Ap2Ledger, AuditLog, Mandate
from tests.ap2.minting import H, Hop, chain
from tests.ap2.scenarios import (
    M1,
    NOW_TS,
    OPEN_CHECKOUT_HASH,
    amount_range,
    budget,
    payees,
    recurrence,
    reference,
)
from tests.ap2_api.helpers import checkout_chain, count, next_leaf, payment_chain

PROBLEM = "application/problem+json"
URL = "/api/v1/ap2/presentations"
REF = reference(OPEN_CHECKOUT_HASH)


def recurring(max_budget: int = 50000, freq: str = "ON_DEMAND", mx: int | None = None) -> list:
    return [amount_range(20000, 0), payees(M1), REF, budget(max_budget), recurrence(freq, mx)]


async def _jwks(api) -> dict:
    response = await api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return response.json()


def _receipt_claims(receipt: str, jwks: dict) -> dict:
    header = jwt.get_unverified_header(receipt)
    assert header["alg"] == "ES256"
    assert header["typ"] == "JWT"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    return jwt.decode(receipt, jwt.PyJWK(key).key, algorithms=["ES256"])


async def test_checkout_approved_stored_searchable_and_audited(api, tenant, database):
    presented = checkout_chain(NOW_TS)
    response = await api.post(URL, json=presented.body(), headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "approved"
    assert body["code"] is None
    assert body["violations"] == []
    assert body["ledger"] == {
        "open_mandate_hash": presented.open_mandate_hash,
        "spent": None,
        "currency": None,
        "occurrences": 1,
    }
    claims = _receipt_claims(body["receipt"], await _jwks(api))
    assert claims["status"] == "Success"
    assert claims["reference"] == presented.reference
    assert claims["mandate_id"] == claims["order_id"] == body["mandate_id"]
    assert claims["iat"] == NOW_TS
    assert claims["iss"]
    assert "payment_id" not in claims
    assert "error" not in claims

    mandate_id = body["mandate_id"]
    one = await api.get(f"/api/v1/mandates/{mandate_id}", headers=tenant.headers)
    assert one.status_code == 200
    stored = one.json()
    assert stored["format"] == "ap2-v0.2"
    assert stored["mandate_type"] == "checkout"
    assert stored["open_mandate_hash"] == presented.open_mandate_hash
    assert stored["transaction_id"] == H(presented.cj)
    assert stored["reference"] == presented.reference
    assert stored["reference_sdk"] == presented.reference_sdk
    assert stored["merchants"] == ["merchant_1"]
    assert stored["sd_jwt"] is None
    assert stored["vc_jwt"] is None
    assert stored["receipts"] == []
    token = await api.get(f"/api/v1/mandates/{mandate_id}?include=token", headers=tenant.headers)
    assert token.json()["sd_jwt"] == presented.sd_jwt  # verbatim

    for query in (
        {"transaction_id": H(presented.cj)},
        {"open_mandate_hash": presented.open_mandate_hash},
        {"mandate_type": "checkout"},
        {"merchant": "merchant_1", "mandate_type": "checkout"},
    ):
        found = await api.get("/api/v1/mandates", params=query, headers=tenant.headers)
        assert found.status_code == 200, found.text
        assert [m["id"] for m in found.json()["items"]] == [mandate_id], query
    none = await api.get(
        "/api/v1/mandates", params={"transaction_id": "x" * 43}, headers=tenant.headers
    )
    assert none.json()["items"] == []

    async with database.sessions() as session:
        actions = (
            await session.scalars(select(AuditLog.action).where(AuditLog.resource_id == mandate_id))
        ).all()
    assert "mandate.created" in actions


async def test_payment_spent_and_ledger_view(api, tenant, database):
    first = payment_chain(NOW_TS, cons=recurring(50000, "ON_DEMAND", 5), amount=19900)
    response = await api.post(URL, json=first.body(), headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["ledger"] == {
        "open_mandate_hash": first.open_mandate_hash,
        "spent": 19900,
        "currency": "USD",
        "occurrences": 1,
    }
    receipt = _receipt_claims(response.json()["receipt"], await _jwks(api))
    assert receipt["payment_id"] == response.json()["mandate_id"]
    second = next_leaf(first, NOW_TS, amount=20000)
    response = await api.post(URL, json=second.body(), headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["ledger"]["spent"] == 39900
    # 39,900 + 19,900 > 50,000: the budget refuses, and the ledger does not move.
    third = next_leaf(first, NOW_TS, amount=19900)
    response = await api.post(URL, json=third.body(), headers=tenant.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "invalid_mandate"
    assert body["status"] == 422
    assert "payment.budget" in [v["constraint"] for v in body["violations"]]
    assert body["mandate_id"] is None
    assert body["ledger"]["spent"] == 39900
    assert body["ledger"]["occurrences"] == 2
    error = _receipt_claims(body["receipt"], await _jwks(api))
    assert error["status"] == "Error"
    assert error["error"] == "invalid_mandate"
    assert error["error_description"]
    assert error["reference"] == third.reference

    ledger = await api.get(f"/api/v1/ap2/ledger/{first.open_mandate_hash}", headers=tenant.headers)
    assert ledger.status_code == 200, ledger.text
    view = ledger.json()
    assert view["occurrences"] == 2
    assert view["spent"] == {"USD": 39900}
    assert view["remaining"] == {"USD": 10100}
    assert view["max_occurrences"] == 5
    assert view["family"] == "payment"
    assert sorted(a["amount"] for a in view["approvals"]) == [19900, 20000]  # same instant
    assert view["next_allowed_at"] is None  # ON_DEMAND
    readonly = await api.get(
        f"/api/v1/ap2/ledger/{first.open_mandate_hash}", headers=tenant.readonly
    )
    assert readonly.status_code == 200
    searched = await api.get(
        "/api/v1/mandates",
        params={"open_mandate_hash": first.open_mandate_hash, "mandate_type": "payment"},
        headers=tenant.headers,
    )
    assert len(searched.json()["items"]) == 2
    assert {m["amount"] for m in searched.json()["items"]} == {19900, 20000}
    assert {m["amount_limit"] for m in searched.json()["items"]} == {"199.00", "200.00"}


async def test_replay_of_the_same_closed_mandate_is_refused(api, tenant, database):
    presented = checkout_chain(NOW_TS)
    assert (await api.post(URL, json=presented.body(), headers=tenant.headers)).status_code == 200
    again = await api.post(URL, json=presented.body(), headers=tenant.headers)
    assert again.status_code == 422
    assert again.json()["code"] == "invalid_mandate"
    assert "replay" in again.json()["violations"][0]["reason"]
    # The same leaf JWT with its disclosures in another order is the same closed mandate.
    leaf = presented.hops[-1]
    reordered = Hop(leaf.jwt, list(reversed(leaf.disclosures)))
    assert reordered.text != leaf.text
    body = {**presented.body(), "sd_jwt": chain(presented.root, reordered)}
    again = await api.post(URL, json=body, headers=tenant.headers)
    assert again.status_code == 422
    assert "replay" in again.json()["violations"][0]["reason"]
    assert await count(database, Mandate) == 1
    assert await count(database, Ap2Approval) == 1
    ledger = await api.get(
        f"/api/v1/ap2/ledger/{presented.open_mandate_hash}", headers=tenant.headers
    )
    assert ledger.json()["occurrences"] == 1


async def test_payment_single_use(api, tenant, database):
    first = payment_chain(NOW_TS)  # no agent_recurrence: one use
    assert (await api.post(URL, json=first.body(), headers=tenant.headers)).status_code == 200
    second = next_leaf(first, NOW_TS)
    response = await api.post(URL, json=second.body(), headers=tenant.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_mandate"
    assert "one use" in " ".join(v["reason"] for v in response.json()["violations"])
    assert await count(database, Ap2Approval) == 1


async def test_recurrence_spacing_and_occurrences(api, tenant, clock):
    first = payment_chain(NOW_TS, cons=recurring(10**9, "DAILY", 2))
    assert (await api.post(URL, json=first.body(), headers=tenant.headers)).status_code == 200
    ledger = await api.get(f"/api/v1/ap2/ledger/{first.open_mandate_hash}", headers=tenant.headers)
    assert ledger.json()["next_allowed_at"].startswith("2026-05-02T12:00:00")
    early = next_leaf(first, NOW_TS)
    response = await api.post(URL, json=early.body(), headers=tenant.headers)
    assert response.status_code == 422
    assert "payment.agent_recurrence" in [v["constraint"] for v in response.json()["violations"]]
    clock.advance(24 * 3600)
    later = next_leaf(first, NOW_TS + 24 * 3600)
    assert (await api.post(URL, json=later.body(), headers=tenant.headers)).status_code == 200
    clock.advance(24 * 3600)
    third = next_leaf(first, NOW_TS + 48 * 3600)
    response = await api.post(URL, json=third.body(), headers=tenant.headers)
    assert response.status_code == 422  # max_occurrences 2
    assert "payment.agent_recurrence" in [v["constraint"] for v in response.json()["violations"]]


async def test_dry_run_same_verdict_no_change(api, tenant, database):
    first = payment_chain(NOW_TS, cons=recurring(30000))
    dry = await api.post(URL, json=first.body(dry_run=True), headers=tenant.headers)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["result"] == "approved"
    assert body["mandate_id"] is None
    assert body["receipt"] is None
    assert body["ledger"]["occurrences"] == 0
    assert body["ledger"]["spent"] == 0
    assert await count(database, Mandate) == 0
    assert await count(database, Ap2Ledger) == 0
    assert await count(database, AuditLog, AuditLog.action.like("mandate.%")) == 0
    missing = await api.get(f"/api/v1/ap2/ledger/{first.open_mandate_hash}", headers=tenant.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "ledger_not_found"
    # For real, then a dry run of an over-budget leaf: same verdict as for real, no change.
    assert (await api.post(URL, json=first.body(), headers=tenant.headers)).status_code == 200
    over = next_leaf(first, NOW_TS, amount=19900)
    dry = await api.post(URL, json=over.body(dry_run=True), headers=tenant.headers)
    assert dry.status_code == 422
    assert dry.json()["code"] == "invalid_mandate"
    assert dry.json()["receipt"] is None
    assert dry.json()["ledger"]["spent"] == 19900
    real = await api.post(URL, json=over.body(), headers=tenant.headers)
    assert real.status_code == 422
    assert real.json()["violations"] == dry.json()["violations"]
    # A dry run of the approved leaf again: replay, as for real.
    dry_replay = await api.post(URL, json=first.body(dry_run=True), headers=tenant.headers)
    assert dry_replay.status_code == 422
    assert dry_replay.json()["code"] == "invalid_mandate"
    assert await count(database, Ap2Approval) == 1


async def test_revoked_open_mandate_refuses_later_presentations(api, tenant, database):
    first = payment_chain(NOW_TS, cons=recurring())
    assert (await api.post(URL, json=first.body(), headers=tenant.headers)).status_code == 200
    path = f"/api/v1/ap2/ledger/{first.open_mandate_hash}/revoke"
    refused = await api.post(path, json={"reason": "user withdrew"}, headers=tenant.readonly)
    assert refused.status_code == 403
    revoked = await api.post(path, json={"reason": "user withdrew"}, headers=tenant.headers)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"]
    assert revoked.json()["revocation_reason"] == "user withdrew"
    second = next_leaf(first, NOW_TS)
    response = await api.post(URL, json=second.body(), headers=tenant.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_mandate"
    assert "revoked" in response.json()["violations"][0]["reason"]
    dry = await api.post(URL, json=second.body(dry_run=True), headers=tenant.headers)
    assert dry.status_code == 422
    assert await count(database, Ap2Approval) == 1


async def test_open_mandate_revoked_before_its_first_presentation(api, tenant, database):
    fresh = payment_chain(NOW_TS, cons=recurring())
    path = f"/api/v1/ap2/ledger/{fresh.open_mandate_hash}/revoke"
    before = await api.get(f"/api/v1/ap2/ledger/{fresh.open_mandate_hash}", headers=tenant.headers)
    assert before.status_code == 404
    revoked = await api.post(path, json={"reason": "lost the phone"}, headers=tenant.headers)
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert (body["open_mandate_hash"], body["family"], body["occurrences"]) == (
        fresh.open_mandate_hash,
        None,
        0,
    )
    assert (body["revocation_reason"], body["approvals"]) == ("lost the phone", [])
    again = await api.post(path, json={"reason": "other"}, headers=tenant.headers)
    assert again.json()["revocation_reason"] == "lost the phone"  # revoking again changes nothing
    for dry_run in (True, False):
        response = await api.post(URL, json=fresh.body(dry_run=dry_run), headers=tenant.headers)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_mandate"
        assert "revoked" in response.json()["violations"][0]["reason"]
    assert await count(database, Mandate) == 0
    assert await count(database, Ap2Approval) == 0
    assert await count(database, Ap2Ledger) == 1  # the revoked row stays
    async with database.sessions() as session:
        audit = list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action == "ap2.open_mandate.revoked")
            )
        )
    assert len(audit) == 1
    assert audit[0].details["presented"] is False
    assert audit[0].details["open_mandate_hash"] == fresh.open_mandate_hash
    # The revoked row is the tenant's own.
    other = await api.get(f"/api/v1/ap2/ledger/{fresh.open_mandate_hash}", headers=tenant.other)
    assert other.status_code == 404
    # A hash no root can have.
    for bad in ("abc", "A" * 44):
        missing = await api.post(
            f"/api/v1/ap2/ledger/{bad}/revoke", json={"reason": "x"}, headers=tenant.headers
        )
        assert missing.status_code == 404
        assert missing.json()["code"] == "ledger_not_found"
    assert await count(database, Ap2Ledger) == 1


async def test_tenant_isolation(api, tenant, database):
    presented = checkout_chain(NOW_TS)
    response = await api.post(URL, json=presented.body(), headers=tenant.headers)
    mandate_id = response.json()["mandate_id"]
    ledger = f"/api/v1/ap2/ledger/{presented.open_mandate_hash}"
    assert (await api.get(ledger, headers=tenant.other)).status_code == 404
    assert (
        await api.get(f"/api/v1/mandates/{mandate_id}", headers=tenant.other)
    ).status_code == 404
    found = await api.get(
        "/api/v1/mandates",
        params={"open_mandate_hash": presented.open_mandate_hash},
        headers=tenant.other,
    )
    assert found.json()["items"] == []
    check = await api.post(f"/api/v1/mandates/{mandate_id}/dispute-check", headers=tenant.other)
    assert check.status_code == 404
    # Tenant B does not trust the provider: the same kind of chain does not verify there.
    other = checkout_chain(NOW_TS)
    response = await api.post(URL, json=other.body(), headers=tenant.other)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_credential"
    assert response.json()["ledger"] is None


async def test_permissions(api, tenant):
    presented = checkout_chain(NOW_TS)
    assert (await api.post(URL, json=presented.body())).status_code == 401
    response = await api.post(URL, json=presented.body(), headers=tenant.readonly)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
