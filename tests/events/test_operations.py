"""Operations on both databases: the worker inside the server delivers a mandate's
events end to end, metrics count them, retention purges old payloads."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook as Verifier

from app.core.clock import SYSTEM_CLOCK
from app.core.database import Database
from app.dbops.retention import render_report, run_retention
from app.main import create_app
from tests.events.helpers import add_endpoint, deliveries, emit_revoked, hook_settings
from tests.mandates.minting import MintingIssuer
from tests.webhooks.receiver import Receiver
from tests.world import build_world


def samples(text: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


async def test_the_server_delivers_a_mandates_events_and_counts_them(database_url):
    settings = hook_settings(
        database_url, webhook_worker_in_server=True, webhook_worker_poll_seconds=0.05
    )
    database = Database(settings)
    try:
        world = await build_world(database, settings)
        headers = world.a["customer_admin"].key()
        app = create_app(settings)
        with Receiver() as receiver:
            async with app.router.lifespan_context(app):
                client = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://testserver"
                )
                async with client:
                    created = await client.post(
                        "/api/v1/webhooks",
                        json={
                            "url": receiver.url(),
                            "event_types": ["mandate.created", "mandate.revoked"],
                        },
                        headers=headers,
                    )
                    assert created.status_code == 201, created.text
                    secret = created.json()["secret"]
                    issuer = MintingIssuer()
                    await client.post(
                        "/api/v1/issuers",
                        json={"did": issuer.did, "jwks": issuer.jwks()},
                        headers=headers,
                    )
                    stored = await client.post(
                        "/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=headers
                    )
                    assert stored.status_code == 201, stored.text
                    mandate_id = stored.json()["id"]
                    revoked = await client.post(
                        f"/api/v1/mandates/{mandate_id}/revoke",
                        json={"reason": "customer asked"},
                        headers=headers,
                    )
                    assert revoked.status_code == 200, revoked.text
                    deadline = time.monotonic() + 20
                    while len(receiver.requests) < 2 and time.monotonic() < deadline:
                        await asyncio.sleep(0.05)
                    types = sorted(
                        Verifier(secret).verify(r.body, r.headers)["type"]
                        for r in receiver.requests
                    )
                    assert types == ["mandate.created", "mandate.revoked"]
                    for request in receiver.requests:
                        data = Verifier(secret).verify(request.body, request.headers)["data"]
                        assert data["mandate_id"] == mandate_id
                    # The receiver answers before the worker records the outcome.
                    statuses: set[str] = set()
                    while time.monotonic() < deadline:
                        log = await client.get(
                            f"/api/v1/webhooks/{created.json()['id']}/deliveries", headers=headers
                        )
                        statuses = {d["status"] for d in log.json()["items"]}
                        if statuses == {"succeeded"}:
                            break
                        await asyncio.sleep(0.05)
                    assert statuses == {"succeeded"}
                    scraped = samples((await client.get("/metrics")).text)
                    assert scraped["mandate_vault_webhook_attempts_total{outcome=success}"] >= 2
                    assert scraped["mandate_vault_webhook_deliveries_total{verdict=delivered}"] >= 2
                    assert scraped["mandate_vault_webhook_attempt_seconds_count{}"] >= 2
                    assert scraped["mandate_vault_webhook_queue_depth{}"] == 0
                    assert scraped["mandate_vault_webhook_oldest_pending_seconds{}"] == 0
                    assert scraped["mandate_vault_webhook_events_total{type=mandate.revoked}"] >= 1
    finally:
        await database.dispose()


async def test_a_commit_in_the_server_wakes_its_worker(database_url):
    """With a poll far longer than the test, only the commit's wake-up can deliver."""
    settings = hook_settings(
        database_url, webhook_worker_in_server=True, webhook_worker_poll_seconds=60
    )
    database = Database(settings)
    try:
        world = await build_world(database, settings)
        headers = world.a["customer_admin"].key()
        app = create_app(settings)
        with Receiver() as receiver:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    await asyncio.sleep(0.3)  # the worker's first round found nothing
                    created = await client.post(
                        "/api/v1/webhooks", json={"url": receiver.url()}, headers=headers
                    )
                    webhook_id = created.json()["id"]
                    started = time.monotonic()
                    sent = await client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=headers)
                    assert sent.status_code == 202
                    while not receiver.requests and time.monotonic() - started < 10:
                        await asyncio.sleep(0.01)
                    assert receiver.requests, "the commit did not wake the worker"
                    assert time.monotonic() - started < 5
                    assert receiver.requests[0].headers["webhook-id"] == sent.json()["message_id"]
    finally:
        await database.dispose()


async def test_queue_gauges_count_what_waits(database_url):
    settings = hook_settings(database_url)
    database = Database(settings)
    try:
        endpoint = await add_endpoint(database, settings, "http://127.0.0.1:9/in")
        await emit_revoked(
            database, endpoint.tenant_id, 3, now=SYSTEM_CLOCK.now() - timedelta(seconds=90)
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                scraped = samples((await client.get("/metrics")).text)
        assert scraped["mandate_vault_webhook_queue_depth{}"] == 3
        assert scraped["mandate_vault_webhook_oldest_pending_seconds{}"] >= 90
    finally:
        await database.dispose()


async def test_retention_purges_delivered_payloads_after_the_window(database_url):
    settings = hook_settings(database_url, webhook_payload_retention_days=30)
    database = Database(settings)
    try:
        endpoint = await add_endpoint(database, settings, "http://127.0.0.1:9/in")
        now = SYSTEM_CLOCK.now()
        await emit_revoked(database, endpoint.tenant_id, 3, now=now)
        rows = await deliveries(database, endpoint.webhook_id)
        async with database.sessions.begin() as session:
            from app.models import WebhookDelivery

            for index, row in enumerate(rows):
                stored = await session.get(WebhookDelivery, row.id)
                assert stored is not None
                if index < 2:  # two delivered 31 days ago, one still pending
                    stored.status, stored.delivered_at = "succeeded", now - timedelta(days=31)
        dry = await run_retention(database, dry_run=True, now=now)
        assert dry["webhook_payloads"]["eligible"] == 2
        report = await run_retention(database, now=now)
        assert report["webhook_payloads"]["purged"] == 2
        assert "2 delivered payloads" in render_report(report)
        after = {r.id: r for r in await deliveries(database, endpoint.webhook_id)}
        purged = [r for r in after.values() if r.payload_purged_at is not None]
        assert len(purged) == 2
        assert all(r.payload == {} for r in purged)
        [kept] = [r for r in after.values() if r.payload_purged_at is None]
        assert kept.payload["type"] == "mandate.revoked"
        again = await run_retention(database, now=now)
        assert again["webhook_payloads"]["purged"] == 0
        assert uuid.UUID(str(kept.id))
    finally:
        await database.dispose()
