"""The transactional outbox: an event is written with the change that caused it.

`emit` builds the event (catalogue-checked, thin payload) and inserts one
`webhook_deliveries` row per enabled endpoint of the tenant that subscribes to
its type, through the caller's session: it commits with the change or rolls
back with it. The delivery worker sends the rows later; nothing is sent here.

An endpoint with an empty `event_types` list receives every type except
`webhook.test`, which goes only to the endpoint it was asked for.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.held import TimedRows, forget_on_change, pending
from app.events.metrics import EVENTS_EMITTED
from app.events.repository import DeliveryRepository, WebhookRepository
from app.models import Webhook
from app.webhooks.catalogue import Event, EventType, build_event
from app.webhooks.event_data import EventData

_TARGETED_ONLY = frozenset({EventType.WEBHOOK_TEST})
# Each tenant's enabled endpoints and their filters, reused for a short time: an
# ingest then costs no endpoint query. An endpoint created, changed or disabled
# through this process is seen from its commit on; through another process,
# within SUBSCRIPTIONS_SECONDS. Deliveries are only sent to enabled endpoints.
SUBSCRIPTIONS_SECONDS = 2.0
_SUBSCRIPTIONS = TimedRows(SUBSCRIPTIONS_SECONDS)
forget_on_change(Webhook, _SUBSCRIPTIONS)
# Set on a session whose transaction wrote deliveries; a worker in the same
# process listens for its commit (app.events.worker) to start a round at once.
PENDING_DELIVERIES = "outbox_pending_deliveries"


@dataclass(frozen=True, slots=True)
class Emitted:
    """What `emit` wrote: the event and the deliveries owed for it."""

    event: Event
    webhook_ids: tuple[uuid.UUID, ...]

    @property
    def deliveries(self) -> int:
        return len(self.webhook_ids)


def subscribes(event_types: list[str] | None, event_type: EventType) -> bool:
    """Whether an endpoint's filter takes this type (empty: every type but targeted ones)."""
    if event_type in _TARGETED_ONLY:
        return False
    return not event_types or event_type.value in event_types


async def emit(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    event_type: EventType | str,
    data: EventData,
    now: datetime,
    only_webhook_id: uuid.UUID | None = None,
    exclude_webhook_id: uuid.UUID | None = None,
    to: tuple[uuid.UUID, ...] | None = None,
) -> Emitted:
    """Write `event_type` with `data` (its catalogue model) for `tenant_id`, in `session`'s
    transaction; raises app.webhooks.EventError for a type/data mismatch.

    `only_webhook_id` sends to that one endpoint whatever its filter (webhook.test);
    `exclude_webhook_id` leaves one endpoint out (webhook.disabled, about itself);
    `to`: the endpoints `recipients` found for it earlier in this unit of work.
    """
    event = build_event(event_type, data, timestamp=now)
    if only_webhook_id is not None:
        found = await WebhookRepository(session, tenant_id).get(only_webhook_id)
        targets = [only_webhook_id] if found is not None else []
    elif to is not None:
        targets = list(to)
    else:
        targets = list(await recipients(session, tenant_id, event.type, exclude_webhook_id))
    if targets:
        await DeliveryRepository(session, tenant_id).insert_for_event(event, targets, now)
        session.info[PENDING_DELIVERIES] = True
    EVENTS_EMITTED.labels(event.type.value).inc()
    return Emitted(event, tuple(targets))


async def emit_to(
    session: AsyncSession,
    to: tuple[uuid.UUID, ...],
    *,
    tenant_id: uuid.UUID,
    event_type: EventType,
    data: Callable[[], EventData],
    now: datetime,
) -> None:
    """`emit` to the endpoints `recipients` found earlier in this unit of work;
    `data` builds the payload only when there are some (otherwise it is counted)."""
    if to:
        await emit(session, tenant_id=tenant_id, event_type=event_type, data=data(), now=now, to=to)
    else:
        EVENTS_EMITTED.labels(event_type.value).inc()


async def recipients(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    event_type: EventType,
    exclude_webhook_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, ...]:
    """The enabled endpoints of the tenant that take `event_type`: known before a
    change is written, they tell whether the change is all its unit of work writes."""
    return tuple(
        webhook_id
        for webhook_id, event_types in await _subscriptions(WebhookRepository(session, tenant_id))
        if webhook_id != exclude_webhook_id and subscribes(event_types, event_type)
    )


async def _subscriptions(endpoints: WebhookRepository) -> list[tuple[uuid.UUID, list[str]]]:
    """The tenant's enabled endpoints: held ones, unless this transaction changed some."""
    fresh = pending(endpoints.session, Webhook)
    if not fresh and (held := _SUBSCRIPTIONS.get(endpoints.tenant_id)) is not None:
        return list(held)
    rows = await endpoints.enabled_subscriptions()
    if not fresh:
        _SUBSCRIPTIONS.put(endpoints.tenant_id, rows)
    return rows


class OutboxBatch:
    """Many events of one unit of work (a bulk ingest): the tenant's endpoints are
    read once and every delivery goes in one INSERT. What is written is what `emit`
    writes event by event; an event no endpoint takes is counted, never built."""

    def __init__(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        subscriptions: list[tuple[uuid.UUID, list[str]]],
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self._subscriptions = subscriptions
        self._targets: dict[EventType, list[uuid.UUID]] = {}
        self._owed: list[tuple[Event, list[uuid.UUID]]] = []
        self._counts: Counter[str] = Counter()

    @classmethod
    async def open(cls, session: AsyncSession, tenant_id: uuid.UUID) -> OutboxBatch:
        subscriptions = await _subscriptions(WebhookRepository(session, tenant_id))
        return cls(session, tenant_id, subscriptions)

    def add(self, event_type: EventType, data: Callable[[], EventData], now: datetime) -> None:
        """Queue `event_type`; `data` builds its payload when some endpoint takes it."""
        targets = self._targets.get(event_type)
        if targets is None:
            targets = [
                webhook_id
                for webhook_id, event_types in self._subscriptions
                if subscribes(event_types, event_type)
            ]
            self._targets[event_type] = targets
        if targets:
            self._owed.append((build_event(event_type, data(), timestamp=now), targets))
        self._counts[event_type.value] += 1

    async def flush(self, now: datetime) -> None:
        """Write the queued deliveries in the session's transaction."""
        if self._owed:
            await DeliveryRepository(self.session, self.tenant_id).insert_for_events(
                self._owed, now
            )
            self.session.info[PENDING_DELIVERIES] = True
        for event_type, count in self._counts.items():
            EVENTS_EMITTED.labels(event_type).inc(count)
        self._owed, self._counts = [], Counter()
