"""The event catalogue: every event type, its version, its payload model and JSON Schema.

A payload is the Standard Webhooks envelope `{"type", "timestamp", "data"}`;
`build_event` makes one from a type and its data model and gives the exact bytes
to sign and send. `event_types_document` is what `GET /api/v1/event-types` lists.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from app.webhooks import event_data as d
from app.webhooks.signing import message_id_for

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class EventType(StrEnum):
    MANDATE_CREATED = "mandate.created"
    MANDATE_VERIFICATION_FAILED = "mandate.verification_failed"
    MANDATE_REVOKED = "mandate.revoked"
    MANDATE_EXPIRED = "mandate.expired"
    MANDATE_DELETED = "mandate.deleted"
    MANDATE_RESTORED = "mandate.restored"
    MANDATE_EXPIRING = "mandate.expiring"
    ISSUER_SUSPENDED = "issuer.suspended"
    ISSUER_REVOKED = "issuer.revoked"
    ISSUER_KEYS_REFRESH_FAILED = "issuer.keys_refresh_failed"
    WEBHOOK_DISABLED = "webhook.disabled"
    ALERT_RAISED = "alert.raised"
    WEBHOOK_TEST = "webhook.test"
    AP2_PRESENTATION_APPROVED = "ap2.presentation.approved"
    AP2_PRESENTATION_REJECTED = "ap2.presentation.rejected"
    AP2_RECEIPT_STORED = "ap2.receipt.stored"
    AP2_OPEN_MANDATE_REVOKED = "ap2.open_mandate.revoked"


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One catalogue entry."""

    event_type: EventType
    version: int
    data_model: type[d.EventData]
    description: str

    @property
    def schema_id(self) -> str:
        return f"urn:mandate-vault:webhook-event:{self.event_type.value}:v{self.version}"


def _spec(
    event_type: EventType, model: type[d.EventData], description: str, version: int = 1
) -> tuple[EventType, EventSpec]:
    return event_type, EventSpec(event_type, version, model, description)


CATALOGUE: Mapping[EventType, EventSpec] = MappingProxyType(
    dict(
        [
            _spec(
                EventType.MANDATE_CREATED,
                d.MandateCreated,
                "A mandate was verified and stored (a replayed submission sends nothing).",
            ),
            _spec(
                EventType.MANDATE_VERIFICATION_FAILED,
                d.MandateVerificationFailed,
                "A submitted mandate was rejected, or a stored one failed re-verification.",
            ),
            _spec(EventType.MANDATE_REVOKED, d.MandateRevoked, "A mandate was revoked."),
            _spec(
                EventType.MANDATE_EXPIRED,
                d.MandateExpired,
                "The expiry sweep recorded that a mandate passed its expiry time.",
            ),
            _spec(EventType.MANDATE_DELETED, d.MandateDeleted, "A mandate was soft-deleted."),
            _spec(
                EventType.MANDATE_RESTORED,
                d.MandateRestored,
                "A soft-deleted mandate was restored within its retention window.",
            ),
            _spec(
                EventType.MANDATE_EXPIRING,
                d.MandateExpiring,
                "An active mandate will expire soon (sent once per mandate).",
            ),
            _spec(
                EventType.ISSUER_SUSPENDED,
                d.IssuerStatusChanged,
                "A trusted issuer was suspended; its mandates no longer verify.",
            ),
            _spec(
                EventType.ISSUER_REVOKED,
                d.IssuerStatusChanged,
                "A trusted issuer was revoked; its mandates no longer verify.",
            ),
            _spec(
                EventType.ISSUER_KEYS_REFRESH_FAILED,
                d.IssuerKeysRefreshFailed,
                "Refreshing an issuer's jwks_url failed; the last good keys stay in use.",
            ),
            _spec(
                EventType.WEBHOOK_DISABLED,
                d.WebhookDisabled,
                "A webhook endpoint was disabled (410 Gone, failing too long, or by hand); "
                "sent to the tenant's other endpoints.",
            ),
            _spec(EventType.ALERT_RAISED, d.AlertRaised, "An alert was raised for the tenant."),
            _spec(
                EventType.WEBHOOK_TEST,
                d.WebhookTest,
                "Sent on request to check an endpoint and its signature verification.",
            ),
            _spec(
                EventType.AP2_PRESENTATION_APPROVED,
                d.Ap2PresentationApproved,
                "An AP2 presentation was approved and recorded (dry runs send nothing).",
            ),
            _spec(
                EventType.AP2_PRESENTATION_REJECTED,
                d.Ap2PresentationRejected,
                "An AP2 presentation was rejected.",
            ),
            _spec(
                EventType.AP2_RECEIPT_STORED,
                d.Ap2ReceiptStored,
                "A merchant or processor receipt was verified and linked to a mandate.",
            ),
            _spec(
                EventType.AP2_OPEN_MANDATE_REVOKED,
                d.Ap2OpenMandateRevoked,
                "An AP2 open mandate was revoked (possibly before its first presentation); "
                "every later presentation under its root is refused.",
            ),
        ]
    )
)


