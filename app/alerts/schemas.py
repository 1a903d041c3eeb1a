from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.alerts.conditions import AlertType, Severity
from app.core.types import STORABLE


class AlertState(enum.StrEnum):
    OPEN = "open"  # neither acknowledged nor resolved
    ACKNOWLEDGED = "acknowledged"  # someone is on it; not resolved yet
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"  # a filter only: open or acknowledged


class AlertSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: AlertType | None = None
    severity: Severity | None = None
    state: AlertState | None = None
    mandate_id: uuid.UUID | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Annotated[str, Field(max_length=512), STORABLE] | None = None


class AlertRead(BaseModel):
    id: uuid.UUID
    type: AlertType
    severity: Severity
    state: AlertState
    title: str
    message: str | None
    mandate_id: uuid.UUID | None
    details: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="An actor id, or `system` when it cleared")
    resolution: str | None = Field(description="`cleared` (by the sweep) or `manual`")


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None


class AlertTypeRead(BaseModel):
    type: AlertType
    severity: Severity
    raised_again: bool = Field(description="Whether the condition can raise a new alert later")
    description: str
