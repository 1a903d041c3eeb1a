"""Alert use cases: search a tenant's (or the platform's) alerts, read one,
acknowledge it, resolve it. Raising and clearing are the sweep's (`sweep.py`)."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.conditions import SPECS, AlertType, Recurrence, Severity
from app.alerts.metrics import ALERTS_RESOLVED
from app.alerts.repository import AlertRepository
from app.alerts.schemas import AlertPage, AlertRead, AlertSearch, AlertState, AlertTypeRead
from app.audit.service import record
from app.core.actor import Actor
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.cursor import CursorCodec
from app.core.errors import Conflict, NotFound
from app.models import Alert
from app.models.alert import Resolution

CURSOR_SORT = "alerts:-created_at"


def state_of(alert: Alert) -> AlertState:
    if alert.resolved_at is not None:
        return AlertState.RESOLVED
    if alert.acknowledged_at is not None:
        return AlertState.ACKNOWLEDGED
    return AlertState.OPEN


def to_read(alert: Alert) -> AlertRead:
    return AlertRead(
        id=alert.id,
        type=AlertType(alert.alert_type),
        severity=cast(Severity, alert.severity),  # the table's CHECK holds it to these
        state=state_of(alert),
        title=alert.title,
        message=alert.message,
        mandate_id=alert.mandate_id,
        details=alert.details,
        created_at=alert.created_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        resolution=alert.resolution,
    )


def alert_types() -> list[AlertTypeRead]:
    return [
        AlertTypeRead(
            type=type,
            severity=spec.severity,
            raised_again=spec.recurrence is Recurrence.AGAIN,
            description=spec.description,
        )
        for type, spec in SPECS.items()
    ]


class AlertService:
    def __init__(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID | None,
        actor: Actor,
        cursors: CursorCodec,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.actor = actor
        self.repo = AlertRepository(session, tenant_id)
        self.cursors = cursors
        self.clock = clock

    async def search(self, params: AlertSearch) -> AlertPage:
        position = self.cursors.decode(params.cursor, CURSOR_SORT) if params.cursor else None
        rows = await self.repo.search(params, position)
        page, more = rows[: params.limit], len(rows) > params.limit
        cursor = None
        if more:
            last = page[-1]
            cursor = self.cursors.encode(CURSOR_SORT, last.created_at, last.id)
        return AlertPage(items=[to_read(row) for row in page], next_cursor=cursor)

    async def count_unresolved(self) -> int:
        return await self.repo.count_unresolved()

    async def get(self, alert_id: uuid.UUID, *, for_update: bool = False) -> Alert:
        alert = await self.repo.get(alert_id, for_update=for_update)
        if alert is None:
            raise NotFound("alert not found")
        return alert

    async def acknowledge(self, alert_id: uuid.UUID) -> Alert:
        """Someone is on it. Acknowledging again changes nothing; a resolved alert
        cannot be acknowledged."""
        alert = await self.get(alert_id, for_update=True)
        if alert.resolved_at is not None:
            raise Conflict("the alert is resolved already", code="alert_resolved")
        if alert.acknowledged_at is None:
            alert.acknowledged_at = self.clock.now()
            alert.acknowledged_by = self._who()
            await self.session.flush()
            await self._audit("alert.acknowledged", alert)
        return alert

    async def resolve(self, alert_id: uuid.UUID) -> Alert:
        """Resolve by hand; resolving a resolved alert changes nothing."""
        alert = await self.get(alert_id, for_update=True)
        if alert.resolved_at is None:
            alert.resolved_at = self.clock.now()
            alert.resolved_by = self._who()
            alert.resolution = Resolution.MANUAL
            await self.session.flush()
            ALERTS_RESOLVED.labels(alert.alert_type, Resolution.MANUAL.value).inc()
            await self._audit("alert.resolved", alert)
        return alert

    def _who(self) -> str:
        return (self.actor.id or self.actor.type)[:64]

    async def _audit(self, action: str, alert: Alert) -> None:
        await record(
            self.session,
            tenant_id=self.tenant_id,
            actor=self.actor,
            action=action,
            resource_type="alert",
            resource_id=alert.id,
            details={"type": alert.alert_type},
            at=self.clock.now(),
        )
