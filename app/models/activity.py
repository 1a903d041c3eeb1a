from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntId, UTCDateTime


class ActivityHour(Base):
    """Audit events of one tenant counted per hour, action and outcome.

    Derived from `audit_log` by the roll-up job for hours that have closed, so
    the dashboard's 7-day charts read a few hundred rows instead of every event.
    """

    __tablename__ = "activity_hourly"
    __table_args__ = (UniqueConstraint("tenant_id", "hour", "action", "outcome"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class ActivityRollup(Base):
    """One row: every hour before `rolled_up_to` is in `activity_hourly`."""

    __tablename__ = "activity_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rolled_up_to: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class StatusCount(Base):
    """How many of a tenant's mandates were in each status when last counted
    (by the roll-up job), so the overview reads a few rows, not every mandate."""

    __tablename__ = "mandate_status_counts"
    __table_args__ = (UniqueConstraint("tenant_id", "status"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
