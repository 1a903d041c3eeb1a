"""AP2 v0.2 state: the spend ledger per (tenant, root), its approvals, and stored receipts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, Timestamps, UTCDateTime, UUIDPrimaryKey

AP2_FAMILIES = ("checkout", "payment")


class Ap2Ledger(UUIDPrimaryKey, Timestamps, Base):
    """One ledger per tenant and root JWT: occurrences, last approval, spent per currency.

    The row is what presentations lock (SELECT ... FOR UPDATE on PostgreSQL) while
    they read it and record an approval.
    """

    __tablename__ = "ap2_ledgers"
    __table_args__ = (
        Index("uq_ap2_ledgers_tenant_hash", "tenant_id", "open_mandate_hash", unique=True),
        CheckConstraint("occurrences >= 0", name="occurrences"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    open_mandate_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    family: Mapped[str | None] = mapped_column(String(16))
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_approval_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    spent: Mapped[dict[str, int]] = mapped_column(JSONType, nullable=False, default=dict)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(Text)


class Ap2Approval(UUIDPrimaryKey, Base):
    """One approved closed mandate; the unique (tenant, leaf JWT hash) refuses a replay."""

    __tablename__ = "ap2_approvals"
    __table_args__ = (
        Index("uq_ap2_approvals_tenant_leaf", "tenant_id", "leaf_jwt_hash", unique=True),
        Index("idx_ap2_approvals_ledger", "ledger_id", "approved_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ap2_ledgers.id", ondelete="CASCADE"), nullable=False
    )
    mandate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mandates.id", ondelete="CASCADE"), nullable=False
    )
    leaf_jwt_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Ap2Receipt(UUIDPrimaryKey, Base):
    """A merchant or processor receipt, verbatim, linked to a stored closed mandate."""

    __tablename__ = "ap2_receipts"
    __table_args__ = (
        Index("uq_ap2_receipts_tenant_sha", "tenant_id", "jwt_sha256", unique=True),
        Index("idx_ap2_receipts_mandate", "mandate_id", "created_at"),
        CheckConstraint(f"kind IN {AP2_FAMILIES!r}", name="kind"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    mandate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("mandates.id", ondelete="CASCADE"), nullable=False
    )
    receipt_jwt: Mapped[str] = mapped_column(Text, nullable=False)
    jwt_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    issuer_did: Mapped[str] = mapped_column(String(2048), nullable=False)
    kid: Mapped[str] = mapped_column(String(255), nullable=False)
    issuer_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    reference: Mapped[str] = mapped_column(String(255), nullable=False)
    reference_form: Mapped[str] = mapped_column(String(8), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Ap2Rejection(UUIDPrimaryKey, Base):
    """A genuine chain (stages A-C passed) that stage D refused, kept verbatim with its
    verdict and parsed fields for investigation. Malformed or unverifiable input (stages
    A-C) is never stored; approvals are mandates, not rows here."""

    __tablename__ = "ap2_rejections"
    __table_args__ = (
        Index("idx_ap2_rejections_tenant_created", "tenant_id", "created_at"),
        Index("idx_ap2_rejections_tenant_open_hash", "tenant_id", "open_mandate_hash"),
        Index("idx_ap2_rejections_tenant_transaction", "tenant_id", "transaction_id"),
        CheckConstraint(f"mandate_type IN {AP2_FAMILIES!r}", name="mandate_type"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    sd_jwt: Mapped[str] = mapped_column(Text, nullable=False)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    violations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    mandate_type: Mapped[str] = mapped_column(String(16), nullable=False)
    issuer_did: Mapped[str] = mapped_column(String(2048), nullable=False)
    open_mandate_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    transaction_id: Mapped[str | None] = mapped_column(String(255))
    reference: Mapped[str] = mapped_column(String(64), nullable=False)
    reference_sdk: Mapped[str] = mapped_column(String(64), nullable=False)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    merchant_id: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    receipt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
