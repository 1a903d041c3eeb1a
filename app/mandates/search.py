"""Search parameters for GET /api/v1/mandates, validated before any query runs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.types import STORABLE
from app.models.mandate import MandateStatus, MandateType

SortKey = Literal["created_at", "-created_at", "expires_at", "-expires_at"]
Text = Annotated[str, Field(min_length=1, max_length=2048), STORABLE]


class MandateSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: MandateStatus | None = None
    verification_status: (
        Annotated[str, Field(max_length=32, pattern=r"^[A-Z_]{2,32}$"), STORABLE] | None
    ) = None
    mandate_type: MandateType | None = None
    issuer_did: Text | None = None
    subject_did: Text | None = None
    scope: Annotated[str, Field(min_length=1, max_length=255), STORABLE] | None = None
    merchant: Annotated[str, Field(min_length=1, max_length=255), STORABLE] | None = None
    label: (
        Annotated[
            str, Field(max_length=321, pattern=r"^[A-Za-z0-9_.\-]{1,64}[:=].{0,256}$"), STORABLE
        ]
        | None
    ) = None
    expires_before: datetime | None = None
    expires_after: datetime | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    amount_min: Annotated[Decimal, Field(ge=0, lt=10**14, allow_inf_nan=False)] | None = None
    amount_max: Annotated[Decimal, Field(ge=0, lt=10**14, allow_inf_nan=False)] | None = None
    transaction_id: Annotated[str, Field(min_length=1, max_length=64), STORABLE] | None = None
    open_mandate_hash: Annotated[str, Field(min_length=1, max_length=64), STORABLE] | None = None
    sort: SortKey = "-created_at"
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Annotated[str, Field(max_length=512), STORABLE] | None = None

    @field_validator(
        "issuer_did",
        "subject_did",
        "scope",
        "merchant",
        "label",
        "cursor",
        "verification_status",
        "transaction_id",
        "open_mandate_hash",
    )
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(ord(ch) < 32 for ch in value):
            raise ValueError("control characters are not allowed")
        return value

    @field_validator("expires_before", "expires_after", "created_before", "created_after")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def label_pair(self) -> tuple[str, str] | None:
        if self.label is None:
            return None
        cut = min(i for i in (self.label.find(":"), self.label.find("=")) if i >= 0)
        return self.label[:cut], self.label[cut + 1 :]
