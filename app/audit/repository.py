"""Writing audit rows: one Core INSERT in the caller's transaction, no ORM
unit-of-work cost on hot paths such as ingest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.repository import TenantScopedRepository
from app.models import AuditLog
from app.models.base import table_of

_INSERT = insert(table_of(AuditLog))


async def insert_rows(target: AsyncSession | AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Rows already carry their tenant (see `audit_values`); nothing is read here."""
    if rows:
        await target.execute(_INSERT, rows)


class AuditTrail(TenantScopedRepository[AuditLog]):
    """Reading a tenant's audit rows."""

    model = AuditLog

    async def for_resource(
        self, resource_type: str, resource_id: str, *, limit: int
    ) -> list[AuditLog]:
        """A resource's rows, newest first."""
        query = (
            self.base()
            .where(AuditLog.resource_type == resource_type, AuditLog.resource_id == resource_id)
            .order_by(AuditLog.timestamp.desc(), AuditLog.id.desc())
            .limit(limit)
        )
        return list(await self.session.scalars(query))
