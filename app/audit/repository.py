"""Writing audit rows: one Core INSERT in the caller's transaction, no ORM
unit-of-work cost on hot paths such as ingest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.driver import write_rows
from app.core.multirow import insert_many
from app.core.repository import TenantScopedRepository, execute_core
from app.models import AuditLog
from app.models.base import table_of

_INSERT = insert(table_of(AuditLog))


@dataclass(frozen=True, slots=True)
class TrailFilter:
    action: str | None = None
    actor_id: str | None = None
    actor_type: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def insert_rows(target: AsyncSession | AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Rows already carry their tenant and chain (see `audit_values`); nothing is read here."""
    if not rows:
        return
    if isinstance(target, AsyncSession):
        if len(rows) == 1:
            await write_rows(target, _INSERT, rows[0])
        else:
            await execute_core(target, _INSERT, rows)
    else:
        await target.execute(_INSERT, rows)


async def insert_many_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Thousands of rows (a bulk ingest's) in one statement: `unnest` on PostgreSQL."""
    await insert_many(session, table_of(AuditLog), rows)


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

    async def page(
        self, where: TrailFilter, *, before_id: int | None, limit: int
    ) -> list[AuditLog]:
        """Rows matching the filter, newest first (by id), after the keyset position."""
        query = self.base()
        if where.action is not None:
            query = query.where(AuditLog.action == where.action)
        if where.actor_id is not None:
            query = query.where(AuditLog.actor_id == where.actor_id)
        if where.actor_type is not None:
            query = query.where(AuditLog.actor_type == where.actor_type)
        if where.resource_type is not None:
            query = query.where(AuditLog.resource_type == where.resource_type)
        if where.resource_id is not None:
            query = query.where(AuditLog.resource_id == where.resource_id)
        if where.since is not None:
            query = query.where(AuditLog.timestamp >= where.since)
        if where.until is not None:
            query = query.where(AuditLog.timestamp < where.until)
        if before_id is not None:
            query = query.where(AuditLog.id < before_id)
        query = query.order_by(AuditLog.id.desc()).limit(limit)
        return list(await self.session.scalars(query))

    async def sealed_after(
        self, *, after_seq: int, since: datetime | None, limit: int
    ) -> list[AuditLog]:
        """Sealed rows after `after_seq` (and at or after `since`), in seq order."""
        query = self.base().where(AuditLog.seq.is_not(None), AuditLog.seq > after_seq)
        if since is not None:
            query = query.where(AuditLog.timestamp >= since)
        return list(await self.session.scalars(query.order_by(AuditLog.seq).limit(limit)))
