from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, UTCDateTime, UUIDPrimaryKey, utcnow

SEVERITIES = ("info", "warning", "critical")


class Resolution(enum.StrEnum):
    """How an alert came to be resolved."""

    CLEARED = "cleared"  # its condition no longer holds (the sweep saw it)
    MANUAL = "manual"  # someone resolved it


RESOLUTIONS = tuple(r.value for r in Resolution)
OPEN = text("resolved_at IS NULL")


class Alert(UUIDPrimaryKey, Base):
    """Something a tenant (or, with no tenant, the platform operator) should look
    at: a mandate expiring, a failing webhook, a stale backup...

    `dedupe_key` names the condition (a mandate, an issuer, a tenant and a
    failure code...); at most one alert per type and key is open at a time.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("idx_alerts_tenant_created", "tenant_id", "created_at"),
        Index("idx_alerts_tenant_unresolved", "tenant_id", "resolved_at"),
        Index(
            "uq_alerts_open_condition",
            "alert_type",
            "dedupe_key",
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
        Index("idx_alerts_type_key", "alert_type", "dedupe_key"),
        # The expiry sweep's "never alerted" check, per mandate: without it the
        # planner, with statistics not yet caught up on a fast-growing table,
        # picks a nested loop over every alert for every expiring mandate.
        Index("idx_alerts_type_mandate", "alert_type", "mandate_id"),
        Index("idx_alerts_resolved_at", "resolved_at"),
        CheckConstraint(f"severity IN {SEVERITIES!r}", name="severity"),
        CheckConstraint(f"resolution IN {RESOLUTIONS!r}", name="resolution"),
    )

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT")
    )
    mandate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("mandates.id", ondelete="SET NULL")
    )
    alert_type: Mapped[str] = mapped_column(String(64), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(200), nullable=False, server_default="")
    severity: Mapped[str] = mapped_column(String(16), nullable=False, default="info")
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
