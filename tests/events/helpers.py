"""Shared pieces of the webhook delivery tests: settings, endpoints, events, workers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.core.actor import Actor
from app.core.config import Settings
from app.core.database import Database
from app.events.outbox import emit
from app.events.schemas import WebhookCreate
from app.events.service import WebhookService
from app.models import Tenant, Webhook, WebhookDelivery
from app.webhooks import event_data
from app.webhooks.catalogue import EventType
from tests.clock import ManualClock
from tests.conftest import make_settings

ACTOR = Actor("api_key", "webhook-tests")


def hook_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "webhook_allow_private_networks": True,
        "webhook_allow_http": True,
        "webhook_retry_jitter": 0.0,
        "webhook_timeout": 2.0,
        "webhook_connect_timeout": 1.0,
        "webhook_dns_timeout": 1.0,
        "webhook_lease_seconds": 10.0,
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@dataclass
class Endpoint:
    tenant_id: uuid.UUID
    webhook_id: uuid.UUID
    secret: str


async def new_tenant(database: Database, name: str = "Hooks") -> uuid.UUID:
    async with database.sessions.begin() as session:
        tenant = Tenant(name=name, slug=f"{name.lower()}-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        return tenant.id


async def add_endpoint(
    database: Database,
    settings: Settings,
    url: str,
    *,
    tenant_id: uuid.UUID | None = None,
    event_types: Sequence[str] = (),
    clock: ManualClock | None = None,
) -> Endpoint:
    tenant = tenant_id or await new_tenant(database)
    async with database.sessions.begin() as session:
        service = WebhookService(session, tenant, ACTOR, settings, clock or ManualClock())
        row, secret = await service.create(WebhookCreate(url=url, event_types=list(event_types)))
    return Endpoint(tenant, row.id, secret)


async def emit_revoked(
    database: Database, tenant_id: uuid.UUID, count: int, *, now: datetime
) -> list[uuid.UUID]:
    """`count` mandate.revoked events in one transaction; their event ids."""
    ids = []
    async with database.sessions.begin() as session:
        for index in range(count):
            emitted = await emit(
                session,
                tenant_id=tenant_id,
                event_type=EventType.MANDATE_REVOKED,
                data=event_data.MandateRevoked(
                    mandate_id=uuid.uuid4(),
                    reason=f"test {index}",
                    revoked_at=now,
                ),
                now=now,
            )
            ids.append(emitted.event.id)
    return ids


async def deliveries(database: Database, webhook_id: uuid.UUID) -> list[WebhookDelivery]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        )
        return list(rows)


async def webhook(database: Database, webhook_id: uuid.UUID) -> Webhook:
    async with database.sessions() as session:
        row = await session.get(Webhook, webhook_id)
        assert row is not None
        return row
