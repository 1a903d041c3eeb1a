from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, UTCDateTime, UUIDPrimaryKey, utcnow

SEVERITIES = ("info", "warning", "critical")


class Alert(UUIDPrimaryKey, Base):
    """Something a tenant should look at: a mandate expiring, a failing webhook..."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("idx_alerts_tenant_created", "tenant_id", "created_at"),
        Index("idx_alerts_tenant_unresolved", "tenant_id", "resolved_at"),
        CheckConstraint(f"severity IN {SEVERITIES!r}", name="severity"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    mandate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("mandates.id", ondelete="SET NULL")
    )
    alert_type: Mapped[str] = mapped_column(String(64), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False, default="info")
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
