"""The delivery worker: claim due deliveries, send them with the pure core, record them.

One round (`run_once`): claim up to WEBHOOK_WORKER_BATCH due deliveries of
enabled endpoints under a lease (a short transaction; FOR UPDATE SKIP LOCKED on
PostgreSQL so several workers share the queue), send them concurrently with
`attempt_delivery` (URL checked and resolved again, signed at this second with
the endpoint's live secrets, bounded in time and size), then write every result
in one transaction, fenced by the claim: a worker that lost its claim (its lease
ran out) writes nothing. `decide` turns each result into delivered, retry at a
jittered time (Retry-After honoured), give up, or disable the endpoint (410, or
failing for WEBHOOK_DISABLE_AFTER_DAYS), which emits `webhook.disabled`.

A worker killed mid-round leaves its claims to expire; the next worker sends
them again with the same webhook-id (at least once). A database outage makes a
round fail; the loop waits and tries again on fresh connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Settings
from app.core.database import Database
from app.core.logging import get_logger
from app.core.secretbox import SecretBox, SecretUnreadable
from app.events.metrics import ATTEMPT_SECONDS, DELIVERIES_FINISHED, DELIVERY_ATTEMPTS
from app.events.outbox import PENDING_DELIVERIES
from app.events.repository import (
    FAILED,
    PENDING,
    SUCCEEDED,
    Claimed,
    DeliveryQueue,
    Outcome,
)
from app.events.service import emit_disabled, secret_box, url_policy
from app.webhooks.attempt import AttemptLimits, attempt_delivery
from app.webhooks.catalogue import encode_payload
from app.webhooks.resolve import Resolver, SystemResolver
from app.webhooks.results import AttemptOutcome, AttemptResult
from app.webhooks.retry import Decision, RetryPolicy, Verdict, decide
from app.webhooks.rotation import StoredSecrets, signing_keys
from app.webhooks.signing import SigningKey, message_id_for
from app.webhooks.transport import build_delivery_client
from app.webhooks.urls import UrlPolicy

log = get_logger(__name__)
_MAX_BACKOFF = 10.0
_POOL_SIZE = 8
_OPENED_MAX = 10_000


def _shards(concurrency: int) -> list[int]:
    """Pool sizes adding up to `concurrency`, none above _POOL_SIZE."""
    full, rest = divmod(concurrency, _POOL_SIZE)
    return [_POOL_SIZE] * full + ([rest] if rest else [])


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        schedule=tuple(float(s) for s in settings.webhook_retry_schedule_seconds),
        jitter=settings.webhook_retry_jitter,
        retry_after_max=float(settings.webhook_retry_after_max_seconds),
        disable_after=timedelta(days=settings.webhook_disable_after_days),
    )


def attempt_limits(settings: Settings) -> AttemptLimits:
    return AttemptLimits(
        connect_timeout=settings.webhook_connect_timeout,
        total_timeout=settings.webhook_timeout,
        excerpt_bytes=settings.webhook_response_excerpt_bytes,
        dns_timeout=settings.webhook_dns_timeout,
    )


@dataclass(frozen=True, slots=True)
class Sent:
    claimed: Claimed
    result: AttemptResult


class DeliveryWorker:
    """Sends the outbox. `run_once` is one round; `run` loops until stopped."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        resolver: Resolver | None = None,
        client: httpx.AsyncClient | None = None,
        worker_id: str | None = None,
        policy: UrlPolicy | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.resolver = resolver or SystemResolver()
        self.policy = policy or url_policy(settings)
        self.retry = retry_policy(settings)
        self.limits = attempt_limits(settings)
        self.box: SecretBox = secret_box(settings)
        self.worker_id = worker_id or f"{socket.gethostname()[:30]}:{os.getpid()}"
        self.batch = settings.webhook_worker_batch
        self.lease = timedelta(seconds=settings.webhook_lease_seconds)
        self._own_client = client is None
        # httpcore's pool walks every connection it holds on each request, so one
        # pool of 50 costs several times what 7 pools of 8 do: the attempts are
        # spread over small pools (each still keeps its connections alive).
        self.clients = (
            [client]
            if client is not None
            else [
                build_delivery_client(
                    limits=httpx.Limits(
                        max_connections=size,
                        max_keepalive_connections=size,
                        keepalive_expiry=30.0,
                    )
                )
                for size in _shards(settings.webhook_worker_concurrency)
            ]
        )
        self._next_client = 0
        self._opened: dict[tuple[StoredSecrets, bool], tuple[SigningKey, ...]] = {}
        self._slots = asyncio.Semaphore(settings.webhook_worker_concurrency)
        self._wake = asyncio.Event()

    async def aclose(self) -> None:
        if self._own_client:
            for client in self.clients:
                await client.aclose()

    def _keys(self, item: Claimed) -> tuple[SigningKey, ...]:
        """The endpoint's live signing keys; opened secrets are kept (Fernet costs ~15 us)."""
        stored = StoredSecrets(item.secret, item.secret_previous, item.secret_previous_expires_at)
        cache_key = (stored, stored.in_rotation(self.clock.now()))
        keys = self._opened.get(cache_key)
        if keys is None:
            keys = signing_keys(self.box, stored, now=self.clock.now())
            if len(self._opened) >= _OPENED_MAX:
                self._opened.clear()
            self._opened[cache_key] = keys
        return keys

    def _client(self) -> httpx.AsyncClient:
        self._next_client = (self._next_client + 1) % len(self.clients)
        return self.clients[self._next_client]

    def wake(self) -> None:
        """Start the next round now (something was just committed to the outbox)."""
        self._wake.set()

    async def claim(self) -> tuple[str, list[Claimed]]:
        """This round's claim token and deliveries. A round with nothing due costs one
        read that locks nothing; only when it finds a delivery is a claim transaction
        begun (another worker may take it first: the claim then holds none)."""
        now = self.clock.now()
        async with self.database.fresh_reads() as session:
            if not await DeliveryQueue(session).any_claimable(now):
                return "", []
        token = f"{self.worker_id[:40]}:{uuid.uuid4().hex[:16]}"
        async with self.database.sessions() as session, session.begin():
            claimed = await DeliveryQueue(session).claim(token, now, now + self.lease, self.batch)
        return token, claimed

    async def run_once(self) -> int:
        """Claim, send and record one batch; returns how many deliveries it sent."""
        token, claimed = await self.claim()
        if not claimed:
            return 0
        sent = await asyncio.gather(*(self._send(item) for item in claimed))
        await self._record(token, sent)
        return len(sent)

    async def _send(self, item: Claimed) -> Sent:
        async with self._slots:
            try:
                keys = self._keys(item)
            except SecretUnreadable as error:
                return Sent(item, AttemptResult(AttemptOutcome.BLOCKED, error=str(error)[:500]))
            result = await attempt_delivery(
                self._client(),
                url=item.url,
                message_id=message_id_for(item.event_id),
                body=encode_payload(item.payload),
                keys=keys,
                policy=self.policy,
                resolver=self.resolver,
                limits=self.limits,
            )
        DELIVERY_ATTEMPTS.labels(result.outcome.value).inc()
        ATTEMPT_SECONDS.observe(result.elapsed_ms / 1000)
        return Sent(item, result)

    async def _record(self, token: str, sent: list[Sent]) -> None:
        now = self.clock.now()
        outcomes: list[Outcome] = []
        disable: dict[uuid.UUID, tuple[Claimed, str, int | None]] = {}
        health: dict[uuid.UUID, list[AttemptResult]] = {}
        for item in sent:
            claimed, result = item.claimed, item.result
            attempt = claimed.attempts + 1
            decision: Decision = decide(
                self.retry,
                attempt=attempt,
                outcome=result.outcome,
                now=now,
                failing_since=claimed.failing_since,
                retry_after_seconds=result.retry_after_seconds,
            )
            DELIVERIES_FINISHED.labels(decision.verdict.value).inc()
            health.setdefault(claimed.webhook_id, []).append(result)
            if decision.verdict is Verdict.DELIVERED:
                status, next_at, delivered = SUCCEEDED, now, now
            elif decision.verdict is Verdict.RETRY:
                assert decision.next_attempt_at is not None
                status, next_at, delivered = PENDING, decision.next_attempt_at, None
            elif decision.verdict is Verdict.GIVE_UP:
                status, next_at, delivered = FAILED, now, None
            else:  # the endpoint is disabled; the message waits for it to be enabled again
                status, next_at, delivered = PENDING, now, None
                assert decision.disable_reason is not None
                disable[claimed.webhook_id] = (
                    claimed,
                    decision.disable_reason.value,
                    result.status_code,
                )
            outcomes.append(
                Outcome(
                    id=claimed.id,
                    status=status,
                    attempts=attempt,
                    next_attempt_at=next_at,
                    last_attempt_at=now,
                    response_status=result.status_code,
                    last_error=result.error,
                    last_outcome=result.outcome.value,
                    latency_ms=result.elapsed_ms,
                    response_excerpt=result.response_excerpt or None,
                    delivered_at=delivered,
                )
            )
        # Written in one transaction; tried again for as long as the claim holds,
        # so a short database outage costs no duplicate sends.
        deadline = self.clock.monotonic() + self.lease.total_seconds() / 2
        delay = 0.2
        while True:
            try:
                async with self.database.sessions() as session, session.begin():
                    queue = DeliveryQueue(session)
                    await queue.record(token, outcomes)
                    for webhook_id, results in health.items():
                        await _fold_health(queue, webhook_id, results, now)
                    for webhook_id, (claimed, reason, status_code) in disable.items():
                        found = await queue.disable(webhook_id, reason, now)
                        if found is not None:
                            tenant_id, failing_since, _ = found
                            await emit_disabled(
                                session,
                                tenant_id=tenant_id,
                                webhook_id=webhook_id,
                                reason=reason,
                                at=now,
                                failing_since=failing_since or claimed.failing_since or now,
                                last_status_code=status_code,
                            )
                            log.warning(
                                "webhook_disabled", webhook_id=str(webhook_id), reason=reason
                            )
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.clock.monotonic() >= deadline:
                    log.warning(
                        "webhook_record_failed",
                        error=type(error).__name__,
                        hint="the claims expire and are sent again with the same webhook-id",
                    )
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Rounds until `stop` is set (or the task is cancelled); never dies of an error."""
        stop = stop or asyncio.Event()
        backoff = 0.5
        poll = self.settings.webhook_worker_poll_seconds
        log.info("webhook_worker_started", worker=self.worker_id)
        while not stop.is_set():
            self._wake.clear()  # a wake during the round below starts the next at once
            try:
                sent = await self.run_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database went away, say: wait, then again
                log.warning("webhook_worker_round_failed", error=type(error).__name__)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            if sent < self.batch:
                await _wait_any(stop, self._wake, poll)
        log.info("webhook_worker_stopped", worker=self.worker_id)


async def _fold_health(
    queue: DeliveryQueue, webhook_id: uuid.UUID, results: list[AttemptResult], now: datetime
) -> None:
    """One round's results for one endpoint: any success ends its failing streak."""
    failed = [r for r in results if not r.succeeded]
    succeeded = len(failed) < len(results)
    await queue.record_health(
        webhook_id,
        succeeded_at=now if succeeded else None,
        failed_at=now if failed else None,
        failures=len(failed),
        last_status_code=failed[-1].status_code if failed else None,
    )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@contextlib.asynccontextmanager
async def worker_in_server(
    database: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[DeliveryWorker | None]:
    """The worker for the server's lifetime when WEBHOOK_WORKER_IN_SERVER (the default)."""
    if not settings.webhook_worker_in_server:
        yield None
        return
    worker = DeliveryWorker(database, settings, clock=clock)

    def committed(session: Session) -> None:
        # A request of this process committed deliveries: send them now, not at the next poll.
        if session.info.pop(PENDING_DELIVERIES, False):
            worker.wake()

    def rolled_back(session: Session) -> None:
        session.info.pop(PENDING_DELIVERIES, None)

    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_rollback", rolled_back)
    task = asyncio.create_task(worker.run(), name="webhook-worker")
    try:
        yield worker
    finally:
        event.remove(Session, "after_commit", committed)
        event.remove(Session, "after_rollback", rolled_back)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.aclose()
