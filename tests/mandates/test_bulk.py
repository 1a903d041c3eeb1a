"""The bulk path (batch endpoint, import) against single ingests, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from app.core.database import Database
from app.issuers.trust import TrustLoader
from app.mandates import importer
from app.mandates.bulk import ingest_many
from app.mandates.importer import import_lines
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService
from app.mandates.verifier_pool import VerifierPool
from app.models import AuditLog, Mandate, Tenant, Webhook, WebhookDelivery
from tests.clock import ManualClock
from tests.mandates.conftest import ACTOR, register_vector_issuers
from tests.mandates.minting import MintingIssuer
from tests.vectors.loader import VectorSet

# Columns that differ between two stores of the same token: identity and moments.
_PER_ROW = {"id", "tenant_id", "created_at", "updated_at", "verified_at"}


@pytest.fixture(scope="module")
def pool() -> Iterator[VerifierPool]:
    """A pool that takes every batch, however small, so the vectors go through it."""
    pool = VerifierPool(workers=2, min_tokens=1)
    yield pool
    pool.close()


async def tenant_with_issuers(database: Database, vectors: VectorSet | None) -> uuid.UUID:
    async with database.sessions() as session, session.begin():
        tenant = Tenant(name="Bulk", slug=f"bulk-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        await register_vector_issuers(session, tenant.id, vectors)
        # An endpoint taking every event, so the outbox rows are compared too.
        session.add(
            Webhook(
                tenant_id=tenant.id,
                url="https://hooks.example/all",
                secret="whsec_" + "a" * 32,
                event_types=[],
                is_active=True,
            )
        )
        return tenant.id


def service(session, tenant_id, trust, settings, clock) -> MandateService:
    return MandateService(session, tenant_id, ACTOR, trust, settings, clock)


def answer(outcome) -> tuple[int, str]:
    if outcome.mandate is None:
        return 422, outcome.result.code.value
    return (201 if outcome.created else 200), outcome.result.code.value


async def stored_state(database: Database, tenant_id: uuid.UUID) -> dict[str, Any]:
    """What a tenant's ingests left: mandates, audit rows and deliveries, ids left out."""
    async with database.sessions() as session:
        mandates = (
            await session.scalars(select(Mandate).where(Mandate.tenant_id == tenant_id))
        ).all()
        by_id = {m.id: m.token_sha256 for m in mandates}
        rows = sorted(
            (
                {
                    column.key: getattr(m, column.key)
                    for column in Mandate.__table__.columns
                    if column.key not in _PER_ROW
                }
                for m in mandates
            ),
            key=lambda row: row["token_sha256"],
        )
        audit = [
            (
                a.action,
                a.outcome,
                a.details,
                a.resource_type,
                by_id.get(uuid.UUID(a.resource_id)) if a.resource_id else None,
                a.actor_type,
                a.actor_id,
                a.chain_id == str(tenant_id),
            )
            for a in await session.scalars(
                select(AuditLog).where(AuditLog.tenant_id == tenant_id).order_by(AuditLog.id)
            )
            if a.action.startswith("mandate.")
        ]
        deliveries = []
        for d in await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == tenant_id)
            .order_by(WebhookDelivery.created_at, WebhookDelivery.event_type)
        ):
            data = dict(d.payload["data"])
            if data.get("mandate_id"):
                data["mandate_id"] = by_id[uuid.UUID(data["mandate_id"])]
            data.pop("created_at", None)
            data.pop("failed_at", None)
            deliveries.append((d.event_type, d.status, d.attempts, data))
        deliveries.sort(key=lambda item: orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
    return {"mandates": rows, "audit": audit, "deliveries": deliveries}


async def test_batch_and_import_store_what_single_ingests_store(
    database, settings, vectors, pool, tmp_path
):
    clock, trust = ManualClock(), TrustLoader(None)
    requests = [MandateCreate(vc_jwt=case.vc_jwt) for case in vectors.cases]
    single, batch, imported = [await tenant_with_issuers(database, vectors) for _ in range(3)]

    async with database.sessions() as session, session.begin():
        alone = service(session, single, trust, settings, clock)
        singles = [answer(await alone.ingest(request)) for request in requests]
    async with database.sessions() as session, session.begin():
        together = service(session, batch, trust, settings, clock)
        batched = [answer(o) for o in await ingest_many(together, requests, pool)]
    lines = [orjson.dumps({"vc_jwt": case.vc_jwt}) for case in vectors.cases]
    summary = await import_lines(database, imported, lines, settings, trust, actor=ACTOR, pool=pool)

    assert batched == singles
    for case, (status, code) in zip(vectors.cases, singles, strict=True):
        assert status in case.expect_status, case.name
        assert code in case.codes, case.name
    codes: dict[str, int] = {}
    for _status, code in singles:
        codes[code] = codes.get(code, 0) + 1
    assert dict(summary.codes) == codes
    assert summary.created == sum(status == 201 for status, _ in singles)
    assert summary.duplicates == sum(status == 200 for status, _ in singles)
    expected = await stored_state(database, single)
    assert expected["mandates"]
    assert expected["audit"]
    assert expected["deliveries"]
    assert await stored_state(database, batch) == expected
    assert await stored_state(database, imported) == expected


async def test_batch_through_the_service_answers_each_item(database, settings):
    issuer = MintingIssuer()
    async with database.sessions() as session, session.begin():
        tenant = Tenant(name="Batch", slug=f"batch-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        await issuer.register(session, tenant.id)
    token, expired = issuer.token(), issuer.token(expires_in=-600)
    items = [MandateCreate(vc_jwt=t) for t in (token, token, "junk", expired, "junk", token)]
    async with database.sessions() as session, session.begin():
        mandates = service(session, tenant.id, TrustLoader(None), settings, ManualClock())
        result = await mandates.ingest_batch(items)
    assert [(i.index, i.status, i.code) for i in result.items] == [
        (0, 201, "VALID"),
        (1, 200, "VALID"),
        (2, 422, "INVALID_FORMAT"),
        (3, 422, "EXPIRED"),
        (4, 422, "INVALID_FORMAT"),
        (5, 200, "VALID"),
    ]
    assert result.items[0].id == result.items[1].id == result.items[5].id
    assert result.summary == {"VALID": 3, "INVALID_FORMAT": 2, "EXPIRED": 1}
    state = await stored_state(database, tenant.id)
    assert len(state["mandates"]) == 1
    assert [(action, outcome) for action, outcome, *_ in state["audit"]] == [
        ("mandate.created", "VALID"),
        ("mandate.rejected", "INVALID_FORMAT"),
        ("mandate.rejected", "EXPIRED"),
        ("mandate.rejected", "INVALID_FORMAT"),
    ]

    # Again: every token is held now (or refused again), each answered as alone.
    async with database.sessions() as session, session.begin():
        mandates = service(session, tenant.id, TrustLoader(None), settings, ManualClock())
        again = await mandates.ingest_batch(items)
    assert [(i.status, i.code) for i in again.items] == [
        (200, "VALID"),
        (200, "VALID"),
        (422, "INVALID_FORMAT"),
        (422, "EXPIRED"),
        (422, "INVALID_FORMAT"),
        (200, "VALID"),
    ]
    assert again.items[0].id == result.items[0].id
    assert len((await stored_state(database, tenant.id))["mandates"]) == 1


async def test_a_large_batch_verifies_in_the_pool(database, settings):
    issuer = MintingIssuer()
    async with database.sessions() as session, session.begin():
        tenant = Tenant(name="Big", slug=f"big-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        await issuer.register(session, tenant.id)
    tokens = [issuer.token(scope=f"s{i}") for i in range(240)]
    items = [MandateCreate(vc_jwt=t) for t in [*tokens, tokens[0], "junk"]]
    pool = VerifierPool(workers=2)
    try:
        async with database.sessions() as session, session.begin():
            mandates = service(session, tenant.id, TrustLoader(None), settings, ManualClock())
            small = await ingest_many(mandates, items[:10], pool)
            assert not pool.started  # ten tokens verify inline
            outcomes = await ingest_many(mandates, items, pool)
            assert pool.started
    finally:
        pool.close()
    assert [answer(o) for o in small] == [(201, "VALID")] * 10
    assert [answer(o) for o in outcomes] == [
        *[(200, "VALID")] * 10,
        *[(201, "VALID")] * 230,
        (200, "VALID"),
        (422, "INVALID_FORMAT"),
    ]
    state = await stored_state(database, tenant.id)
    assert len(state["mandates"]) == 240
    assert sorted(m["scope"] for m in state["mandates"]) == sorted(f"s{i}" for i in range(240))
    assert sum(action == "mandate.created" for action, *_ in state["audit"]) == 240


async def test_import_reports_bad_lines_across_chunks(database, settings, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 3)
    issuer = MintingIssuer()
    async with database.sessions() as session, session.begin():
        tenant = Tenant(name="Lines", slug=f"lines-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        await issuer.register(session, tenant.id)
    good = [issuer.token(scope=f"s{i}") for i in range(5)]
    lines = [
        orjson.dumps({"vc_jwt": good[0]}),
        b"{not json",
        orjson.dumps(good[1]),
        b"   ",
        orjson.dumps({"vc_jwt": good[2], "retention_days": 7, "labels": {"batch": "b1"}}),
        orjson.dumps({"vc_jwt": good[0]}),  # in a later chunk than its first copy
        orjson.dumps({"token": good[3]}),
        b"[1, 2]",
        orjson.dumps({"vc_jwt": "garbage"}),
        orjson.dumps({"vc_jwt": good[4]}),
    ]
    progressed: list[int] = []
    summary = await import_lines(
        database, tenant.id, lines, settings, TrustLoader(None), progress=progressed.append
    )
    assert summary.lines == 9
    assert (summary.created, summary.duplicates) == (4, 1)
    assert dict(summary.codes) == {"VALID": 5, "INVALID_LINE": 3, "INVALID_FORMAT": 1}
    assert progressed == [3, 3, 3]
    state = await stored_state(database, tenant.id)
    labelled = [m for m in state["mandates"] if m["labels"]]
    assert [(m["labels"], m["retention_days"]) for m in labelled] == [({"batch": "b1"}, 7)]
    assert len(state["mandates"]) == 4
