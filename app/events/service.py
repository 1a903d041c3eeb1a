"""Webhook endpoint use cases: register, read, change, remove, secrets, tests,
the delivery log, resend and recover. Flushes, never commits.

URLs are checked (and their host resolved and every address checked) when an
endpoint is registered or its URL changed, and again by the worker before
every attempt. Secrets are sealed with SecretBox; reading one is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.actor import Actor
from app.core.clock import Clock
from app.core.config import Settings
from app.core.cursor import CursorCodec
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.secretbox import SecretBox
from app.events.outbox import emit
from app.events.repository import DeliveryFilter, DeliveryRepository, WebhookRepository
from app.events.schemas import (
    DeliveryPage,
    DeliveryQuery,
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookTestSent,
    WebhookUpdate,
)
from app.models import Webhook, WebhookDelivery
from app.models.webhook import DeliveryStatus
from app.webhooks import event_data
from app.webhooks.catalogue import EventType
from app.webhooks.resolve import Resolver, SystemResolver, resolve_endpoint
from app.webhooks.rotation import StoredSecrets, current_secret, issue_secrets, rotate_secrets
from app.webhooks.signing import WebhookSignatureError, message_id_for
from app.webhooks.urls import UrlPolicy, UrlRefused

MANUAL = "manual"


def url_policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy(
        allow_http=settings.webhook_allow_http,
        allow_private_networks=settings.webhook_allow_private_networks,
    )


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox.from_settings(
        settings.secret_key.get_secret_value(), settings.encryption_key_list
    )


def stored_secrets(row: Webhook) -> StoredSecrets:
    return StoredSecrets(row.secret, row.secret_previous, row.secret_previous_expires_at)


def to_read(row: Webhook, now: datetime) -> WebhookRead:
    stored = stored_secrets(row)
    return WebhookRead(
        id=row.id,
        url=row.url,
        event_types=list(row.event_types or []),
        description=row.description,
        enabled=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        failing_since=row.failing_since,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
        last_status_code=row.last_status_code,
        consecutive_failures=row.consecutive_failures,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        rotation_ends_at=stored.previous_expires_at if stored.in_rotation(now) else None,
    )


def delivery_read(row: WebhookDelivery) -> DeliveryRead:
    waiting = row.status in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING)
    return DeliveryRead(
        id=row.id,
        webhook_id=row.webhook_id,
        event_id=row.event_id,
        message_id=message_id_for(row.event_id),
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if waiting else None,
        last_attempt_at=row.last_attempt_at,
        last_outcome=row.last_outcome,
        response_status=row.response_status,
        latency_ms=row.latency_ms,
        last_error=row.last_error,
        response_excerpt=row.response_excerpt,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        payload=None if row.payload_purged_at is not None else row.payload,
    )


DELIVERY_SORT = "-created_at"


class WebhookService:
    def __init__(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        actor: Actor,
        settings: Settings,
        clock: Clock,
        resolver: Resolver | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.actor = actor
        self.settings = settings
        self.clock = clock
        self.resolver = resolver or SystemResolver()
        self.box = secret_box(settings)
        self.policy = url_policy(settings)
        self.repo = WebhookRepository(session, tenant_id)
        self.deliveries = DeliveryRepository(session, tenant_id)
        self.cursors = CursorCodec(settings.secret_key.get_secret_value())

    async def _audit(self, action: str, resource_id: Any, **details: Any) -> None:
        await record(
            self.session,
            tenant_id=self.tenant_id,
            actor=self.actor,
            action=action,
            resource_type="webhook",
            resource_id=resource_id,
            details=details,
        )

    async def checked_url(self, raw: str) -> str:
        """The canonical URL, its host resolved and every address allowed; or 422."""
        try:
            target = await resolve_endpoint(
                raw,
                self.policy,
                resolver=self.resolver,
                timeout=self.settings.webhook_dns_timeout,
            )
        except UrlRefused as refusal:
            raise Unprocessable(str(refusal), code=refusal.code.value) from None
        return str(target.url)

    async def create(self, data: WebhookCreate) -> tuple[Webhook, str]:
        url = await self.checked_url(data.url)  # before any query: no connection held
        try:
            stored = issue_secrets(self.box, data.secret)
        except WebhookSignatureError as error:
            raise Unprocessable(str(error), code="invalid_secret") from None
        row = Webhook(
            url=url,
            secret=stored.current,
            description=data.description,
            event_types=list(data.event_types),
            is_active=data.enabled,
            consecutive_failures=0,
        )
        if not data.enabled:
            row.disabled_at, row.disabled_reason = self.clock.now(), MANUAL
        await self.repo.add(row)
        await self._audit("webhook.created", row.id, url=url, event_types=row.event_types)
        return row, current_secret(self.box, stored)

    async def list(self) -> list[Webhook]:
        return list(await self.repo.list())

    async def get(self, webhook_id: uuid.UUID, *, for_update: bool = False) -> Webhook:
        row = await self.repo.get(webhook_id, for_update=for_update)
        if row is None:
            raise NotFound("webhook not found", code="webhook_not_found")
        return row

    async def update(self, webhook_id: uuid.UUID, data: WebhookUpdate) -> Webhook:
        changes = data.model_dump(exclude_unset=True)
        for field in ("url", "event_types", "enabled"):
            if field in changes and changes[field] is None:
                raise Unprocessable(f"{field} cannot be null", code="invalid_field")
        url = await self.checked_url(data.url) if data.url is not None else None
        row = await self.get(webhook_id, for_update=True)
        now = self.clock.now()
        if url is not None:
            row.url = url
        if data.event_types is not None:
            row.event_types = list(data.event_types)
        if "description" in changes:
            row.description = data.description
        disabled_now = False
        if data.enabled is not None and data.enabled != row.is_active:
            row.is_active = data.enabled
            if data.enabled:
                # A fresh start: the failing streak that disabled it is forgiven.
                row.disabled_at = row.disabled_reason = row.failing_since = None
                row.consecutive_failures = 0
            else:
                row.disabled_at, row.disabled_reason = now, MANUAL
                disabled_now = True
        row.updated_at = now
        await self.session.flush()
        await self._audit("webhook.updated", row.id, changed=sorted(changes))
        if disabled_now:
            await emit_disabled(
                self.session,
                tenant_id=self.tenant_id,
                webhook_id=row.id,
                reason=MANUAL,
                at=now,
                failing_since=row.failing_since,
                last_status_code=row.last_status_code,
            )
        return row

    async def delete(self, webhook_id: uuid.UUID) -> None:
        row = await self.get(webhook_id, for_update=True)
        await self._audit("webhook.deleted", row.id, url=row.url)
        await self.repo.delete(row)

    async def read_secret(self, webhook_id: uuid.UUID) -> tuple[str, datetime | None]:
        row = await self.get(webhook_id)
        stored = stored_secrets(row)
        await self._audit("webhook.secret_read", row.id)
        ends = stored.previous_expires_at if stored.in_rotation(self.clock.now()) else None
        return current_secret(self.box, stored), ends

    async def rotate_secret(
        self, webhook_id: uuid.UUID, secret: str | None
    ) -> tuple[str, datetime | None]:
        row = await self.get(webhook_id, for_update=True)
        now = self.clock.now()
        overlap = timedelta(hours=self.settings.webhook_secret_rotation_hours)
        try:
            rotated = rotate_secrets(
                self.box, stored_secrets(row), now=now, overlap=overlap, secret=secret
            )
        except WebhookSignatureError as error:
            raise Unprocessable(str(error), code="invalid_secret") from None
        row.secret = rotated.current
        row.secret_previous = rotated.previous
        row.secret_previous_expires_at = rotated.previous_expires_at
        row.updated_at = now
        await self.session.flush()
        await self._audit(
            "webhook.secret_rotated",
            row.id,
            previous_expires_at=(
                rotated.previous_expires_at.isoformat() if rotated.previous_expires_at else None
            ),
        )
        return current_secret(self.box, rotated), rotated.previous_expires_at

    async def send_test(self, webhook_id: uuid.UUID) -> WebhookTestSent:
        row = await self.get(webhook_id)
        if not row.is_active:
            raise Conflict("the webhook is disabled; enable it first", code="webhook_disabled")
        emitted = await emit(
            self.session,
            tenant_id=self.tenant_id,
            event_type=EventType.WEBHOOK_TEST,
            data=event_data.WebhookTest(webhook_id=row.id),
            now=self.clock.now(),
            only_webhook_id=row.id,
        )
        delivery = await self.deliveries.for_event(emitted.event.id, row.id)
        assert delivery is not None
        await self._audit("webhook.test_sent", row.id, event_id=str(emitted.event.id))
        return WebhookTestSent(
            delivery_id=delivery.id, webhook_id=row.id, message_id=emitted.event.message_id
        )

    async def delivery_log(self, webhook_id: uuid.UUID, query: DeliveryQuery) -> DeliveryPage:
        await self.get(webhook_id)
        position = self.cursors.decode(query.cursor, DELIVERY_SORT) if query.cursor else None
        after = (position.value, position.id) if position is not None else None
        filters = DeliveryFilter(
            status=query.status.value if query.status else None,
            event_type=query.event_type.value if query.event_type else None,
            since=query.since,
            until=query.until,
        )
        rows = await self.deliveries.page(webhook_id, filters, after=after, limit=query.limit)
        page, more = rows[: query.limit], len(rows) > query.limit
        return DeliveryPage(
            items=[delivery_read(r) for r in page],
            next_cursor=(
                self.cursors.encode(DELIVERY_SORT, page[-1].created_at, page[-1].id)
                if more and page
                else None
            ),
        )

    async def resend(self, delivery_id: uuid.UUID) -> WebhookDelivery:
        row = await self.deliveries.get(delivery_id, for_update=True)
        if row is None:
            raise NotFound("delivery not found", code="delivery_not_found")
        if row.payload_purged_at is not None:
            raise Conflict(
                "the payload was purged by retention; it cannot be sent again",
                code="payload_purged",
            )
        if row.status == DeliveryStatus.DELIVERING:
            raise Conflict("the delivery is being sent right now", code="delivery_in_progress")
        row.status = DeliveryStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = self.clock.now()
        row.locked_by = row.locked_until = None
        await self.session.flush()
        await self._audit("webhook.delivery_resent", row.webhook_id, delivery_id=str(row.id))
        return row

    async def recover(self, webhook_id: uuid.UUID, since: datetime) -> int:
        row = await self.get(webhook_id)
        now = self.clock.now()
        if since.tzinfo is None:
            raise Unprocessable(
                "since needs a time zone, e.g. 2026-12-01T00:00:00Z", code="invalid_since"
            )
        if since > now:
            raise Unprocessable("since is in the future", code="invalid_since")
        count = await self.deliveries.requeue_failed_since(row.id, since, now)
        await self._audit("webhook.recovered", row.id, since=since.isoformat(), requeued=count)
        return count


async def emit_disabled(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    webhook_id: uuid.UUID,
    reason: str,
    at: datetime,
    failing_since: datetime | None,
    last_status_code: int | None,
) -> None:
    """`webhook.disabled` about one endpoint, to the tenant's other endpoints."""
    await emit(
        session,
        tenant_id=tenant_id,
        event_type=EventType.WEBHOOK_DISABLED,
        data=event_data.WebhookDisabled(
            webhook_id=webhook_id,
            reason=reason,
            disabled_at=at,
            failing_since=failing_since,
            last_status_code=last_status_code,
        ),
        now=at,
        exclude_webhook_id=webhook_id,
    )
