"""The `data` of each webhook event: thin, versioned, never a raw token.

Payloads carry ids, types, statuses, amounts and times; a receiver that needs
more asks the API with the id. Within a version fields are only ever added
(optional), never renamed, retyped or removed; anything else is a new version.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Did = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Text = Annotated[str, StringConstraints(max_length=1000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

# The verification codes of app.mandates.verification.Code, spelled out so the pure
# core imports nothing above app.core (tests/webhooks/test_catalogue.py keeps them equal).
Code = Literal[
    "VALID",
    "EXPIRED",
    "NOT_YET_VALID",
    "SIG_INVALID",
    "ISSUER_UNKNOWN",
    "ISSUER_REVOKED",
    "KEY_NOT_FOUND",
    "ALG_NOT_ALLOWED",
    "INVALID_FORMAT",
    "MISSING_REQUIRED_FIELD",
    "SCOPE_INVALID",
    "CART_HASH_MISMATCH",
    "TOO_LARGE",
]
MandateType = Literal["generic", "intent", "cart", "payment", "checkout"]
MandateStatus = Literal["active", "expired", "revoked", "deleted"]
IssuerStatus = Literal["active", "suspended", "revoked"]
Severity = Literal["info", "warning", "critical"]
Ap2Kind = Literal["checkout", "payment"]
Ap2RejectionCode = Literal[
    "invalid_credential", "mandates_not_supported", "invalid_mandate", "unresolved_constraint"
]
DisableReason = Literal["gone", "failing", "manual"]


class EventData(BaseModel):
    """Base of every event's data: immutable, unknown fields refused when we build it."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class MandateCreated(EventData):
    mandate_id: uuid.UUID
    mandate_type: MandateType
    status: MandateStatus
    verification_status: Code
    issuer_did: Did
    subject_did: Did
    amount_limit: Decimal | None = Field(
        default=None,
        allow_inf_nan=False,
        description="Spending limit in major units, as a decimal string.",
    )
    currency: Currency | None = None
    expires_at: UtcDatetime
    created_at: UtcDatetime


class MandateVerificationFailed(EventData):
    mandate_id: uuid.UUID | None = Field(
        default=None, description="Set when a stored mandate failed re-verification."
    )
    token_sha256: Sha256Hex = Field(description="SHA-256 (hex) of the token; never the token.")
    verification_code: Code
    issuer_did: Did | None = None
    failed_at: UtcDatetime


class MandateRevoked(EventData):
    mandate_id: uuid.UUID
    status: Literal["revoked"] = "revoked"
    reason: Text | None = None
    revoked_at: UtcDatetime


class MandateExpired(EventData):
    mandate_id: uuid.UUID
    status: Literal["expired"] = "expired"
    expires_at: UtcDatetime


class MandateDeleted(EventData):
    mandate_id: uuid.UUID
    status: Literal["deleted"] = "deleted"
    deleted_at: UtcDatetime
    purge_after: UtcDatetime = Field(description="When retention removes it for good.")


class MandateRestored(EventData):
    mandate_id: uuid.UUID
    status: MandateStatus = Field(description="The status after the restore.")
    restored_at: UtcDatetime


class MandateExpiring(EventData):
    mandate_id: uuid.UUID
    mandate_type: MandateType
    expires_at: UtcDatetime


class IssuerStatusChanged(EventData):
    issuer_id: uuid.UUID
    issuer_did: Did
    status: IssuerStatus
    previous_status: IssuerStatus
    changed_at: UtcDatetime


class IssuerKeysRefreshFailed(EventData):
    issuer_id: uuid.UUID
    issuer_did: Did
    jwks_url: Annotated[str, StringConstraints(max_length=2048)]
    error: Text
    failed_at: UtcDatetime
    last_success_at: UtcDatetime | None = None


class WebhookDisabled(EventData):
    webhook_id: uuid.UUID
    reason: DisableReason
    disabled_at: UtcDatetime
    failing_since: UtcDatetime | None = None
    last_status_code: int | None = Field(default=None, ge=100, le=599)


class AlertRaised(EventData):
    alert_id: uuid.UUID
    alert_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    severity: Severity
    title: Annotated[str, StringConstraints(max_length=200)]
    mandate_id: uuid.UUID | None = None
    raised_at: UtcDatetime


class WebhookTest(EventData):
    webhook_id: uuid.UUID


class Ap2PresentationApproved(EventData):
    mandate_id: uuid.UUID = Field(description="The stored closed mandate.")
    mandate_type: Ap2Kind
    issuer_did: Did
    open_mandate_hash: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None,
        description="Null when empty or over 255 characters (the stored chain holds it).",
    )
    amount: int | None = Field(default=None, ge=0, description="ISO 4217 minor units.")
    currency: Currency | None = None
    occurrences: int = Field(ge=1, description="Approvals under this open mandate so far.")
    approved_at: UtcDatetime


class Ap2PresentationRejected(EventData):
    code: Ap2RejectionCode
    issuer_did: Did | None = None
    open_mandate_hash: Annotated[str, StringConstraints(max_length=128)] | None = None
    constraints: list[Annotated[str, StringConstraints(max_length=128)]] = Field(
        default_factory=list, max_length=64, description="Types of the violated constraints."
    )
    rejected_at: UtcDatetime
    rejection_id: uuid.UUID | None = Field(
        default=None,
        description="The stored refusal (stage D), at GET /api/v1/ap2/rejections/{id}.",
    )


class Ap2OpenMandateRevoked(EventData):
    open_mandate_hash: Annotated[str, StringConstraints(max_length=128)]
    reason: Text | None = None
    presented: bool = Field(description="Whether anything had been approved under it before.")
    revoked_at: UtcDatetime


class Ap2ReceiptStored(EventData):
    receipt_id: uuid.UUID
    mandate_id: uuid.UUID
    kind: Ap2Kind
    status: Literal["Success", "Error"]
    issuer_did: Did
    reference_form: Literal["spec", "sdk"]
    stored_at: UtcDatetime
