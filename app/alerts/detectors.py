"""Finding the conditions alerts are raised about, across every tenant.

Each detector returns the conditions true now. A condition may be `raise_now`
(strong enough to raise an alert) or only sustaining (enough to keep an open
alert open: a failure rate that drops a little below the threshold does not
resolve and raise the alert again on every sweep). The mandate-expiry check is
not here: it can hold thousands of mandates, so the sweep runs it in SQL
(`repository.expiring_without_alert_of_every_tenant`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.conditions import AlertType, Condition
from app.core.config import Settings
from app.dbops.backup import list_backups
from app.models import AuditLog, Issuer, Webhook

REJECTED = "mandate.rejected"


@dataclass(frozen=True, slots=True)
class Found:
    """A condition, and whether it is strong enough to raise a new alert."""

    condition: Condition
    raise_now: bool = True


async def verification_failures(
    session: AsyncSession, settings: Settings, now: datetime
) -> list[Found]:
    """Per tenant and refusal code: submissions refused within the window."""
    window = settings.alert_failure_window_minutes
    threshold = settings.alert_failure_threshold
    sustain = max(1, math.ceil(threshold / 2))
    count = func.count().label("n")
    rows = await session.execute(
        select(AuditLog.tenant_id, AuditLog.outcome, count)
        .where(
            AuditLog.timestamp >= now - timedelta(minutes=window),
            AuditLog.action == REJECTED,
            AuditLog.tenant_id.is_not(None),
        )
        .group_by(AuditLog.tenant_id, AuditLog.outcome)
        .having(count >= sustain)
    )
    found = []
    for tenant_id, code, n in rows:
        code = code or "unknown"
        condition = Condition(
            type=AlertType.VERIFICATION_FAILURES,
            key=f"{tenant_id}:{code}",
            tenant_id=tenant_id,
            title=f"{n} submissions refused with {code} in {window} minutes",
            message=(
                f"At least {threshold} mandate submissions were refused with the code "
                f"{code} within {window} minutes; an issuer may have rotated its keys or "
                "an integration may be sending bad tokens."
            ),
            details={"code": code, "count": n, "window_minutes": window, "threshold": threshold},
        )
        found.append(Found(condition, raise_now=n >= threshold))
    return found


async def issuer_keys_failing(
    session: AsyncSession, settings: Settings, now: datetime
) -> list[Found]:
    """Active issuers whose key source has failed without a success for too long."""
    since = now - timedelta(minutes=settings.alert_issuer_failing_minutes)
    rows = await session.scalars(
        select(Issuer).where(
            Issuer.status == "active",
            Issuer.jwks_failing_since.is_not(None),
            Issuer.jwks_failing_since <= since,
        )
    )
    found = []
    for issuer in rows:
        failing_since = issuer.jwks_failing_since
        assert failing_since is not None
        name = issuer.name or issuer.did
        condition = Condition(
            type=AlertType.ISSUER_KEYS_FAILING,
            key=str(issuer.id),
            tenant_id=issuer.tenant_id,
            title=f"Keys of issuer {name[:120]} failing to refresh",
            message=(
                f"The key source of {issuer.did[:500]} has failed since "
                f"{failing_since.isoformat()}; mandates are verified with the keys "
                "fetched last until it answers again."
            ),
            details={
                "issuer_id": str(issuer.id),
                "did": issuer.did,
                "failing_since": failing_since.isoformat(),
                "error": issuer.jwks_error,
            },
        )
        found.append(Found(condition))
    return found


async def webhook_failing(session: AsyncSession, settings: Settings, now: datetime) -> list[Found]:
    """Enabled endpoints whose every attempt has failed for too long."""
    since = now - timedelta(minutes=settings.alert_webhook_failing_minutes)
    rows = await session.scalars(
        select(Webhook).where(
            Webhook.is_active.is_(True),
            Webhook.failing_since.is_not(None),
            Webhook.failing_since <= since,
        )
    )
    found = []
    for webhook in rows:
        failing_since = webhook.failing_since
        assert failing_since is not None
        condition = Condition(
            type=AlertType.WEBHOOK_FAILING,
            key=str(webhook.id),
            tenant_id=webhook.tenant_id,
            title=f"Webhook endpoint failing: {webhook.url[:150]}",
            message=(
                f"Every delivery to {webhook.url} has failed since "
                f"{failing_since.isoformat()} ({webhook.consecutive_failures} attempts, "
                f"last status {webhook.last_status_code or 'none'}); deliveries are retried, "
                f"and the endpoint is disabled after {settings.webhook_disable_after_days:g} "
                "days without a success."
            ),
            details={
                "webhook_id": str(webhook.id),
                "url": webhook.url,
                "failing_since": failing_since.isoformat(),
                "consecutive_failures": webhook.consecutive_failures,
                "last_status_code": webhook.last_status_code,
            },
        )
        found.append(Found(condition))
    return found


async def webhook_disabled(session: AsyncSession, settings: Settings, now: datetime) -> list[Found]:
    """Endpoints the vault disabled (410 Gone, or failing too long); one a person
    disabled is not alerted. Re-enabling an endpoint clears its alert."""
    rows = await session.scalars(
        select(Webhook).where(
            Webhook.is_active.is_(False),
            Webhook.disabled_reason.in_(("gone", "failing")),
        )
    )
    found = []
    for webhook in rows:
        why = (
            "answered 410 Gone"
            if webhook.disabled_reason == "gone"
            else f"failed for {settings.webhook_disable_after_days:g} days without a success"
        )
        disabled_at = webhook.disabled_at.isoformat() if webhook.disabled_at else None
        condition = Condition(
            type=AlertType.WEBHOOK_DISABLED,
            key=str(webhook.id),
            tenant_id=webhook.tenant_id,
            title=f"Webhook endpoint disabled: {webhook.url[:150]}",
            message=(
                f"The vault disabled {webhook.url} because it {why}. Events are no longer "
                "sent to it; fix the receiver, enable the endpoint again and recover the "
                "failed deliveries (POST /api/v1/webhooks/{id}/recover)."
            ),
            details={
                "webhook_id": str(webhook.id),
                "url": webhook.url,
                "reason": webhook.disabled_reason,
                "disabled_at": disabled_at,
            },
        )
        found.append(Found(condition))
    return found


def backup_stale(settings: Settings, now: datetime) -> list[Found]:
    """Platform: no complete backup in BACKUP_DIR younger than the limit (reads a
    directory: blocking, so the sweep calls it in a thread)."""
    backups = list_backups(Path(settings.backup_dir))
    newest = backups[0][0] if backups else None
    limit = timedelta(hours=settings.alert_backup_max_age_hours)
    if newest is not None and now - newest <= limit:
        return []
    message = (
        f"The newest backup was taken at {newest.isoformat()}."
        if newest is not None
        else f"There is no backup in {settings.backup_dir}."
    )
    condition = Condition(
        type=AlertType.BACKUP_STALE,
        key="platform:backup",
        tenant_id=None,
        title="No recent database backup",
        message=f"{message} Run `mandate-vault db backup` (or check its schedule).",
        details={
            "newest_backup_at": newest.isoformat() if newest is not None else None,
            "max_age_hours": settings.alert_backup_max_age_hours,
        },
    )
    return [Found(condition)]
