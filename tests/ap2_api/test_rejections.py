"""Genuine chains refused in stage D are kept verbatim with their verdict, searchable;
malformed input and dry runs keep nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.models import AuditLog
from tests.ap2.scenarios import M1, M2, NOW_TS, OPEN_CHECKOUT_HASH, amount_range, payees, reference
from tests.ap2_api.helpers import checkout_chain, payment_chain

URL = "/api/v1/ap2/presentations"
LIST = "/api/v1/ap2/rejections"
REF = reference(OPEN_CHECKOUT_HASH)


async def test_refusals_stored_searched_and_paged(api, tenant, database, clock):
    over = payment_chain(NOW_TS, amount=25000)
    wrong_payee = payment_chain(NOW_TS, cons=[amount_range(20000), payees(M2), REF])
    unresolved = payment_chain(NOW_TS, open_checkout_hash=None)
    answers = {}
    for name, presented in (("over", over), ("payee", wrong_payee), ("unres", unresolved)):
        response = await api.post(URL, json=presented.body(), headers=tenant.headers)
        assert response.status_code == 422, response.text
        answers[name] = response.json()
        clock.advance(1)
    # Nothing kept for a dry run, a malformed chain, or a forged one.
    dry = await api.post(URL, json=over.body(dry_run=True), headers=tenant.headers)
    assert (dry.status_code, dry.json()["rejection_id"]) == (422, None)
    bad = await api.post(URL, json={**over.body(), "sd_jwt": "x~"}, headers=tenant.headers)
    assert (bad.status_code, bad.json()["rejection_id"]) == (422, None)
    approved = await api.post(URL, json=checkout_chain(NOW_TS).body(), headers=tenant.headers)
    assert (approved.status_code, approved.json()["rejection_id"]) == (200, None)

    everything = await api.get(LIST, headers=tenant.readonly)
    assert everything.status_code == 200, everything.text
    items = everything.json()["items"]
    assert [i["id"] for i in items] == [
        answers[n]["rejection_id"] for n in ("unres", "payee", "over")
    ]  # newest first
    first = items[-1]
    assert first["code"] == "invalid_mandate"
    assert first["violations"] == answers["over"]["violations"]
    assert (first["mandate_type"], first["amount"], first["currency"]) == ("payment", 25000, "USD")
    assert first["open_mandate_hash"] == over.open_mandate_hash
    assert first["transaction_id"] == over.request["checkout_jwt_hash"]
    assert first["merchant_id"] == M1["id"]
    assert first["reference"] == over.reference
    assert first["context"]["audience"] == over.request["audience"]
    assert first["receipt"] == answers["over"]["receipt"]
    assert first["sd_jwt"] is None

    def ids(response) -> list[str]:
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    by_hash = await api.get(
        LIST, params={"open_mandate_hash": wrong_payee.open_mandate_hash}, headers=tenant.headers
    )
    assert ids(by_hash) == [answers["payee"]["rejection_id"]]
    by_txn = await api.get(
        LIST, params={"transaction_id": over.request["checkout_jwt_hash"]}, headers=tenant.headers
    )
    assert ids(by_txn) == [answers["over"]["rejection_id"]]
    by_code = await api.get(LIST, params={"code": "unresolved_constraint"}, headers=tenant.headers)
    assert ids(by_code) == [answers["unres"]["rejection_id"]]
    none = await api.get(LIST, params={"mandate_type": "checkout"}, headers=tenant.headers)
    assert ids(none) == []

    page = await api.get(LIST, params={"limit": 2}, headers=tenant.headers)
    assert len(ids(page)) == 2
    rest = await api.get(
        LIST, params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=tenant.headers
    )
    assert ids(rest) == [answers["over"]["rejection_id"]]
    assert rest.json()["next_cursor"] is None
    broken = await api.get(LIST, params={"cursor": "nonsense"}, headers=tenant.headers)
    assert (broken.status_code, broken.json()["code"]) == (422, "invalid_cursor")

    one = f"{LIST}/{answers['over']['rejection_id']}"
    plain = await api.get(one, headers=tenant.headers)
    assert plain.json()["sd_jwt"] is None
    token = await api.get(one, params={"include": "token"}, headers=tenant.headers)
    assert token.json()["sd_jwt"] == over.sd_jwt  # verbatim
    async with database.sessions() as session:
        reads = list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action == "ap2.rejection.token_read")
            )
        )
        refused = list(
            await session.scalars(select(AuditLog).where(AuditLog.action == "mandate.rejected"))
        )
    assert len(reads) == 1
    assert {r.details.get("rejection_id") for r in refused} >= {
        answers[n]["rejection_id"] for n in answers
    }

    # Another tenant sees none of them.
    assert (await api.get(one, headers=tenant.other)).status_code == 404
    assert ids(await api.get(LIST, headers=tenant.other)) == []
