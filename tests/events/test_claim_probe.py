"""The worker's idle poll, on both databases: `any_claimable` answers yes exactly
when a claim at the same moment would take a delivery, so a round that skips the
claim transaction never leaves one waiting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.core.database import Database
from app.events.repository import DeliveryQueue
from app.events.worker import DeliveryWorker
from app.models import Webhook, WebhookDelivery
from app.models.webhook import DeliveryStatus
from tests.clock import ManualClock
from tests.events.helpers import add_endpoint, deliveries, emit_revoked, hook_settings

PENDING = DeliveryStatus.PENDING.value
DELIVERING = DeliveryStatus.DELIVERING.value
SUCCEEDED = DeliveryStatus.SUCCEEDED.value
SECOND = timedelta(seconds=1)


@pytest.fixture
def settings(database_url):
    return hook_settings(database_url)


async def probe(database: Database, now) -> bool:
    async with database.fresh_reads() as session:
        return await DeliveryQueue(session).any_claimable(now)


async def claimable(database: Database, now) -> int:
    """How many deliveries a claim at `now` takes, rolled back so nothing changes."""
    async with database.sessions() as session:
        transaction = await session.begin()
        claimed = await DeliveryQueue(session).claim("probe-test", now, now + 30 * SECOND, 100)
        await transaction.rollback()
    return len(claimed)


async def test_the_probe_agrees_with_the_claim_in_every_state(database, settings):
    clock = ManualClock()
    now = clock.now()
    endpoint = await add_endpoint(database, settings, "http://127.0.0.1:9/in", clock=clock)
    assert not await probe(database, now)
    assert await claimable(database, now) == 0
    await emit_revoked(database, endpoint.tenant_id, 1, now=now)
    (row,) = await deliveries(database, endpoint.webhook_id)

    states: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
        ("pending and due", {"status": PENDING, "next_attempt_at": now - SECOND}, {}, True),
        ("due this instant", {"status": PENDING, "next_attempt_at": now}, {}, True),
        ("pending, due later", {"status": PENDING, "next_attempt_at": now + SECOND}, {}, False),
        (
            "endpoint disabled",
            {"status": PENDING, "next_attempt_at": now - SECOND},
            {"is_active": False},
            False,
        ),
        (
            "payload purged",
            {"status": PENDING, "next_attempt_at": now - SECOND, "payload_purged_at": now},
            {},
            False,
        ),
        (
            "claimed, lease ran out",
            {"status": DELIVERING, "locked_by": "gone", "locked_until": now - SECOND},
            {},
            True,
        ),
        (
            "claimed, lease held",
            {"status": DELIVERING, "locked_by": "alive", "locked_until": now + SECOND},
            {},
            False,
        ),
        ("delivered", {"status": SUCCEEDED, "next_attempt_at": now - SECOND}, {}, False),
    ]
    for name, delivery, hook, expected in states:
        async with database.sessions.begin() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id)
                .values(
                    {"payload_purged_at": None, "locked_by": None, "locked_until": None} | delivery
                )
            )
            await session.execute(
                update(Webhook)
                .where(Webhook.id == endpoint.webhook_id)
                .values(is_active=hook.get("is_active", True))
            )
        assert await probe(database, now) is expected, name
        assert await claimable(database, now) == int(expected), name


async def test_an_idle_round_claims_nothing_and_a_due_one_is_sent_by_the_next(database, settings):
    clock = ManualClock()
    endpoint = await add_endpoint(database, settings, "http://127.0.0.1:9/in", clock=clock)
    worker = DeliveryWorker(database, settings, clock=clock, worker_id="probe-worker")
    try:
        assert await worker.claim() == ("", [])
        await emit_revoked(database, endpoint.tenant_id, 2, now=clock.now())
        token, claimed = await worker.claim()
        assert token.startswith("probe-worker:")
        assert len(claimed) == 2
        rows = await deliveries(database, endpoint.webhook_id)
        assert {(r.status, r.locked_by) for r in rows} == {(DELIVERING, token)}
    finally:
        await worker.aclose()
