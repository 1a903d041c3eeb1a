"""Ingest through the service on both databases: the public vectors and the rules around them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.core.metrics import REGISTRY
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService, to_read, token_sha256
from app.models import AuditLog, Mandate
from tests.mandates.conftest import ACTOR, new_tenant, register_vector_issuers
from tests.vectors.loader import project_vectors

FIRST_VALID = "valid ES256 generic"


def first_token() -> str:
    return project_vectors().case(FIRST_VALID).vc_jwt


async def test_public_vectors(session, tenant_id, mandates, vectors):
    await register_vector_issuers(session, tenant_id, vectors)
    ids: dict[str, object] = {}
    for case in vectors.cases:
        outcome = await mandates.ingest(MandateCreate(vc_jwt=case.vc_jwt))
        assert outcome.result.code.value in case.codes, (case.name, outcome.result)
        if outcome.mandate is None:
            assert 422 in case.expect_status, case.name
            continue
        status = 201 if outcome.created else 200
        assert status in case.expect_status, case.name
        ids[case.name] = outcome.mandate.id
        if case.same_as:
            assert outcome.mandate.id == ids[case.same_as]
            assert not outcome.created
        read = to_read(outcome.mandate, datetime.now(UTC)).model_dump(mode="json")
        for field, value in case.check_fields.items():
            assert read[field] == value, (case.name, field)
    stored = await session.scalar(select(func.count()).select_from(Mandate))
    assert stored == len(set(ids.values()))


async def test_a_stored_mandate_and_its_audit_row_are_written_together(
    session, tenant_id, mandates, database
):
    """One audit row per mandate stored, none for the same token again; on
    PostgreSQL the mandate and its audit row are one statement (one round trip)."""
    from app.core import driver

    await register_vector_issuers(session, tenant_id)
    sent: list[str] = []
    pool = database.write_engine.sync_engine.pool
    driver.timers[pool] = lambda _seconds, statement, _many: sent.append(statement)
    try:
        first = await mandates.ingest(MandateCreate(vc_jwt=first_token()))
        again = await mandates.ingest(MandateCreate(vc_jwt=first_token()))
    finally:
        driver.timers.pop(pool, None)
    assert first.created
    assert not again.created
    assert again.mandate.id == first.mandate.id
    rows = list(await session.scalars(select(AuditLog).where(AuditLog.action == "mandate.created")))
    assert len(rows) == 1
    (row,) = rows
    assert (row.tenant_id, row.resource_type, row.resource_id, row.outcome) == (
        tenant_id,
        "mandate",
        str(first.mandate.id),
        "VALID",
    )
    assert row.details == {"token_sha256": first.token_sha256}
    assert (row.actor_type, row.actor_id) == (ACTOR.type, ACTOR.id)
    assert row.chain_id is not None
    assert row.seq is None  # the sealer links it later
    if database.write_engine.dialect.name == "postgresql":
        # The statement ran twice (the second stored nothing) and nothing else wrote.
        assert [text for text in sent if "INSERT" in text] == [sent[0], sent[0]]
        assert "INSERT INTO mandates" in sent[0]
        assert "INSERT INTO audit_log" in sent[0]
    else:
        assert sent == []  # SQLite: SQLAlchemy sends both, one after the other


async def test_rejections_are_audited_without_the_token(session, tenant_id, mandates):
    outcome = await mandates.ingest(MandateCreate(vc_jwt="e30.@@@.###"))
    assert outcome.result.code.value == "INVALID_FORMAT"
    assert outcome.mandate is None
    row = await session.scalar(select(AuditLog).where(AuditLog.action == "mandate.rejected"))
    assert row.tenant_id == tenant_id
    assert row.outcome == "INVALID_FORMAT"
    assert row.details["token_sha256"] == outcome.token_sha256
    assert "e30.@@@.###" not in str(row.details)
    assert await session.scalar(select(func.count()).select_from(Mandate)) == 0


async def test_another_tenants_issuer_is_unknown(session, settings, trust):
    owner = await new_tenant(session, "Owner")
    stranger = await new_tenant(session, "Stranger")
    await register_vector_issuers(session, owner)
    token = first_token()
    outcome = await MandateService(session, stranger, ACTOR, trust, settings).ingest(
        MandateCreate(vc_jwt=token)
    )
    assert outcome.result.code.value == "ISSUER_UNKNOWN"


async def test_the_same_token_is_kept_once_per_tenant(session, settings, trust):
    first, second = await new_tenant(session, "First"), await new_tenant(session, "Second")
    token = first_token()
    created = []
    for tenant in (first, second):
        await register_vector_issuers(session, tenant)
        outcome = await MandateService(session, tenant, ACTOR, trust, settings).ingest(
            MandateCreate(vc_jwt=token)
        )
        created.append(outcome.created)
    assert created == [True, True]
    assert await session.scalar(select(func.count()).select_from(Mandate)) == 2


@pytest.mark.parametrize("status", ["suspended", "revoked"])
async def test_an_inactive_issuer_refuses_its_tokens(session, tenant_id, mandates, status):
    from app.issuers.schemas import IssuerUpdate
    from app.issuers.service import IssuerService

    await register_vector_issuers(session, tenant_id)
    issuers = IssuerService(session, tenant_id, ACTOR, None)
    bank = project_vectors().issuer("es").did  # the issuer of FIRST_VALID
    es = next(i for i in await issuers.list() if i.did == bank)
    await issuers.update(es.id, IssuerUpdate(status=status))
    outcome = await mandates.ingest(MandateCreate(vc_jwt=first_token()))
    assert outcome.result.code.value == "ISSUER_REVOKED"


async def test_concurrent_submissions_of_one_token_store_it_once(database, settings, trust):
    import asyncio

    from tests.mandates.minting import MintingIssuer

    issuer = MintingIssuer()
    async with database.sessions() as session, session.begin():
        tenant = await new_tenant(session, "Racer")
        await issuer.register(session, tenant)
    token = issuer.token()

    async def submit():
        async with database.sessions() as session, session.begin():
            service = MandateService(session, tenant, ACTOR, trust, settings)
            outcome = await service.ingest(MandateCreate(vc_jwt=token))
            return outcome.created, outcome.mandate.id

    results = await asyncio.gather(*(submit() for _ in range(6)))
    assert sum(created for created, _ in results) == 1
    assert len({mandate_id for _, mandate_id in results}) == 1
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Mandate)) == 1
        created_rows = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "mandate.created")
        )
    assert created_rows == 1


def test_the_combined_statement_writes_every_column_of_an_audit_row():
    from app.audit.repository import WRITTEN, audited_params
    from app.audit.service import audit_values

    row = audit_values(tenant_id=None, actor=ACTOR, action="mandate.created")
    assert set(row) == set(WRITTEN)
    assert audited_params(row)["audit_action"] == "mandate.created"
    with pytest.raises(ValueError, match="columns"):
        audited_params({**row, "extra": 1})


async def test_a_submission_is_written_alone_unless_more_goes_with_it(
    database, settings, engine_name
):
    """On PostgreSQL a plain submission's mandate and audit row are one statement
    in autocommit: committed when `submit` returns, with no transaction begun. A
    subscribed endpoint (an outbox row) or an Idempotency-Key (its answer kept)
    puts the writes in one transaction again; so does SQLite, always."""
    from app.issuers.trust import TrustLoader
    from app.mandates.idempotency import IdempotentRequest
    from app.models import IdempotencyKey, WebhookDelivery
    from app.web.sessions import unit_of_work
    from tests.events.conftest import add_webhook
    from tests.mandates.minting import MintingIssuer

    issuer = MintingIssuer()
    trust = TrustLoader(None, database)  # holds the issuer rows it read, as the service does
    async with database.sessions() as session, session.begin():
        tenant = await new_tenant(session, "Alone")
        await issuer.register(session, tenant)

    async def stored(token: str) -> tuple[int, int]:
        digest = token_sha256(token)
        async with database.read_sessions() as session:  # beside the unit of work
            mandates = await session.scalar(
                select(func.count()).select_from(Mandate).where(Mandate.token_sha256 == digest)
            )
            audits = await session.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "mandate.created", AuditLog.tenant_id == tenant)
            )
        return int(mandates or 0), int(audits or 0)

    async def submit(token: str, retry: IdempotentRequest | None = None):
        async with unit_of_work(database) as session:
            service = MandateService(session, tenant, ACTOR, trust, settings)
            answer = await service.submit(MandateCreate(vc_jwt=token), retry)
            return answer, session.in_transaction(), await stored(token)

    def emitted() -> float:
        value = REGISTRY.get_sample_value(
            "mandate_vault_webhook_events_total", {"type": "mandate.created"}
        )
        return value or 0.0

    alone = engine_name == "postgres"
    before = emitted()
    first, in_transaction, _ = await submit(issuer.token())
    assert (first.status, in_transaction) == (201, True)  # it read the issuers, then held them
    token = issuer.token(amount="1.00")
    answer, in_transaction, seen_inside = await submit(token)
    assert answer.status == 201
    assert in_transaction is not alone
    assert seen_inside == ((1, 2) if alone else (0, 1))  # visible before the block ends
    assert await stored(token) == (1, 2)
    again, in_transaction, _ = await submit(token)  # held already: a read, nothing written
    assert (again.status, again.body["id"]) == (200, answer.body["id"])
    assert in_transaction
    assert emitted() == before + 2  # counted, though no endpoint takes them

    async with database.sessions() as session, session.begin():
        hook = await add_webhook(session, tenant, event_types=["mandate.created"])
    token = issuer.token(amount="2.00")
    answer, in_transaction, seen_inside = await submit(token)
    assert (answer.status, in_transaction, seen_inside) == (201, True, (0, 2))
    async with database.sessions() as session:
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
        )
    assert delivery.event_type == "mandate.created"
    assert delivery.payload["data"]["mandate_id"] == answer.body["id"]
    assert emitted() == before + 3

    token = issuer.token(amount="3.00")
    retry = IdempotentRequest.of("key-1", "POST", "/api/v1/mandates", token.encode())
    answer, in_transaction, _ = await submit(token, retry)
    assert (answer.status, in_transaction) == (201, True)
    async with database.sessions() as session:
        kept = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "key-1"))
    assert kept.response_status == 201
    assert await stored(token) == (1, 4)
