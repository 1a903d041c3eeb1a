from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.types import STORABLE
from app.models.mandate import MandateStatus, MandateType

LabelKey = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$"), STORABLE
]
LabelValue = Annotated[str, StringConstraints(max_length=256), STORABLE]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=32)]
RetentionDays = Annotated[int, Field(ge=0, le=3650)]
# The HTTP body cap is the real limit; this keeps a single field sane.
MAX_TOKEN_FIELD = 1_048_576


class MandateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vc_jwt: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TOKEN_FIELD), STORABLE]
    retention_days: RetentionDays | None = None
    labels: Labels | None = None


class MandateBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[MandateCreate] = Field(min_length=1, max_length=1000)


class MandatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: Labels | None = None
    retention_days: RetentionDays | None = None


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000), STORABLE]


class MandateRead(BaseModel):
    id: uuid.UUID
    mandate_type: MandateType
    issuer_did: str
    subject_did: str
    jti: str | None
    scope: str | None
    amount_limit: str | None = Field(description="Decimal string at the currency's scale")
    currency: str | None
    merchants: list[str]
    labels: dict[str, str]
    details: dict[str, Any]
    issued_at: datetime | None
    not_before: datetime | None
    expires_at: datetime
    status: MandateStatus
    verification_status: str
    verification_reason: str | None
    verified_at: datetime
    retention_days: int
    revoked_at: datetime | None
    revocation_reason: str | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    vc_jwt: str | None = Field(default=None, description="Only with ?include=token")
    format: str = Field(default="vc-jwt", description="`vc-jwt` or `ap2-v0.2`")
    open_mandate_hash: str | None = Field(default=None, description="AP2 v0.2: the ledger key")
    reference: str | None = Field(default=None, description="AP2 v0.2: receipt reference")
    reference_sdk: str | None = Field(default=None, description="AP2 v0.2: H(leaf JWT)")
    transaction_id: str | None = Field(
        default=None, description="AP2 v0.2: transaction_id (payment) or checkout_hash (checkout)"
    )
    amount: int | None = Field(default=None, description="AP2 v0.2 payment: minor units")
    receipts: list[dict[str, Any]] | None = Field(
        default=None, description="AP2 v0.2, on GET of one mandate: the linked receipts"
    )
    sd_jwt: str | None = Field(
        default=None, description="AP2 v0.2: the chain as presented, only with ?include=token"
    )


class MandatePage(BaseModel):
    items: list[MandateRead]
    next_cursor: str | None
    prev_cursor: str | None = Field(default=None, description="The page before this one")


class VerificationRead(BaseModel):
    mandate_id: uuid.UUID
    code: str
    valid: bool
    reason: str
    details: dict[str, Any]
    verified_at: datetime
    status: MandateStatus


class BatchItemResult(BaseModel):
    index: int
    status: int
    code: str
    id: uuid.UUID | None = None
    detail: str | None = None


class BatchResult(BaseModel):
    items: list[BatchItemResult]
    summary: dict[str, int]