class EventErrorCode(StrEnum):
    UNKNOWN_TYPE = "unknown_event_type"
    DATA_MISMATCH = "event_data_mismatch"
    INVALID_PAYLOAD = "invalid_event_payload"


class EventError(ValueError):
    """An event that cannot be built or read; `code` is stable."""

    def __init__(self, code: EventErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Event:
    """A built event: the JSON-ready payload to store and the exact bytes to send."""

    id: uuid.UUID
    type: EventType
    timestamp: datetime
    payload: dict[str, Any]
    body: bytes

    @property
    def message_id(self) -> str:
        return message_id_for(self.id)


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """A received payload, checked against the catalogue."""

    type: EventType
    timestamp: datetime
    data: d.EventData


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    timestamp: d.UtcDatetime
    data: dict[str, Any]


_TIMESTAMP = TypeAdapter(d.UtcDatetime)


def spec_for(event_type: EventType | str) -> EventSpec:
    """The catalogue entry of a type; raises EventError(UNKNOWN_TYPE)."""
    try:
        return CATALOGUE[EventType(event_type)]
    except ValueError:
        raise EventError(
            EventErrorCode.UNKNOWN_TYPE, f"unknown event type {event_type!r}"
        ) from None


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Deterministic JSON bytes of a payload (keys sorted), the same from a JSONB round trip."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def build_event(
    event_type: EventType | str,
    data: d.EventData,
    *,
    timestamp: datetime,
    event_id: uuid.UUID | None = None,
) -> Event:
    """The envelope for `data`, which must be the type's model; raises EventError."""
    spec = spec_for(event_type)
    if type(data) is not spec.data_model:
        raise EventError(
            EventErrorCode.DATA_MISMATCH,
            f"{spec.event_type.value} takes {spec.data_model.__name__}, not {type(data).__name__}",
        )
    try:
        when = _TIMESTAMP.validate_python(timestamp)
    except ValidationError:
        raise EventError(
            EventErrorCode.INVALID_PAYLOAD, "an event timestamp must be timezone-aware"
        ) from None
    payload = {
        "type": spec.event_type.value,
        "timestamp": _TIMESTAMP.dump_python(when, mode="json"),
        "data": data.model_dump(mode="json"),
    }
    return Event(event_id or uuid.uuid4(), spec.event_type, when, payload, encode_payload(payload))


def parse_event(body: bytes | str) -> ParsedEvent:
    """Read a payload back against the catalogue (tests and tools); raises EventError."""
    try:
        envelope = _Envelope.model_validate_json(body)
    except ValidationError:
        raise EventError(EventErrorCode.INVALID_PAYLOAD, "not an event envelope") from None
    spec = spec_for(envelope.type)
    try:
        data = spec.data_model.model_validate(envelope.data)
    except ValidationError as error:
        raise EventError(
            EventErrorCode.INVALID_PAYLOAD,
            f"data does not match {spec.event_type.value} v{spec.version}: {error.error_count()} errors",
        ) from None
    return ParsedEvent(spec.event_type, envelope.timestamp, data)


@cache
def _schema(event_type: EventType) -> dict[str, Any]:
    spec = CATALOGUE[event_type]
    data_schema = spec.data_model.model_json_schema(mode="serialization")
    definitions = data_schema.pop("$defs", None)
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": spec.schema_id,
        "title": f"{spec.event_type.value} v{spec.version}",
        "description": spec.description,
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"const": spec.event_type.value},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data_schema,
        },
    }
    if definitions:
        schema["$defs"] = definitions
    # Fields may be added within a version, so receivers must not refuse unknown ones.
    return _open_objects(schema)


def event_schema(event_type: EventType | str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one event type's payload; raises EventError."""
    return copy.deepcopy(_schema(spec_for(event_type).event_type))


def event_types_document() -> list[dict[str, Any]]:
    """Every event type with its version, description and schema, for GET /event-types."""
    return [
        {
            "type": spec.event_type.value,
            "version": spec.version,
            "description": spec.description,
            "schema": event_schema(spec.event_type),
        }
        for spec in CATALOGUE.values()
    ]


def _open_objects(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _open_objects(value)
            for key, value in node.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(node, list):
        return [_open_objects(item) for item in node]
    return node
