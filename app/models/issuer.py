from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.keys import IssuerStatus
from app.models.base import Base, JSONType, Timestamps, UTCDateTime, UUIDPrimaryKey

ISSUER_STATUSES = tuple(s.value for s in IssuerStatus)


class Issuer(UUIDPrimaryKey, Timestamps, Base):
    """A trusted issuer (truststore entry). No tenant means every tenant trusts it."""

    __tablename__ = "issuers"
    __table_args__ = (
        Index("idx_issuers_tenant_did", "tenant_id", "did", unique=True),
        Index("idx_issuers_did", "did"),
        CheckConstraint(f"status IN {ISSUER_STATUSES!r}", name="status"),
    )

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT")
    )
    did: Mapped[str] = mapped_column(String(2048), nullable=False)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    jwks_url: Mapped[str | None] = mapped_column(String(2048))
    jwks_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last failed fetch of jwks_url, and since when fetches have failed
    # (both cleared by the next success).
    jwks_error: Mapped[str | None] = mapped_column(String(500))
    jwks_failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
