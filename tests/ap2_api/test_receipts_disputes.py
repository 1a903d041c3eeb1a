"""Incoming receipts and the dispute check over HTTP, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import update

from app.models import Ap2Receipt, AuditLog, Mandate
from tests.ap2.minting import H, b64, b64d, root_hop
from tests.ap2.scenarios import (
    M1,
    MERCHANT_KEY,
    NOW_TS,
    PROVIDER,
    amount_range,
    open_checkout,
    payees,
    reference,
)
from tests.ap2_api.helpers import (
    MERCHANT_DID,
    PROCESSOR,
    checkout_chain,
    count,
    merchant_receipt,
    payment_chain,
    processor_receipt,
    receipt_jwt,
)

URL = "/api/v1/ap2/presentations"
RECEIPTS = "/api/v1/ap2/receipts"


async def _stored_pair(api, headers):
    """A checkout and the payment that references its open mandate, both approved."""
    checkout = checkout_chain(NOW_TS)
    response = await api.post(URL, json=checkout.body(), headers=headers)
    assert response.status_code == 200, response.text
    open_hash = H(checkout.root.text)
    payment = payment_chain(
        NOW_TS,
        cons=[amount_range(20000, 0), payees(M1), reference(open_hash)],
        cj=checkout.cj,
        open_checkout_hash=open_hash,
    )
    response = await api.post(URL, json=payment.body(), headers=headers)
    assert response.status_code == 200, response.text
    return checkout, response.json()["mandate_id"], payment


async def _mandate_id(api, headers, presented) -> str:
    found = await api.get(
        "/api/v1/mandates", params={"transaction_id": H(presented.cj)}, headers=headers
    )
    (item,) = [m for m in found.json()["items"] if m["reference"] == presented.reference]
    return item["id"]


async def test_receipts_link_by_either_reference_form(api, tenant, database):
    checkout, payment_id, payment = await _stored_pair(api, tenant.headers)
    checkout_id = await _mandate_id(api, tenant.headers, checkout)

    spec = merchant_receipt(checkout, NOW_TS)
    response = await api.post(RECEIPTS, json={"receipt": spec}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mandate_id"] == checkout_id
    assert body["kind"] == "checkout"
    assert body["status"] == "Success"
    assert body["issuer_did"] == MERCHANT_DID
    assert body["reference_form"] == "spec"
    again = await api.post(RECEIPTS, json={"receipt": spec}, headers=tenant.headers)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]

    sdk = merchant_receipt(checkout, NOW_TS, sdk=True)
    response = await api.post(RECEIPTS, json={"receipt": sdk}, headers=tenant.headers)
    assert response.status_code == 201
    assert response.json()["reference_form"] == "sdk"

    paid = processor_receipt(payment, NOW_TS)
    response = await api.post(RECEIPTS, json={"receipt": paid}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "payment"
    assert response.json()["mandate_id"] == payment_id

    one = await api.get(f"/api/v1/mandates/{checkout_id}", headers=tenant.headers)
    assert sorted(r["reference_form"] for r in one.json()["receipts"]) == ["sdk", "spec"]
    assert await count(database, Ap2Receipt) == 3
    assert await count(database, AuditLog, AuditLog.action == "ap2.receipt.stored") == 3


async def test_receipt_refusals(api, tenant, database):
    checkout, _, payment = await _stored_pair(api, tenant.headers)

    async def refused(receipt, status, code):
        response = await api.post(RECEIPTS, json={"receipt": receipt}, headers=tenant.headers)
        assert response.status_code == status, response.text
        assert response.json()["code"] == code

    # A payment Success receipt needs the processor's confirmation ids.
    await refused(
        processor_receipt(payment, NOW_TS, psp_confirmation_id=None), 422, "invalid_receipt"
    )
    # Unknown reference.
    other = checkout_chain(NOW_TS)
    await refused(merchant_receipt(other, NOW_TS), 404, "mandate_not_found")
    # Bad signature, unknown kid, iss that is not the signer, too far ahead, alg none.
    good = merchant_receipt(checkout, NOW_TS)
    head, body, sig = good.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    await refused(f"{head}.{body}.{flipped}", 422, "invalid_receipt")
    claims = {"iss": MERCHANT_DID, "iat": NOW_TS, "reference": checkout.reference}
    await refused(
        receipt_jwt(MERCHANT_KEY, "nope", {**claims, "status": "Success", "order_id": "o"}),
        422,
        "invalid_receipt",
    )
    await refused(
        receipt_jwt(
            MERCHANT_KEY,
            "m-1",
            {**claims, "iss": "did:web:x", "status": "Success", "order_id": "o"},
        ),
        422,
        "invalid_receipt",
    )
    await refused(
        receipt_jwt(
            MERCHANT_KEY,
            "m-1",
            {**claims, "iat": NOW_TS + 600, "status": "Success", "order_id": "o"},
        ),
        422,
        "invalid_receipt",
    )
    await refused(
        receipt_jwt(
            MERCHANT_KEY, "m-1", {**claims, "status": "Success", "result": "error", "order_id": "o"}
        ),
        422,
        "invalid_receipt",
    )
    await refused(
        receipt_jwt(PROCESSOR, "m-1", {**claims, "status": "Success", "order_id": "o"}),
        422,
        "invalid_receipt",
    )
    for bad in ("", "not a jws", "a.b.c", None, 12):
        await refused(bad, 422, "invalid_receipt")
    response = await api.post(
        RECEIPTS, content=b"[1,2]", headers={**tenant.headers, "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert await count(database, Ap2Receipt) == 0
    # Another tenant cannot link to this tenant's mandate (it does not trust the merchant either).
    response = await api.post(RECEIPTS, json={"receipt": good}, headers=tenant.other)
    assert response.status_code == 422


async def test_dispute_check_consistent_then_each_alteration_fails_its_step(api, tenant, database):
    checkout, payment_id, payment = await _stored_pair(api, tenant.headers)
    checkout_id = await _mandate_id(api, tenant.headers, checkout)
    for receipt in (merchant_receipt(checkout, NOW_TS), processor_receipt(payment, NOW_TS)):
        response = await api.post(RECEIPTS, json={"receipt": receipt}, headers=tenant.headers)
        assert response.status_code == 201, response.text

    async def check(mandate_id):
        response = await api.post(
            f"/api/v1/mandates/{mandate_id}/dispute-check", headers=tenant.readonly
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return body["result"], {s["step"]: s["ok"] for s in body["steps"]}

    result, steps = await check(payment_id)
    assert result == "consistent"
    assert steps == {
        "chain": True,
        "receipt": True,
        "checkout_mandate": True,
        "payment_reference": True,
    }
    result, steps = await check(checkout_id)
    assert result == "consistent"
    assert steps == {"chain": True, "checkout_hash": True, "receipt": True}

    async def alter(model, row_id, **values):
        row_id = uuid.UUID(str(row_id))
        async with database.sessions.begin() as session:
            await session.execute(update(model).where(model.id == row_id).values(**values))

    async def stored(model, row_id, name):
        row_id = uuid.UUID(str(row_id))
        async with database.sessions() as session:
            return getattr(await session.get(model, row_id), name)

    # The payment chain: one character of its leaf signature changed.
    original = await stored(Mandate, payment_id, "vc_jwt")
    cut = original.rindex("~~") + 2
    leaf_jwt = original[cut : original.index("~", cut)]
    at = cut + leaf_jwt.rindex(".") + 10
    changed = original[:at] + ("A" if original[at] != "A" else "B") + original[at + 1 :]
    await alter(Mandate, payment_id, vc_jwt=changed)
    result, steps = await check(payment_id)
    assert result == "inconsistent"
    assert steps["chain"] is False
    assert steps["receipt"] is True
    assert steps["checkout_mandate"] is True
    await alter(Mandate, payment_id, vc_jwt=original)
    assert (await check(payment_id))[0] == "consistent"

    # A stored field that the chain no longer backs.
    await alter(Mandate, payment_id, amount_minor=1)
    assert (await check(payment_id))[1]["chain"] is False
    await alter(Mandate, payment_id, amount_minor=19900)

    # The payment receipt: its payload changed (the signature no longer covers it).
    async with database.sessions() as session:
        from sqlalchemy import select

        receipts = (await session.scalars(select(Ap2Receipt).order_by(Ap2Receipt.created_at))).all()
    by_mandate = {str(r.mandate_id): r for r in receipts}
    paid = by_mandate[payment_id]
    head, body, sig = paid.receipt_jwt.split(".")
    forged = b64(b64d(body).replace(b"pay-1", b"pay-2"))
    await alter(Ap2Receipt, paid.id, receipt_jwt=f"{head}.{forged}.{sig}")
    result, steps = await check(payment_id)
    assert result == "inconsistent"
    assert steps["receipt"] is False
    assert steps["chain"] is True
    await alter(Ap2Receipt, paid.id, receipt_jwt=paid.receipt_jwt)

    # The checkout's receipt key swapped: the stored receipt no longer verifies.
    merchant = by_mandate[checkout_id]
    await alter(Ap2Receipt, merchant.id, issuer_jwk=PROCESSOR.public_jwk())
    assert (await check(checkout_id))[1]["receipt"] is False
    assert (await check(payment_id))[1]["checkout_mandate"] is False
    await alter(Ap2Receipt, merchant.id, issuer_jwk=merchant.issuer_jwk)

    # The checkout chain: its checkout_hash index moved, so the payment finds no checkout.
    await alter(Mandate, checkout_id, transaction_id="x" * 43)
    result, steps = await check(payment_id)
    assert steps["checkout_mandate"] is False
    assert steps["payment_reference"] is False
    assert (await check(checkout_id))[1]["chain"] is False
    await alter(Mandate, checkout_id, transaction_id=H(checkout.cj))

    # The stored root key replaced: the chain step fails.
    details = await stored(Mandate, checkout_id, "verification_details")
    await alter(
        Mandate,
        checkout_id,
        verification_details={**details, "root_jwk": {**MERCHANT_KEY.public_jwk(), "kid": "ap-1"}},
    )
    assert (await check(checkout_id))[1]["chain"] is False
    assert (await check(payment_id))[1]["checkout_mandate"] is False
    await alter(Mandate, checkout_id, verification_details=details)
    assert (await check(payment_id))[0] == "consistent"
    audit = await count(database, AuditLog, AuditLog.action == "mandate.dispute_checked")
    assert audit >= 10


async def test_dispute_check_without_receipts_or_reference(api, tenant, world, clock):
    # An open payment whose reference names a checkout hop the vault never stored.
    payment = payment_chain(NOW_TS)
    response = await api.post(URL, json=payment.body(), headers=tenant.headers)
    mandate_id = response.json()["mandate_id"]
    response = await api.post(
        f"/api/v1/mandates/{mandate_id}/dispute-check", headers=tenant.headers
    )
    body = response.json()
    assert body["result"] == "inconsistent"
    steps = {s["step"]: s for s in body["steps"]}
    assert steps["chain"]["ok"] is True
    assert steps["receipt"]["ok"] is False
    assert steps["receipt"]["reason"]
    assert steps["checkout_mandate"]["ok"] is False
    # A v0.1 mandate has no dispute procedure; an unknown id is 404.
    from tests.mandates.minting import MintingIssuer

    issuer = MintingIssuer()
    clock.advance((datetime.now(UTC) - clock.now()).total_seconds())  # v0.1 tokens: real time
    await api.post(
        "/api/v1/issuers",
        json={"did": issuer.did, "jwks": issuer.jwks()},
        headers=world.a["customer_admin"].key(),
    )
    v1 = await api.post("/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=tenant.headers)
    assert v1.status_code == 201, v1.text
    assert v1.json()["format"] == "vc-jwt"
    response = await api.post(
        f"/api/v1/mandates/{v1.json()['id']}/dispute-check", headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "mandates_not_supported"
    response = await api.post(
        "/api/v1/mandates/00000000-0000-4000-8000-000000000000/dispute-check",
        headers=tenant.headers,
    )
    assert response.status_code == 404


async def test_checkout_with_intermediate_hop_and_issuer_jwt_hash(api, tenant):
    # A root, an intermediate narrowing the merchants, then the leaf bound by issuer_jwt_hash.
    from tests.ap2.minting import kb_hop, party
    from tests.ap2.scenarios import (
        AUD,
        NONCE,
        SHOE,
        checkout_jwt,
        closed_checkout,
        lines,
        merchants,
    )

    agent, sub = party(), party()
    root = root_hop(open_checkout(agent), PROVIDER)
    middle_content = {
        "vct": "mandate.checkout.open.1",
        "constraints": [lines(("line_1", 1, [SHOE])), merchants(M1)],
        "cnf": sub.cnf,
    }
    middle = kb_hop(root, middle_content, agent, iat=NOW_TS - 60, final=False)
    cj = checkout_jwt([(SHOE, 1)])
    leaf = kb_hop(middle, closed_checkout(cj), sub, iat=NOW_TS, binding="issuer_jwt_hash")
    sd_jwt = "~".join(h.text for h in (root, middle, leaf))
    body = {"sd_jwt": sd_jwt, "audience": AUD, "nonce": NONCE, "checkout_jwt_hash": H(cj)}
    response = await api.post(URL, json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["ledger"]["open_mandate_hash"] == H(root.jwt)
