"""Every query on `webhooks` and `webhook_deliveries`.

`WebhookRepository` and `DeliveryRepository` are tenant-scoped. `DeliveryQueue`
is the worker's platform-wide view: it claims due deliveries of every tenant
(FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite runs one writer at a time) and
records what came of them, each write fenced by the claim it holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.driver import select_rows
from app.core.held import changed
from app.core.repository import TenantScopedRepository, execute_core
from app.models import Webhook, WebhookDelivery
from app.models.base import table_of
from app.models.webhook import DeliveryStatus
from app.webhooks.catalogue import Event

_DELIVERIES = table_of(WebhookDelivery)
PENDING = DeliveryStatus.PENDING.value
DELIVERING = DeliveryStatus.DELIVERING.value
SUCCEEDED = DeliveryStatus.SUCCEEDED.value
FAILED = DeliveryStatus.FAILED.value


class WebhookRepository(TenantScopedRepository[Webhook]):
    model = Webhook

    async def enabled_subscriptions(self) -> list[tuple[uuid.UUID, list[str]]]:
        rows = await execute_core(
            self.session,
            select(Webhook.id, Webhook.event_types).where(self.scope(), Webhook.is_active),
        )
        return [(row[0], list(row[1] or [])) for row in rows]

    async def list(self) -> Sequence[Webhook]:
        return (await self.session.scalars(self.base().order_by(Webhook.created_at))).all()

    async def count(self) -> int:
        total = await self.session.scalar(
            select(func.count()).select_from(Webhook).where(self.scope())
        )
        return int(total or 0)

    async def delete(self, row: Webhook) -> None:
        await self.session.delete(row)
        await self.session.flush()


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    status: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class DeliveryRepository(TenantScopedRepository[WebhookDelivery]):
    model = WebhookDelivery

    async def insert_for_event(
        self, event: Event, webhook_ids: Sequence[uuid.UUID], now: datetime
    ) -> None:
        await self.insert_for_events([(event, webhook_ids)], now)

    async def insert_for_events(
        self, owed: Sequence[tuple[Event, Sequence[uuid.UUID]]], now: datetime
    ) -> None:
        """One pending delivery per event and endpoint, all in one statement."""
        rows = [
            {
                "id": uuid.uuid4(),
                "tenant_id": self.tenant_id,
                "webhook_id": webhook_id,
                "event_id": event.id,
                "event_type": event.type.value,
                "payload": event.payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event, webhook_ids in owed
            for webhook_id in webhook_ids
        ]
        for row in rows:
            self.owns(row)
        if rows:
            await execute_core(self.session, insert(_DELIVERIES), rows)

    async def for_event(self, event_id: uuid.UUID, webhook_id: uuid.UUID) -> WebhookDelivery | None:
        row: WebhookDelivery | None = await self.session.scalar(
            self.base().where(
                WebhookDelivery.event_id == event_id, WebhookDelivery.webhook_id == webhook_id
            )
        )
        return row

    async def page(
        self,
        webhook_id: uuid.UUID,
        filters: DeliveryFilter,
        *,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[WebhookDelivery]:
        """Newest first, keyset on (created_at, id); one more row than `limit` says 'more'."""
        query = self.base().where(WebhookDelivery.webhook_id == webhook_id)
        if filters.status is not None:
            query = query.where(WebhookDelivery.status == filters.status)
        if filters.event_type is not None:
            query = query.where(WebhookDelivery.event_type == filters.event_type)
        if filters.since is not None:
            query = query.where(WebhookDelivery.created_at >= filters.since)
        if filters.until is not None:
            query = query.where(WebhookDelivery.created_at < filters.until)
        if after is not None:
            created, row_id = after
            query = query.where(
                or_(
                    WebhookDelivery.created_at < created,
                    and_(WebhookDelivery.created_at == created, WebhookDelivery.id < row_id),
                )
            )
        query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        return list((await self.session.scalars(query.limit(limit + 1))).all())

    async def of_mandate(self, mandate_id: uuid.UUID, limit: int) -> list[WebhookDelivery]:
        """The newest deliveries whose event is about one mandate (`data.mandate_id`).

        A JSON path filter within the tenant, newest first: the mandate page shows
        a few rows, and a tenant's deliveries are purged after their retention.
        """
        about = WebhookDelivery.payload["data"]["mandate_id"].as_string() == str(mandate_id)
        query = (
            self.base()
            .where(about)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def requeue_failed_since(
        self, webhook_id: uuid.UUID, since: datetime, now: datetime
    ) -> int:
        """Every failed delivery of the endpoint created since `since`, due again now."""
        result = await self.session.execute(
            update(WebhookDelivery)
            .where(
                self.scope(),
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.status == FAILED,
                WebhookDelivery.created_at >= since,
                WebhookDelivery.payload_purged_at.is_(None),
            )
            .values(status=PENDING, attempts=0, next_attempt_at=now, locked_by=None)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker holds, with what it needs of its endpoint."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str
    secret_previous: str | None
    secret_previous_expires_at: datetime | None
    failing_since: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker writes back for one claimed delivery."""

    id: uuid.UUID
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime
    response_status: int | None
    last_error: str | None
    last_outcome: str
    latency_ms: float
    response_excerpt: str | None
    delivered_at: datetime | None


def _due(now: Any) -> ColumnElement[bool]:
    # Pending and due, or claimed by a worker whose lease ran out (it died).
    return or_(
        and_(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == DELIVERING, WebhookDelivery.locked_until <= now),
    )


