"""HTTP for webhook endpoints, their delivery log, and the event catalogue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.events.deps import WebhookServiceDep
from app.events.schemas import (
    DeliveryPage,
    DeliveryQuery,
    DeliveryRead,
    EventTypeRead,
    Recovered,
    SecretRotate,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookSecret,
    WebhookTestSent,
    WebhookUpdate,
)
from app.events.service import delivery_read, to_read
from app.tenancy.deps import CanManageWebhooks, CanReadSelf
from app.web.query_models import QueryModel
from app.webhooks.catalogue import event_types_document

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
DELIVERY_QUERY = QueryModel(DeliveryQuery)
deliveries_router = APIRouter(prefix="/api/v1/webhook-deliveries", tags=["webhooks"])
event_types_router = APIRouter(prefix="/api/v1/event-types", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    body: WebhookCreate, _: CanManageWebhooks, webhooks: WebhookServiceDep
) -> WebhookCreated:
    """Register an endpoint; the answer carries its signing secret (also at GET /{id}/secret)."""
    row, secret = await webhooks.create(body)
    read = to_read(row, webhooks.clock.now())
    return WebhookCreated(**read.model_dump(), secret=secret)


@router.get("", response_model=list[WebhookRead])
async def list_webhooks(_: CanManageWebhooks, webhooks: WebhookServiceDep) -> list[WebhookRead]:
    """This tenant's endpoints, oldest first."""
    now = webhooks.clock.now()
    return [to_read(row, now) for row in await webhooks.list()]


@router.get("/{webhook_id}", response_model=WebhookRead)
async def get_webhook(
    webhook_id: uuid.UUID, _: CanManageWebhooks, webhooks: WebhookServiceDep
) -> WebhookRead:
    """One endpoint with its health (failing since, last success, disabled and why)."""
    return to_read(await webhooks.get(webhook_id), webhooks.clock.now())


@router.patch("/{webhook_id}", response_model=WebhookRead)
async def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, _: CanManageWebhooks, webhooks: WebhookServiceDep
) -> WebhookRead:
    """Change the URL, the event types, the description, or enable / disable it."""
    return to_read(await webhooks.update(webhook_id, body), webhooks.clock.now())


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
async def delete_webhook(
    webhook_id: uuid.UUID, _: CanManageWebhooks, webhooks: WebhookServiceDep
) -> Response:
    """Remove an endpoint and its delivery log."""
    await webhooks.delete(webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/secret", response_model=WebhookSecret)
async def read_webhook_secret(
    webhook_id: uuid.UUID, _: CanManageWebhooks, webhooks: WebhookServiceDep
) -> WebhookSecret:
    """The current signing secret (audited)."""
    secret, ends = await webhooks.read_secret(webhook_id)
    return WebhookSecret(secret=secret, previous_secret_expires_at=ends)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookSecret)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID,
    _: CanManageWebhooks,
    webhooks: WebhookServiceDep,
    body: SecretRotate | None = None,
) -> WebhookSecret:
    """A new secret; the old one keeps signing beside it for WEBHOOK_SECRET_ROTATION_HOURS."""
    secret, ends = await webhooks.rotate_secret(webhook_id, body.secret if body else None)
    return WebhookSecret(secret=secret, previous_secret_expires_at=ends)


@router.post("/{webhook_id}/test", status_code=202, response_model=WebhookTestSent)
async def send_test_webhook(
    webhook_id: uuid.UUID, _: CanManageWebhooks, webhooks: WebhookServiceDep
) -> WebhookTestSent:
    """Queue a `webhook.test` event to this endpoint only."""
    return await webhooks.send_test(webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    webhook_id: uuid.UUID,
    params: Annotated[DeliveryQuery, Depends(DELIVERY_QUERY)],
    _: CanManageWebhooks,
    webhooks: WebhookServiceDep,
) -> DeliveryPage:
    """The endpoint's deliveries, newest first (filters: status, event_type, since, until)."""
    return await webhooks.delivery_log(webhook_id, params)


@router.post("/{webhook_id}/recover", response_model=Recovered)
async def recover_webhook(
    webhook_id: uuid.UUID,
    since: Annotated[datetime, Query(description="Requeue failed deliveries since then.")],
    _: CanManageWebhooks,
    webhooks: WebhookServiceDep,
) -> Recovered:
    """Send every failed delivery created since `since` again (same webhook-id)."""
    return Recovered(requeued=await webhooks.recover(webhook_id, since))


@deliveries_router.post("/{delivery_id}/resend", status_code=202, response_model=DeliveryRead)
async def resend_delivery(
    delivery_id: uuid.UUID, _: CanManageWebhooks, webhooks: WebhookServiceDep
) -> DeliveryRead:
    """Send one delivery again now, with the same webhook-id."""
    return delivery_read(await webhooks.resend(delivery_id))


@event_types_router.get("", response_model=list[EventTypeRead])
async def list_event_types(_: CanReadSelf) -> list[EventTypeRead]:
    """Every event type with its version, description and JSON Schema."""
    return [EventTypeRead.model_validate(item) for item in event_types_document()]
