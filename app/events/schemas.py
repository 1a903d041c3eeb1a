"""Requests and answers of the webhook endpoints and the delivery log.

A `WebhookRead` never carries the secret; only `WebhookCreated`, the answer of
`GET /{id}/secret` and of a rotation do.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from app.core.types import STORABLE, PageLimit
from app.models.webhook import DeliveryStatus
from app.webhooks.catalogue import CATALOGUE, EventType

# Longer than any URL we accept, so an over-long one is answered `url_too_long` by the check.
RawUrl = Annotated[str, StringConstraints(min_length=1, max_length=8192), STORABLE]
Description = Annotated[str, StringConstraints(max_length=500), STORABLE]
SecretText = Annotated[str, StringConstraints(min_length=1, max_length=200), STORABLE]
EventTypeName = Annotated[str, StringConstraints(min_length=1, max_length=64), STORABLE]
EventTypes = Annotated[list[EventTypeName], Field(max_length=len(CATALOGUE))]
_SUBSCRIBABLE = sorted(t.value for t in CATALOGUE if t is not EventType.WEBHOOK_TEST)


def _check_event_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = sorted(set(value) - set(_SUBSCRIBABLE))
    if unknown:
        raise ValueError(f"unknown event type(s) {', '.join(unknown)}; see GET /api/v1/event-types")
    return sorted(set(value))


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: RawUrl = Field(description="https:// URL of at most 2,048 characters.")
    event_types: EventTypes = Field(
        default_factory=list, description="Types to receive; empty: every type."
    )
    description: Description | None = None
    enabled: StrictBool = True
    secret: SecretText | None = Field(
        default=None, description="Your own whsec_ secret (base64 of 24 to 64 bytes); else made."
    )

    _types = field_validator("event_types")(_check_event_types)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: RawUrl | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: StrictBool | None = None

    _types = field_validator("event_types")(_check_event_types)


class WebhookRead(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_status_code: int | None
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    rotation_ends_at: datetime | None = Field(
        description="Until then the previous secret signs too (after a rotation)."
    )


class WebhookCreated(WebhookRead):
    secret: str = Field(description="The signing secret (whsec_...): store it now.")


class WebhookSecret(BaseModel):
    secret: str
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until then messages are signed with the previous one too."
    )


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: SecretText | None = Field(default=None, description="Your own new secret; else made.")


class WebhookTestSent(BaseModel):
    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    message_id: str = Field(description="The webhook-id header the message carries.")


class DeliveryRead(BaseModel):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_outcome: str | None
    response_status: int | None
    latency_ms: float | None
    last_error: str | None
    response_excerpt: str | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, Any] | None = Field(description="null once purged by retention.")


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: DeliveryStatus | None = None
    event_type: EventType | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: Annotated[str, StringConstraints(max_length=512), STORABLE] | None = None
    limit: PageLimit = 50

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("a time with a zone, e.g. 2026-12-01T00:00:00Z")
        return value


class Recovered(BaseModel):
    requeued: int


class EventTypeRead(BaseModel):
    type: str
    version: int
    description: str
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")

    model_config = ConfigDict(populate_by_name=True)
