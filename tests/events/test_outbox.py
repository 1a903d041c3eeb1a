"""The outbox on both databases: every change writes its event and one delivery per
subscribed, enabled endpoint of its own tenant, in the change's transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from app.events.outbox import emit
from app.issuers.schemas import IssuerUpdate
from app.issuers.service import IssuerService
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService, sweep_expired
from app.models import WebhookDelivery
from app.webhooks import EventError, event_data, parse_event
from app.webhooks.catalogue import encode_payload
from tests.events.conftest import add_webhook
from tests.mandates.conftest import ACTOR, new_tenant
from tests.mandates.minting import MintingIssuer


@pytest.fixture
async def issuer(session, tenant_id):
    issuer = MintingIssuer()
    issuer.row = await issuer.register(session, tenant_id)
    return issuer


async def deliveries(session, webhook_id) -> list[WebhookDelivery]:
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.event_type)
    )
    return list(rows)


async def test_every_lifecycle_change_writes_its_event(session, tenant_id, mandates, issuer, clock):
    everything = await add_webhook(session, tenant_id)
    revocations = await add_webhook(session, tenant_id, event_types=["mandate.revoked"])
    disabled = await add_webhook(session, tenant_id, enabled=False)
    other_tenant = await new_tenant(session, "Other")
    elsewhere = await add_webhook(session, other_tenant)

    outcome = await mandates.ingest(MandateCreate(vc_jwt=issuer.token()))
    mandate = outcome.mandate
    assert mandate is not None
    clock.advance(1)
    await mandates.revoke(mandate.id, "customer asked")
    clock.advance(1)
    await mandates.delete(mandate.id)
    clock.advance(1)
    await mandates.restore(mandate.id)
    clock.advance(1)
    rejected = await mandates.ingest(
        MandateCreate(vc_jwt=issuer.token(key=ec.generate_private_key(ec.SECP256R1())))
    )
    assert rejected.mandate is None

    rows = await deliveries(session, everything.id)
    assert [r.event_type for r in rows] == [
        "mandate.created",
        "mandate.revoked",
        "mandate.deleted",
        "mandate.restored",
        "mandate.verification_failed",
    ]
    for row in rows:
        parsed = parse_event(encode_payload(row.payload))  # every payload is in the catalogue
        assert parsed.type.value == row.event_type
        assert (row.status, row.attempts, row.tenant_id) == ("pending", 0, tenant_id)
        assert "vc_jwt" not in str(row.payload)
    created = parse_event(encode_payload(rows[0].payload)).data
    assert isinstance(created, event_data.MandateCreated)
    assert (created.mandate_id, created.status) == (mandate.id, "active")
    failed = parse_event(encode_payload(rows[-1].payload)).data
    assert isinstance(failed, event_data.MandateVerificationFailed)
    assert failed.token_sha256 == rejected.token_sha256
    assert failed.verification_code != "VALID"

    assert [r.event_type for r in await deliveries(session, revocations.id)] == ["mandate.revoked"]
    assert await deliveries(session, disabled.id) == []
    assert await deliveries(session, elsewhere.id) == []
    # One event, one id: the same event to two endpoints carries the same event id.
    [revoked_all] = [r for r in rows if r.event_type == "mandate.revoked"]
    [revoked_one] = await deliveries(session, revocations.id)
    assert revoked_all.event_id == revoked_one.event_id


async def test_a_change_that_rolls_back_leaves_no_event(database, settings, trust):
    async with database.sessions() as session, session.begin():
        tenant_id = await new_tenant(session)
        webhook = await add_webhook(session, tenant_id)
        issuer = MintingIssuer()
        await issuer.register(session, tenant_id)
        service = MandateService(session, tenant_id, ACTOR, trust, settings)
        mandate = (await service.ingest(MandateCreate(vc_jwt=issuer.token()))).mandate
        assert mandate is not None
    async with database.sessions() as session:
        service = MandateService(session, tenant_id, ACTOR, trust, settings)
        async with session.begin():
            await service.revoke(mandate.id, "changed my mind")
            await session.rollback()
    async with database.sessions() as session:
        types = await session.scalars(
            select(WebhookDelivery.event_type).where(WebhookDelivery.webhook_id == webhook.id)
        )
        assert list(types) == ["mandate.created"]


async def test_the_expiry_sweep_and_issuer_changes_emit(
    session, tenant_id, mandates, issuer, clock
):
    webhook = await add_webhook(session, tenant_id)
    mandate = (await mandates.ingest(MandateCreate(vc_jwt=issuer.token(expires_in=60)))).mandate
    assert mandate is not None
    assert await sweep_expired(session, now=clock.now() + timedelta(minutes=5)) >= 1
    issuers = IssuerService(session, tenant_id, ACTOR, None)
    await issuers.update(issuer.row.id, IssuerUpdate(status="suspended"))
    await issuers.update(issuer.row.id, IssuerUpdate(status="revoked"))
    types = [r.event_type for r in await deliveries(session, webhook.id)]
    assert types.count("mandate.expired") == 1
    assert sorted(t for t in types if t.startswith("issuer.")) == [
        "issuer.revoked",
        "issuer.suspended",
    ]
    [revoked] = [
        r for r in await deliveries(session, webhook.id) if r.event_type == "issuer.revoked"
    ]
    assert revoked.payload["data"]["previous_status"] == "suspended"


async def test_emit_refuses_data_of_another_type_and_writes_nothing(session, tenant_id, clock):
    webhook = await add_webhook(session, tenant_id)
    with pytest.raises(EventError):
        await emit(
            session,
            tenant_id=tenant_id,
            event_type="mandate.revoked",
            data=event_data.WebhookTest(webhook_id=webhook.id),
            now=clock.now(),
        )
    targeted = await emit(
        session,
        tenant_id=tenant_id,
        event_type="webhook.test",
        data=event_data.WebhookTest(webhook_id=webhook.id),
        now=clock.now(),
        only_webhook_id=webhook.id,
    )
    assert targeted.webhook_ids == (webhook.id,)
    # webhook.test is never broadcast to subscribers of every type.
    broadcast = await emit(
        session,
        tenant_id=tenant_id,
        event_type="webhook.test",
        data=event_data.WebhookTest(webhook_id=uuid.uuid4()),
        now=clock.now(),
    )
    assert broadcast.deliveries == 0
    count = await session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert count == 1
