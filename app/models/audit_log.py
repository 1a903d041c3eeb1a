from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntId, JSONType, UTCDateTime, utcnow


class AuditLog(Base):
    """One row per change or sensitive read; `row_hash` chains rows per tenant."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("idx_audit_log_tenant_timestamp", "tenant_id", "timestamp"),
        Index("idx_audit_log_timestamp", "timestamp"),
        Index("idx_audit_log_resource", "resource_type", "resource_id"),
        # Sealed rows of a chain in order; NULL seqs (unsealed rows) never collide.
        Index(
            "uq_audit_log_chain_seq",
            "chain_id",
            "seq",
            unique=True,
            postgresql_include=["row_hash"],
        ),
        # What the sealer looks for: the committed rows not yet linked.
        Index(
            "idx_audit_log_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
        CheckConstraint(
            "seq IS NULL OR (prev_hash IS NOT NULL AND row_hash IS NOT NULL)", name="sealed"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT")
    )
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))
    # The hash chain (docs/audit-chain.md): the writer sets chain_id; the sealer
    # sets seq, prev_hash, row_hash and sealed_at.
    chain_id: Mapped[str] = mapped_column(String(40), nullable=False)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    actor_role: Mapped[str | None] = mapped_column(String(32))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
