"""One alert sweep: conditions found now become alerts; alerts whose condition
no longer holds resolve themselves.

A condition already alerted is not raised again while its alert is open (one
open alert per type and key, guarded by a unique index, so sweeps in several
processes cannot raise it twice). A mandate's expiry is alerted once, ever; the
other types raise a new alert when their condition returns after clearing, but
not within `MANUAL_QUIET` of someone resolving the last one by hand.
Every raised alert is handed to the publisher inside the sweep's transaction,
so its `alert.raised` event commits with it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import detectors
from app.alerts.conditions import AlertType, Condition, Severity
from app.alerts.metrics import ALERTS_RAISED, ALERTS_RESOLVED
from app.alerts.repository import (
    expiring_without_alert_of_every_tenant,
    insert_open_alerts,
    open_keys_of_every_tenant,
    purge_resolved_of_every_tenant,
    recently_resolved_by_hand,
    resolve_cleared,
    resolve_expiry_alerts_cleared,
)
from app.core.config import Settings
from app.models import Mandate
from app.models.alert import Resolution

MANUAL_QUIET = timedelta(hours=1)
EXPIRY_BATCH = 500


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """An alert the sweep has just written (its event is owed)."""

    id: uuid.UUID
    tenant_id: uuid.UUID | None
    type: AlertType
    severity: Severity
    title: str
    mandate_id: uuid.UUID | None
    created_at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: dict[str, Any]) -> RaisedAlert:
        return cls(
            id=row["id"],
            tenant_id=row["tenant_id"],
            type=AlertType(row["alert_type"]),
            severity=cast(Severity, row["severity"]),  # the table CHECK holds it
            title=row["title"],
            mandate_id=row["mandate_id"],
            created_at=row["created_at"],
            details=dict(row["details"] or {}),
        )


Publisher = Callable[[AsyncSession, Sequence[RaisedAlert]], Awaitable[None]]
Detector = Callable[[AsyncSession, Settings, datetime], Awaitable[list[detectors.Found]]]


async def publish_nothing(session: AsyncSession, raised: Sequence[RaisedAlert]) -> None:
    """For callers that only want the rows (the CLI's dry runs, some tests)."""


@dataclass
class SweepReport:
    raised: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)
    purged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"raised": dict(self.raised), "resolved": dict(self.resolved), "purged": self.purged}


def _row(condition: Condition, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": condition.tenant_id,
        "mandate_id": condition.mandate_id,
        "alert_type": condition.type.value,
        "dedupe_key": condition.key,
        "severity": condition.severity,
        "title": condition.title[:200],
        "message": condition.message,
        "details": condition.details,
        "created_at": now,
    }


async def raise_conditions(
    session: AsyncSession,
    conditions: Sequence[Condition],
    now: datetime,
    publish: Publisher,
    report: SweepReport | None = None,
) -> list[RaisedAlert]:
    """Raise alerts for conditions not already open, and publish those raised."""
    report = report if report is not None else SweepReport()
    rows = await insert_open_alerts(session, [_row(c, now) for c in conditions])
    raised = [RaisedAlert.of(row) for row in rows]
    for alert in raised:
        report.raised[alert.type] += 1
        ALERTS_RAISED.labels(alert.type.value).inc()
    if raised:
        await publish(session, raised)
    return raised


async def reconcile(
    session: AsyncSession,
    type: AlertType,
    found: Sequence[detectors.Found],
    now: datetime,
    publish: Publisher,
    report: SweepReport,
) -> None:
    """Make the open alerts of `type` match the conditions found now."""
    open_alerts = await open_keys_of_every_tenant(session, type)
    current = {item.condition.key: item for item in found}
    cleared = [alert_id for key, alert_id in open_alerts.items() if key not in current]
    if count := await resolve_cleared(session, cleared, now):
        report.resolved[type] += count
        ALERTS_RESOLVED.labels(type.value, Resolution.CLEARED.value).inc(count)
    quiet = await recently_resolved_by_hand(session, type, now - MANUAL_QUIET)
    new = [
        item.condition
        for key, item in current.items()
        if item.raise_now and key not in open_alerts and key not in quiet
    ]
    await raise_conditions(session, new, now, publish, report)


async def sweep_expiring(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    publish: Publisher,
    report: SweepReport,
) -> int:
    """One batch of mandates entering the expiry horizon; returns how many were found."""
    horizon = now + timedelta(days=settings.alert_expiring_days)
    if count := await resolve_expiry_alerts_cleared(session, now, horizon):
        report.resolved[AlertType.MANDATE_EXPIRING] += count
        ALERTS_RESOLVED.labels(AlertType.MANDATE_EXPIRING.value, "cleared").inc(count)
    mandates = await expiring_without_alert_of_every_tenant(session, now, horizon, EXPIRY_BATCH)
    await raise_conditions(session, [_expiring(m, now) for m in mandates], now, publish, report)
    return len(mandates)


def _expiring(mandate: Mandate, now: datetime) -> Condition:
    left = mandate.expires_at - now
    days = left.days
    when = f"in {days} day{'s' if days != 1 else ''}" if days else "within a day"
    return Condition(
        type=AlertType.MANDATE_EXPIRING,
        key=str(mandate.id),
        tenant_id=mandate.tenant_id,
        mandate_id=mandate.id,
        title=f"Mandate expires {when}",
        message=(
            f"The {mandate.mandate_type} mandate from {mandate.issuer_did[:300]} for "
            f"{mandate.subject_did[:300]} expires at {mandate.expires_at.isoformat()}; "
            "ask for a renewed mandate before then."
        ),
        details={
            "expires_at": mandate.expires_at.isoformat(),
            "issuer_did": mandate.issuer_did,
            "subject_did": mandate.subject_did,
            "mandate_type": mandate.mandate_type,
        },
    )


async def backup_found(
    session: AsyncSession, settings: Settings, now: datetime
) -> list[detectors.Found]:
    return await asyncio.to_thread(detectors.backup_stale, settings, now)


DETECTORS: dict[AlertType, Detector] = {
    AlertType.VERIFICATION_FAILURES: detectors.verification_failures,
    AlertType.ISSUER_KEYS_FAILING: detectors.issuer_keys_failing,
    AlertType.WEBHOOK_FAILING: detectors.webhook_failing,
    AlertType.WEBHOOK_DISABLED: detectors.webhook_disabled,
    AlertType.BACKUP_STALE: backup_found,
}


async def purge_resolved(session: AsyncSession, settings: Settings, now: datetime) -> int:
    before = now - timedelta(days=settings.alert_resolved_retention_days)
    return await purge_resolved_of_every_tenant(session, before)
