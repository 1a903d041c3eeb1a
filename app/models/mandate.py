from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, Money, Timestamps, UTCDateTime, UUIDPrimaryKey


class MandateType(enum.StrEnum):
    GENERIC = "generic"
    INTENT = "intent"
    CART = "cart"
    PAYMENT = "payment"
    CHECKOUT = "checkout"  # AP2 v0.2 (payment is shared by v0.1 and v0.2)


class MandateFormat(enum.StrEnum):
    VC_JWT = "vc-jwt"
    AP2_V02 = "ap2-v0.2"


class MandateStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DELETED = "deleted"


MANDATE_TYPES = tuple(t.value for t in MandateType)
MANDATE_STATUSES = tuple(s.value for s in MandateStatus)
MANDATE_FORMATS = tuple(f.value for f in MandateFormat)
DEFAULT_RETENTION_DAYS = 90


class Mandate(UUIDPrimaryKey, Timestamps, Base):
    """A verified mandate: the original token and its parsed, indexed claims."""

    __tablename__ = "mandates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_sha256"),
        Index("idx_mandates_tenant_status", "tenant_id", "status"),
        Index("idx_mandates_tenant_created", "tenant_id", "created_at", "id"),
        Index("idx_mandates_tenant_expires", "tenant_id", "expires_at", "id"),
        Index("idx_mandates_tenant_issuer", "tenant_id", "issuer_did", "created_at", "id"),
        Index("idx_mandates_tenant_subject", "tenant_id", "subject_did"),
        Index("idx_mandates_status_expires", "status", "expires_at"),
        Index("idx_mandates_deleted_at", "deleted_at"),
        Index("idx_mandates_tenant_open_hash", "tenant_id", "open_mandate_hash"),
        Index("idx_mandates_tenant_transaction", "tenant_id", "transaction_id"),
        Index("idx_mandates_tenant_reference", "tenant_id", "reference"),
        Index("idx_mandates_tenant_reference_sdk", "tenant_id", "reference_sdk"),
        CheckConstraint(f"format IN {MANDATE_FORMATS!r}", name="format"),
        CheckConstraint(f"mandate_type IN {MANDATE_TYPES!r}", name="mandate_type"),
        CheckConstraint(f"status IN {MANDATE_STATUSES!r}", name="status"),
        CheckConstraint("retention_days >= 0", name="retention_days"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    vc_jwt: Mapped[str] = mapped_column(Text, nullable=False)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    mandate_type: Mapped[str] = mapped_column(String(16), nullable=False)
    issuer_did: Mapped[str] = mapped_column(String(2048), nullable=False)
    subject_did: Mapped[str] = mapped_column(String(2048), nullable=False)
    jti: Mapped[str | None] = mapped_column(String(255))
    scope: Mapped[str | None] = mapped_column(String(255))
    amount_limit: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str | None] = mapped_column(String(3))
    merchants: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    labels: Mapped[dict[str, str]] = mapped_column(JSONType, nullable=False, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    verification_status: Mapped[str] = mapped_column(String(32), nullable=False)
    verification_reason: Mapped[str | None] = mapped_column(Text)
    verification_details: Mapped[dict[str, Any]] = mapped_column(
        JSONType, nullable=False, default=dict
    )
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    retention_days: Mapped[int] = mapped_column(
        Integer,
        nullable=False,
        default=DEFAULT_RETENTION_DAYS,
        server_default=str(DEFAULT_RETENTION_DAYS),
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # AP2 v0.2 chains (format "ap2-v0.2"): vc_jwt holds the presented chain verbatim.
    format: Mapped[str] = mapped_column(
        String(16), nullable=False, default="vc-jwt", server_default="vc-jwt"
    )
    open_mandate_hash: Mapped[str | None] = mapped_column(String(64))  # the ledger key
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(64))  # receipt reference, spec form
    reference_sdk: Mapped[str | None] = mapped_column(String(64))  # H(leaf JWT)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
