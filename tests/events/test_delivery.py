"""The delivery worker against a real receiver, on both databases: signatures that
the standardwebhooks library verifies, status semantics, retries with one
webhook-id, disabling, rotation, SSRF at send time, a six-hour outage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from app.core.database import Database
from app.events.schemas import WebhookCreate, WebhookUpdate
from app.events.service import WebhookService
from app.events.worker import DeliveryWorker
from app.webhooks.urls import UrlPolicy
from tests.clock import ManualClock
from tests.conftest import free_port
from tests.events.helpers import (
    ACTOR,
    add_endpoint,
    deliveries,
    emit_revoked,
    hook_settings,
    new_tenant,
    webhook,
)
from tests.webhooks.receiver import Receiver, Reply


@pytest.fixture
def settings(database_url):
    return hook_settings(database_url, webhook_retry_schedule="0,5,300")


@pytest.fixture
async def database(settings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def worker(database, settings, clock) -> AsyncIterator[DeliveryWorker]:
    delivery = DeliveryWorker(database, settings, clock=clock, worker_id="test-worker")
    try:
        yield delivery
    finally:
        await delivery.aclose()


def verified(secret: str, request) -> dict:
    return Verifier(secret).verify(request.body, request.headers)


async def test_messages_verify_with_the_standard_library(
    database, settings, receiver, worker, clock
):
    endpoint = await add_endpoint(database, settings, receiver.url("/in"))
    events = await emit_revoked(database, endpoint.tenant_id, 5, now=clock.now())
    assert await worker.run_once() == 5
    assert await worker.run_once() == 0
    requests = receiver.requests
    assert len(requests) == 5
    ids = set()
    for request in requests:
        payload = verified(endpoint.secret, request)
        assert payload["type"] == "mandate.revoked"
        assert request.headers["content-type"] == "application/json"
        ids.add(request.headers["webhook-id"])
    assert ids == {f"msg_{event.hex}" for event in events}
    with pytest.raises(WebhookVerificationError):
        Verifier("whsec_" + "QUJD" * 8).verify(requests[0].body, requests[0].headers)
    rows = await deliveries(database, endpoint.webhook_id)
    assert {(r.status, r.attempts, r.response_status, r.last_outcome) for r in rows} == {
        ("succeeded", 1, 204, "success")
    }
    assert all(r.delivered_at is not None and r.latency_ms is not None for r in rows)
    health = await webhook(database, endpoint.webhook_id)
    assert health.last_success_at is not None
    assert health.failing_since is None


async def test_a_rotation_signs_with_both_secrets_then_only_the_new(
    database, settings, receiver, worker, clock
):
    endpoint = await add_endpoint(database, settings, receiver.url())
    async with database.sessions.begin() as session:
        service = WebhookService(session, endpoint.tenant_id, ACTOR, settings, clock)
        new_secret, ends = await service.rotate_secret(endpoint.webhook_id, None)
    assert ends == clock.now() + timedelta(hours=24)
    await emit_revoked(database, endpoint.tenant_id, 1, now=clock.now())
    await worker.run_once()
    [during] = receiver.requests
    assert len(during.headers["webhook-signature"].split()) == 2
    verified(endpoint.secret, during)  # receivers not yet switched
    verified(new_secret, during)  # receivers already switched
    receiver.clear()
    clock.advance(24 * 3600 + 1)
    await emit_revoked(database, endpoint.tenant_id, 1, now=clock.now())
    await worker.run_once()
    [after] = receiver.requests
    verified(new_secret, after)
    with pytest.raises(WebhookVerificationError):
        verified(endpoint.secret, after)


async def test_a_retry_carries_the_same_webhook_id(database, settings, receiver, worker, clock):
    endpoint = await add_endpoint(database, settings, receiver.url())
    receiver.script(Reply(500, body=b"oops"))
    [event] = await emit_revoked(database, endpoint.tenant_id, 1, now=clock.now())
    await worker.run_once()
    [row] = await deliveries(database, endpoint.webhook_id)
    assert (row.status, row.attempts, row.response_status) == ("pending", 1, 500)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert row.response_excerpt == "oops"
    failing = await webhook(database, endpoint.webhook_id)
    assert failing.failing_since == clock.now()
    assert failing.consecutive_failures == 1
    assert await worker.run_once() == 0  # not due yet
    clock.advance(5)
    assert await worker.run_once() == 1
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"msg_{event.hex}"
    assert first.headers["webhook-timestamp"] <= second.headers["webhook-timestamp"]
    [row] = await deliveries(database, endpoint.webhook_id)
    assert (row.status, row.attempts) == ("succeeded", 2)
    healed = await webhook(database, endpoint.webhook_id)
    assert healed.failing_since is None
    assert healed.consecutive_failures == 0


async def test_retry_after_is_honoured_on_429_and_503(database, settings, receiver, worker, clock):
    endpoint = await add_endpoint(database, settings, receiver.url())
    receiver.script(Reply(429, headers={"retry-after": "120"}), Reply(503))
    await emit_revoked(database, endpoint.tenant_id, 2, now=clock.now())
    await worker.run_once()
    rows = await deliveries(database, endpoint.webhook_id)
    waits = sorted((r.next_attempt_at - clock.now()).total_seconds() for r in rows)
    assert waits == [5.0, 120.0]  # 503 without Retry-After: the schedule
    assert {r.last_outcome for r in rows} == {"throttled"}


async def test_410_disables_the_endpoint_and_tells_the_others(
    database, settings, receiver, worker, clock
):
    with Receiver() as leaving:
        leaving.default = Reply(410)
        gone = await add_endpoint(database, settings, leaving.url())
        other = await add_endpoint(database, settings, receiver.url(), tenant_id=gone.tenant_id)
        await emit_revoked(database, gone.tenant_id, 1, now=clock.now())
        await worker.run_once()
        disabled = await webhook(database, gone.webhook_id)
        assert (disabled.is_active, disabled.disabled_reason) == (False, "gone")
        assert disabled.disabled_at == clock.now()
        assert disabled.last_status_code == 410
        [kept] = await deliveries(database, gone.webhook_id)
        assert kept.status == "pending"  # kept for when it is enabled again
        told = [
            r
            for r in await deliveries(database, other.webhook_id)
            if r.event_type == "webhook.disabled"
        ]
        assert len(told) == 1
        data = told[0].payload["data"]
        assert (data["reason"], data["webhook_id"]) == ("gone", str(gone.webhook_id))
        assert data["last_status_code"] == 410
        # Nothing more goes to a disabled endpoint; the others hear of it.
        assert await worker.run_once() == 1
        assert len(leaving.requests) == 1
        assert [r.headers["webhook-id"] for r in receiver.requests][-1] == (
            f"msg_{told[0].event_id.hex}"
        )
        # Enabled again, it gets what waited for it.
        leaving.default = Reply(204)
        async with database.sessions.begin() as session:
            service = WebhookService(session, gone.tenant_id, ACTOR, settings, clock)
            await service.update(gone.webhook_id, WebhookUpdate(enabled=True))
        assert await worker.run_once() == 1
        [kept] = await deliveries(database, gone.webhook_id)
        assert kept.status == "succeeded"
        assert len(leaving.requests) == 2


async def test_an_endpoint_failing_for_days_is_disabled(database_url, receiver, clock):
    settings = hook_settings(
        database_url, webhook_retry_schedule="0,60,60,60,60,60", webhook_disable_after_days=1
    )
    db = Database(settings)
    worker = DeliveryWorker(db, settings, clock=clock)
    try:
        endpoint = await add_endpoint(db, settings, receiver.url())
        receiver.default = Reply(500)
        for _ in range(30):
            await emit_revoked(db, endpoint.tenant_id, 1, now=clock.now())
            await worker.run_once()
            clock.advance(3600)
            if not (await webhook(db, endpoint.webhook_id)).is_active:
                break
        row = await webhook(db, endpoint.webhook_id)
        assert (row.is_active, row.disabled_reason) == (False, "failing")
        assert row.disabled_at - row.failing_since >= timedelta(days=1)
        assert row.last_status_code == 500
    finally:
        await worker.aclose()
        await db.dispose()


async def test_status_semantics(database_url, clock):
    settings = hook_settings(database_url, webhook_retry_schedule="0,5", webhook_timeout=1.0)
    db = Database(settings)
    worker = DeliveryWorker(db, settings, clock=clock)
    cases = {
        "ok": Reply(200, body=b"thanks"),
        "accepted": Reply(202),
        "server-error": Reply(500),
        "redirect": Reply(302, headers={"location": "http://169.254.169.254/"}),
        "slow": Reply(204, delay=3.0),
        "huge": Reply(200, body_size=10 * 1024 * 1024),
        "gone": Reply(410),
    }
    receivers = {name: Receiver().start() for name in cases}
    try:
        endpoints = {}
        for name, reply in cases.items():
            receivers[name].default = reply
            endpoints[name] = await add_endpoint(db, settings, receivers[name].url())
        endpoints["refused"] = await add_endpoint(
            db, settings, f"http://127.0.0.1:{free_port()}/in"
        )
        for endpoint in endpoints.values():
            await emit_revoked(db, endpoint.tenant_id, 1, now=clock.now())
        assert await worker.run_once() == len(endpoints)
        outcome = {}
        for name, endpoint in endpoints.items():
            [row] = await deliveries(db, endpoint.webhook_id)
            outcome[name] = (row.status, row.last_outcome, row.response_status)
        assert outcome == {
            "ok": ("succeeded", "success", 200),
            "accepted": ("succeeded", "success", 202),
            "server-error": ("pending", "http_error", 500),
            "redirect": ("pending", "redirect", 302),
            "slow": ("pending", "timeout", None),
            "huge": ("succeeded", "success", 200),
            "gone": ("pending", "gone", 410),
            "refused": ("pending", "connect_failed", None),
        }
        [huge] = await deliveries(db, endpoints["huge"].webhook_id)
        assert huge.response_excerpt is not None
        assert len(huge.response_excerpt) == settings.webhook_response_excerpt_bytes
        assert huge.latency_ms is not None
        [redirect] = await deliveries(db, endpoints["redirect"].webhook_id)
        assert "not followed" in (redirect.last_error or "")
        assert not (await webhook(db, endpoints["gone"].webhook_id)).is_active
        assert (await webhook(db, endpoints["server-error"].webhook_id)).is_active
        for name, running in receivers.items():
            assert len(running.requests) == 1, name
    finally:
        for running in receivers.values():
            running.stop()
        await worker.aclose()
        await db.dispose()


async def test_after_the_last_attempt_it_is_kept_as_failed_and_can_be_recovered(
    database, settings, receiver, worker, clock
):
    endpoint = await add_endpoint(database, settings, receiver.url())
    receiver.default = Reply(500)
    since = clock.now()
    await emit_revoked(database, endpoint.tenant_id, 2, now=clock.now())
    for wait in (0, 5, 300):
        clock.advance(wait)
        assert await worker.run_once() == 2
    rows = await deliveries(database, endpoint.webhook_id)
    assert {(r.status, r.attempts) for r in rows} == {("failed", 3)}
    assert await worker.run_once() == 0
    receiver.default = Reply(204)
    async with database.sessions.begin() as session:
        service = WebhookService(session, endpoint.tenant_id, ACTOR, settings, clock)
        assert await service.recover(endpoint.webhook_id, since) == 2
    assert await worker.run_once() == 2
    rows = await deliveries(database, endpoint.webhook_id)
    assert {r.status for r in rows} == {"succeeded"}
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(set(ids)) == 2  # every retry and the recovery kept each message's id
    assert len(ids) == 8


class MapResolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int) -> list[str]:
        return self.answers[host]


async def test_destinations_are_checked_again_at_send_time(database, settings, receiver, clock):
    endpoint = await add_endpoint(database, settings, receiver.url())
    strict = DeliveryWorker(
        database,
        settings,
        clock=clock,
        policy=UrlPolicy(allow_http=True, allow_private_networks=False),
    )
    try:
        await emit_revoked(database, endpoint.tenant_id, 1, now=clock.now())
        assert await strict.run_once() == 1
    finally:
        await strict.aclose()
    assert receiver.requests == []
    [row] = await deliveries(database, endpoint.webhook_id)
    assert (row.status, row.last_outcome) == ("pending", "blocked")
    assert "address_not_allowed" in (row.last_error or "")


async def test_a_name_that_now_resolves_to_a_private_address_is_refused(
    database, settings, receiver, clock
):
    strict = settings.model_copy(update={"webhook_allow_private_networks": False})
    tenant_id = await new_tenant(database, "Rebind")
    # Registered while the name pointed at a public address...
    async with database.sessions.begin() as session:
        public = MapResolver({"hooks.example.test": ["93.184.216.34"]})
        service = WebhookService(session, tenant_id, ACTOR, strict, clock, public)
        row, _ = await service.create(
            WebhookCreate(url=f"http://hooks.example.test:{receiver.port}/in")
        )
    # ...then re-pointed at 10.0.0.1, then at loopback: the worker never connects.
    for answer in ("10.0.0.1", "127.0.0.1"):
        worker = DeliveryWorker(
            database, strict, clock=clock, resolver=MapResolver({"hooks.example.test": [answer]})
        )
        try:
            await emit_revoked(database, tenant_id, 1, now=clock.now())
            assert await worker.run_once() >= 1
        finally:
            await worker.aclose()
        clock.advance(3600)
    assert receiver.requests == []
    rows = await deliveries(database, row.id)
    assert {r.last_outcome for r in rows} == {"blocked"}
    assert all("resolves to" in (r.last_error or "") for r in rows)


async def test_six_hours_of_receiver_outage(database_url, receiver, clock):
    """The standard schedule over a simulated 6-hour outage: all delivered, one id each."""
    settings = hook_settings(database_url, webhook_retry_jitter=0.1)
    db = Database(settings)
    worker = DeliveryWorker(db, settings, clock=clock)
    try:
        endpoint = await add_endpoint(db, settings, receiver.url())
        start = clock.now()
        receiver.default = Reply(503)
        events = []
        for _ in range(10):  # events keep arriving during the outage
            events += await emit_revoked(db, endpoint.tenant_id, 3, now=clock.now())
            await worker.run_once()
            clock.advance(600)
        for _ in range(100):
            if clock.now() - start >= timedelta(hours=6):
                receiver.default = Reply(204)
            rows = await deliveries(db, endpoint.webhook_id)
            waiting = [r for r in rows if r.status != "succeeded"]
            if not waiting:
                break
            assert all(r.status == "pending" for r in waiting), {r.status for r in waiting}
            due = min(r.next_attempt_at for r in waiting)
            if due > clock.now():
                clock.advance((due - clock.now()).total_seconds())
            await worker.run_once()
        rows = await deliveries(db, endpoint.webhook_id)
        assert {r.status for r in rows} == {"succeeded"}
        assert len(rows) == len(events) == 30
        delivered = [r for r in receiver.requests if r.received_at]
        ids_by_event = {f"msg_{e.hex}" for e in events}
        assert {r.headers["webhook-id"] for r in delivered} == ids_by_event
        assert (await webhook(db, endpoint.webhook_id)).is_active
        assert clock.now() - start >= timedelta(hours=6)
    finally:
        await worker.aclose()
        await db.dispose()
