"""Telling the world about raised alerts, in the sweep's transaction: a log line
per alert, an `alert.raised` event for the tenant's webhooks (platform alerts
have no tenant to notify; they show in the log, the metrics and the API), and
for a mandate entering its expiry horizon the `mandate.expiring` event too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.conditions import AlertType
from app.alerts.sweep import RaisedAlert
from app.core.logging import get_logger
from app.events.outbox import emit
from app.webhooks.catalogue import EventType
from app.webhooks.event_data import AlertRaised, MandateExpiring

log = get_logger(__name__)


async def publish_raised(session: AsyncSession, raised: Sequence[RaisedAlert]) -> None:
    for alert in raised:
        log.info(
            "alert_raised",
            alert_id=str(alert.id),
            tenant_id=str(alert.tenant_id) if alert.tenant_id else "platform",
            type=alert.type.value,
            severity=alert.severity,
        )
        if alert.tenant_id is None:
            continue
        data = AlertRaised(
            alert_id=alert.id,
            alert_type=alert.type.value,
            severity=alert.severity,
            title=alert.title,
            mandate_id=alert.mandate_id,
            raised_at=alert.created_at,
        )
        await emit(
            session,
            tenant_id=alert.tenant_id,
            event_type=EventType.ALERT_RAISED,
            data=data,
            now=alert.created_at,
        )
        if alert.type is AlertType.MANDATE_EXPIRING and alert.mandate_id is not None:
            expiring = MandateExpiring(
                mandate_id=alert.mandate_id,
                mandate_type=alert.details["mandate_type"],
                expires_at=datetime.fromisoformat(alert.details["expires_at"]),
            )
            await emit(
                session,
                tenant_id=alert.tenant_id,
                event_type=EventType.MANDATE_EXPIRING,
                data=expiring,
                now=alert.created_at,
            )
