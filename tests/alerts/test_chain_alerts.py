"""A scheduled verification that finds a tenant's audit chain tampered with
raises one critical alert for that tenant (and `alert.raised` with it)."""

from __future__ import annotations

from sqlalchemy import select, update

from app.alerts.chain_alerts import raise_chain_alert, register
from app.audit.vault_keys import load_keyring
from app.audit.worker import VERIFICATION_FAILED_HOOKS, report_failures, seal_all, verify_all
from app.models import AuditLog, Webhook, WebhookDelivery
from tests.alerts.conftest import alerts_of
from tests.dashboard.conftest import mint_mandates


async def test_a_tampered_chain_raises_one_critical_alert(database, settings, world, clock):
    _, ids = await mint_mandates(database, settings, world.tenant_a, 3)
    async with database.sessions.begin() as session:
        listener = Webhook(url="https://hooks.example/in", secret="x", event_types=["alert.raised"])
        listener.tenant_id = world.tenant_a
        session.add(listener)
    await seal_all(database)
    async with database.sessions.begin() as session:  # behind the vault's back
        await session.execute(
            update(AuditLog)
            .where(AuditLog.resource_id == str(ids[1]), AuditLog.action == "mandate.created")
            .values(outcome="EDITED")
        )
    keyring = await load_keyring(database, settings)
    register()
    register()  # once, however often
    assert VERIFICATION_FAILED_HOOKS.count(raise_chain_alert) == 1
    reports = await verify_all(database, keyring, settings, clock)
    assert await report_failures(database, reports) == 1
    (alert,) = await alerts_of(database, "audit_chain_broken")
    assert (alert.tenant_id, alert.severity) == (world.tenant_a, "critical")
    assert alert.details["status"] == "broken"
    assert alert.title.startswith("Audit chain broken at seq ")

    await report_failures(database, reports)  # the next scheduled run: still the one alert
    assert len(await alerts_of(database, "audit_chain_broken")) == 1
    async with database.sessions() as session:
        sent = list(
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.webhook_id == listener.id)
            )
        )
    assert [d.payload["data"]["alert_type"] for d in sent] == ["audit_chain_broken"]
