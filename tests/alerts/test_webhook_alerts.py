"""Webhook endpoints in trouble raise alerts, and every tenant alert is sent as
an `alert.raised` event to the tenant's endpoints in the sweep's transaction."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from app.alerts.jobs import sweep_all
from app.alerts.publish import publish_raised
from app.models import Webhook, WebhookDelivery
from tests.alerts.conftest import alerts_of, write_backup
from tests.factories import new_customer


async def add_webhook(database, tenant_id, **values) -> Webhook:
    async with database.sessions() as session, session.begin():
        webhook = Webhook(
            url=values.pop("url", "https://hooks.example/in"),
            secret="sealed-elsewhere",
            event_types=values.pop("event_types", []),
            **values,
        )
        webhook.tenant_id = tenant_id
        session.add(webhook)
    return webhook


async def test_failing_and_disabled_endpoints_are_alerted_and_sent_as_events(
    database, settings, clock
):
    write_backup(Path(settings.backup_dir), clock.now())
    async with database.sessions() as session, session.begin():
        tenant = new_customer()
        session.add(tenant)
    now = clock.now()
    failing = await add_webhook(
        database,
        tenant.id,
        url="https://failing.example/hook",
        failing_since=now - timedelta(minutes=75),
        consecutive_failures=9,
        last_status_code=500,
    )
    await add_webhook(database, tenant.id, failing_since=now - timedelta(minutes=5))  # not yet
    gone = await add_webhook(
        database,
        tenant.id,
        url="https://gone.example/hook",
        is_active=False,
        disabled_reason="gone",
        disabled_at=now,
    )
    await add_webhook(database, tenant.id, is_active=False, disabled_reason="manual")
    listener = await add_webhook(
        database, tenant.id, url="https://listener.example/hook", event_types=["alert.raised"]
    )

    report = await sweep_all(database, settings, publish_raised, clock)
    assert report.raised == {"webhook_failing": 1, "webhook_disabled": 1}
    by_type = {a.alert_type: a for a in await alerts_of(database)}
    assert by_type["webhook_failing"].details["webhook_id"] == str(failing.id)
    assert by_type["webhook_disabled"].severity == "critical"
    assert by_type["webhook_disabled"].details["reason"] == "gone"

    async with database.sessions() as session:
        deliveries = list(
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.event_type == "alert.raised")
            )
        )
    sent = {(d.webhook_id, d.payload["data"]["alert_type"]) for d in deliveries}
    # The listener gets both; every enabled endpoint subscribed to all types does too.
    assert (listener.id, "webhook_failing") in sent
    assert (listener.id, "webhook_disabled") in sent
    assert all(d.webhook_id != gone.id for d in deliveries)  # disabled: sent nothing
    payload = next(d.payload for d in deliveries if d.webhook_id == listener.id)
    assert payload["type"] == "alert.raised"
    assert "sealed" not in json.dumps(payload)

    # A success clears the failing alert; re-enabling clears the disabled one.
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(Webhook).where(Webhook.id == failing.id).values(failing_since=None)
        )
        await session.execute(
            update(Webhook)
            .where(Webhook.id == gone.id)
            .values(is_active=True, disabled_reason=None, disabled_at=None)
        )
    clock.advance(60)
    report = await sweep_all(database, settings, publish_raised, clock)
    assert report.resolved == {"webhook_failing": 1, "webhook_disabled": 1}


async def test_a_mandate_entering_its_expiry_horizon_is_sent_as_mandate_expiring(
    database, settings, clock
):
    from sqlalchemy import insert

    from app.models import Mandate
    from tests.factories import mandate_row

    write_backup(Path(settings.backup_dir), clock.now())
    async with database.sessions() as session, session.begin():
        tenant = new_customer()
        session.add(tenant)
    listener = await add_webhook(database, tenant.id, event_types=["mandate.expiring"])
    row = mandate_row(tenant.id, expires_at=clock.now() + timedelta(days=2), mandate_type="cart")
    async with database.sessions() as session, session.begin():
        await session.execute(insert(Mandate), [row])
    await sweep_all(database, settings, publish_raised, clock)
    await sweep_all(database, settings, publish_raised, clock)  # once, not every sweep
    async with database.sessions() as session:
        (delivery,) = (
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.webhook_id == listener.id)
            )
        ).all()
    assert delivery.event_type == "mandate.expiring"
    data = delivery.payload["data"]
    assert (data["mandate_id"], data["mandate_type"]) == (str(row["id"]), "cart")
