"""AP2 v0.2 request and answer models: presentations, ledgers, receipts, dispute checks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, StringConstraints

from app.core.types import STORABLE

# The verifier's own identifiers: any non-empty text a database can store (the chain must match).
Context = Annotated[StrictStr, StringConstraints(min_length=1, max_length=65536), STORABLE]
Hash = Annotated[StrictStr, StringConstraints(max_length=65536), STORABLE]


class PresentationRequest(BaseModel):
    """The body of POST /api/v1/ap2/presentations (other members are ignored)."""

    model_config = ConfigDict(extra="ignore")

    # No length cap here: over 65,536 characters is the engine's `invalid_credential`.
    sd_jwt: StrictStr = Field(description="The Delegate SD-JWT chain, ending in '~'")
    audience: Context
    nonce: Context
    checkout_jwt_hash: Hash | None = None
    open_checkout_hash: Hash | None = None
    dry_run: StrictBool = False


class ViolationRead(BaseModel):
    constraint: str | None
    reason: str


class LedgerSummary(BaseModel):
    open_mandate_hash: str
    spent: int | None
    currency: str | None
    occurrences: int


class PresentationAnswer(BaseModel):
    result: Literal["approved", "rejected"]
    code: str | None
    violations: list[ViolationRead]
    mandate_id: uuid.UUID | None
    ledger: LedgerSummary | None
    receipt: str | None
    dry_run: bool = False
    rejection_id: uuid.UUID | None = Field(
        default=None,
        description="The stored refusal of a genuine chain (stage D, not a dry run), "
        "readable at GET /api/v1/ap2/rejections/{id}; null otherwise",
    )


class ApprovalRead(BaseModel):
    mandate_id: uuid.UUID
    amount: int | None
    currency: str | None
    approved_at: datetime


class LedgerRead(BaseModel):
    open_mandate_hash: str
    family: str | None
    occurrences: int
    spent: dict[str, int]
    remaining: dict[str, int] = Field(
        description="Per budget currency: the smallest payment.budget max minus spent"
    )
    max_occurrences: int | None
    last_approval_at: datetime | None
    next_allowed_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    approvals: list[ApprovalRead]


class LedgerRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000), STORABLE]


class RejectionRead(BaseModel):
    """A genuine chain refused in stage D, as stored (`sd_jwt` only with ?include=token)."""

    id: uuid.UUID
    created_at: datetime
    code: str
    reason: str
    violations: list[ViolationRead]
    mandate_type: str = Field(description="checkout or payment")
    issuer_did: str
    open_mandate_hash: str
    transaction_id: str | None
    reference: str
    reference_sdk: str
    amount: int | None
    currency: str | None
    merchant_id: str | None
    context: dict[str, Any]
    ledger_before: dict[str, Any] | None
    receipt: str | None
    sd_jwt: str | None = None


class RejectionList(BaseModel):
    items: list[RejectionRead]
    next_cursor: str | None


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt: StrictStr


class ReceiptRead(BaseModel):
    id: uuid.UUID
    mandate_id: uuid.UUID
    kind: Literal["checkout", "payment"]
    status: str
    issuer_did: str
    reference_form: Literal["spec", "sdk"]


class DisputeStep(BaseModel):
    step: str
    ok: bool
    reason: str | None


class DisputeResult(BaseModel):
    mandate_id: uuid.UUID
    result: Literal["consistent", "inconsistent"]
    steps: list[DisputeStep]


def drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}