def _claimable(now: Any) -> Select[uuid.UUID]:
    """The deliveries a worker may claim at `now`: due, of an enabled endpoint, with
    their payload kept."""
    return (
        select(WebhookDelivery.id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(_due(now), Webhook.is_active, WebhookDelivery.payload_purged_at.is_(None))
    )


# Built once (`now` bound per call), so its compiled form is found without rebuilding it.
_ANY_CLAIMABLE = _claimable(bindparam("now")).limit(1)


class DeliveryQueue:
    """Platform-wide: the deliveries of every tenant, as the worker claims and records them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def any_claimable(self, now: datetime) -> bool:
        """Whether `claim` would find a delivery at `now`: one read that locks nothing,
        on the driver where the session allows it (a worker's idle poll)."""
        return bool(await select_rows(self.session, _ANY_CLAIMABLE, {"now": now}))

    async def claim(
        self, worker_id: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claimed]:
        """Take up to `limit` due deliveries of enabled endpoints for `worker_id` until
        `lease_until`. On PostgreSQL rows another worker is claiming are skipped."""
        due = _claimable(now).order_by(WebhookDelivery.next_attempt_at).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(of=WebhookDelivery, skip_locked=True)
        ids = list((await self.session.scalars(due)).all())
        if not ids:
            return []
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), _due(now))
            .values(status=DELIVERING, locked_by=worker_id, locked_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        rows = await self.session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.tenant_id,
                WebhookDelivery.webhook_id,
                WebhookDelivery.event_id,
                WebhookDelivery.event_type,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
                Webhook.url,
                Webhook.secret,
                Webhook.secret_previous,
                Webhook.secret_previous_expires_at,
                Webhook.failing_since,
            )
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(
                WebhookDelivery.id.in_(ids),
                WebhookDelivery.locked_by == worker_id,
                WebhookDelivery.status == DELIVERING,
                WebhookDelivery.locked_until == lease_until,
            )
        )
        return [Claimed(*row) for row in rows]

    async def record(self, worker_id: str, outcomes: Sequence[Outcome]) -> None:
        """Write each outcome, only where this worker still holds the claim."""
        if not outcomes:
            return
        statement = (
            update(_DELIVERIES)
            .where(
                _DELIVERIES.c.id == bindparam("b_id"),
                _DELIVERIES.c.locked_by == worker_id,
                _DELIVERIES.c.status == DELIVERING,
            )
            .values(
                status=bindparam("b_status"),
                attempts=bindparam("b_attempts"),
                next_attempt_at=bindparam("b_next"),
                last_attempt_at=bindparam("b_last"),
                response_status=bindparam("b_response_status"),
                last_error=bindparam("b_error"),
                last_outcome=bindparam("b_outcome"),
                latency_ms=bindparam("b_latency"),
                response_excerpt=bindparam("b_excerpt"),
                delivered_at=bindparam("b_delivered"),
                locked_by=None,
                locked_until=None,
            )
        )
        await self.session.execute(
            statement,
            [
                {
                    "b_id": o.id,
                    "b_status": o.status,
                    "b_attempts": o.attempts,
                    "b_next": o.next_attempt_at,
                    "b_last": o.last_attempt_at,
                    "b_response_status": o.response_status,
                    "b_error": o.last_error,
                    "b_outcome": o.last_outcome,
                    "b_latency": o.latency_ms,
                    "b_excerpt": o.response_excerpt,
                    "b_delivered": o.delivered_at,
                }
                for o in outcomes
            ],
            execution_options={"synchronize_session": False},
        )

    async def record_health(
        self,
        webhook_id: uuid.UUID,
        *,
        succeeded_at: datetime | None,
        failed_at: datetime | None,
        failures: int,
        last_status_code: int | None,
    ) -> None:
        """One round's results for an endpoint: a success ends its failing streak;
        failures alone extend it (`failing_since` kept from the first one)."""
        values: dict[str, Any]
        if succeeded_at is not None:
            values = {
                "failing_since": None,
                "consecutive_failures": 0,
                "last_success_at": succeeded_at,
            }
            if failed_at is not None:
                values.update(last_failure_at=failed_at, last_status_code=last_status_code)
        elif failed_at is not None:
            values = {
                "failing_since": func.coalesce(Webhook.failing_since, failed_at),
                "consecutive_failures": Webhook.consecutive_failures + failures,
                "last_failure_at": failed_at,
                "last_status_code": last_status_code,
            }
        else:
            return
        await self.session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def disable(
        self, webhook_id: uuid.UUID, reason: str, at: datetime
    ) -> tuple[uuid.UUID, datetime | None, int | None] | None:
        """Disable an enabled endpoint; its (tenant, failing_since, last status), or None
        when it was disabled already."""
        changed(self.session, Webhook)
        row = (
            await self.session.execute(
                update(Webhook)
                .where(Webhook.id == webhook_id, Webhook.is_active)
                .values(is_active=False, disabled_at=at, disabled_reason=reason)
                .returning(Webhook.tenant_id, Webhook.failing_since, Webhook.last_status_code)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    async def release(self, worker_id: str, ids: Sequence[uuid.UUID]) -> None:
        """Give claims back untouched (a worker stopping mid-batch)."""
        if ids:
            await self.session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(ids),
                    WebhookDelivery.locked_by == worker_id,
                    WebhookDelivery.status == DELIVERING,
                )
                .values(status=PENDING, locked_by=None, locked_until=None)
                .execution_options(synchronize_session=False)
            )


async def queue_stats(session: AsyncSession, now: datetime) -> tuple[int, float]:
    """Platform-wide: deliveries waiting (pending or being sent) and the age in seconds
    of the oldest one that is due."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.status.in_((PENDING, DELIVERING)))
    )
    oldest = await session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.status.in_((PENDING, DELIVERING)),
            WebhookDelivery.next_attempt_at <= now,
        )
    )
    age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return int(waiting or 0), age
