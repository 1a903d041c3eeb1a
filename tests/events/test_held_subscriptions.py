"""The outbox reuses each tenant's endpoint list for a short time: an endpoint
added through this process gets events from its commit on; one added where this
process cannot see it (another server process, a bare statement) within
SUBSCRIPTIONS_SECONDS."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import insert

from app.events import outbox
from app.events.outbox import emit
from app.models import Webhook
from app.models.base import table_of
from app.webhooks import event_data
from tests.clock import ManualClock
from tests.events.conftest import SEALED, add_webhook
from tests.mandates.conftest import new_tenant


async def _emit(database, tenant_id, clock) -> tuple[uuid.UUID, ...]:
    async with database.sessions.begin() as session:
        emitted = await emit(
            session,
            tenant_id=tenant_id,
            event_type="mandate.revoked",
            data=event_data.MandateRevoked(mandate_id=uuid.uuid4(), revoked_at=clock.now()),
            now=clock.now(),
        )
    return emitted.webhook_ids


async def test_endpoints_are_seen_at_commit_here_and_within_the_bound_otherwise(
    database, monkeypatch
):
    monkeypatch.setattr(outbox._SUBSCRIPTIONS, "seconds", 0.5)
    clock = ManualClock()
    async with database.sessions.begin() as session:
        tenant_id = await new_tenant(session)
    assert await _emit(database, tenant_id, clock) == ()  # the empty list is now held

    async with database.sessions.begin() as session:
        first = await add_webhook(session, tenant_id)
    assert await _emit(database, tenant_id, clock) == (first.id,)

    second = uuid.uuid4()
    async with database.sessions.begin() as session:  # a Core insert that notes nothing
        await session.execute(
            insert(table_of(Webhook)).values(
                id=second,
                tenant_id=tenant_id,
                url="https://b.example/in",
                secret=SEALED,
                event_types=[],
                is_active=True,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    assert await _emit(database, tenant_id, clock) == (first.id,)
    await asyncio.sleep(0.6)
    assert set(await _emit(database, tenant_id, clock)) == {first.id, second}
