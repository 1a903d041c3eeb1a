"""The audit trail over HTTP: filters (validated before any query) and rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.types import STORABLE

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$"), STORABLE]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Name | None = None
    actor: Name | None = Field(default=None, description="The actor's id (user or API key).")
    actor_type: Literal["user", "api_key", "system"] | None = None
    resource_type: Annotated[str, Field(min_length=1, max_length=32), STORABLE] | None = None
    resource_id: Name | None = None
    since: datetime | None = Field(default=None, description="Rows at or after this time.")
    until: datetime | None = Field(default=None, description="Rows before this time.")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Annotated[str, Field(max_length=512), STORABLE] | None = Field(
        default=None, description="`next_cursor` of the previous page (signed, opaque)."
    )

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(default=None, description="Rows at or after this time.")
    after_seq: int = Field(default=0, ge=0, le=2**53 - 1, description="Rows after this seq.")

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class AuditEntry(BaseModel):
    id: int
    timestamp: datetime
    actor_type: str
    actor_id: str | None
    actor_role: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    outcome: str | None
    request_id: str | None
    ip_address: str | None
    details: Any
    chain: str
    seq: int | None = Field(description="Null until the sealer links the row (a few hundred ms).")
    prev_hash: str | None
    row_hash: str | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None


def entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        timestamp=row.timestamp,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        action=row.action,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        outcome=row.outcome,
        request_id=row.request_id,
        ip_address=row.ip_address,
        details=row.details,
        chain=row.chain_id,
        seq=row.seq,
        prev_hash=row.prev_hash if row.seq is not None else None,
        row_hash=row.row_hash if row.seq is not None else None,
    )
