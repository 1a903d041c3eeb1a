from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntId, UTCDateTime, utcnow


class AuditAnchor(Base):
    """What retention cut from one tenant's audit chain in one run.

    `last_id` / `last_row_hash` are the newest removed row: the oldest row
    still kept for the tenant carries that hash as its `prev_hash`, so the
    chain stays provable from the anchor onwards. No foreign key: an anchor
    outlives everything it describes.
    """

    __tablename__ = "audit_anchors"
    __table_args__ = (
        Index("idx_audit_anchors_tenant_last", "tenant_id", "last_id"),
        Index("idx_audit_anchors_run", "run_id"),
        Index("idx_audit_anchors_chain_seq", "chain_id", "last_seq"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid(), nullable=False)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    first_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_row_hash: Mapped[str | None] = mapped_column(String(64))
    last_timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # The chain and the newest removed seq (NULL on anchors from before the chain).
    chain_id: Mapped[str | None] = mapped_column(String(40))
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    rows_removed: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )
