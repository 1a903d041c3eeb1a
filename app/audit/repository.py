"""Writing audit rows: one Core INSERT in the caller's transaction, no ORM
unit-of-work cost on hot paths such as ingest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.driver import write_rows
from app.core.multirow import insert_many
from app.core.repository import TenantScopedRepository, execute_core
from app.models import AuditLog
from app.models.base import table_of

_TABLE = table_of(AuditLog)
_INSERT = insert(_TABLE)
# What `audit_values` fills: the columns of a row written after a change (the
# sealer fills the chain's later).
WRITTEN = (
    "tenant_id",
    "chain_id",
    "actor_role",
    "timestamp",
    "actor_type",
    "actor_id",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "request_id",
    "ip_address",
    "details",
)
_WRITTEN = frozenset(WRITTEN)
_PREFIX = "audit_"


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


def audited(change: Insert) -> Insert:
    """`change` (an INSERT ... RETURNING) and one audit row for each row it
    returns, as one statement: the change is a data-modifying CTE, so a change
    that writes nothing (ON CONFLICT DO NOTHING) writes no audit row either, and
    the statement returns one row per audit row. PostgreSQL only; bind the row
    with `audited_params`."""
    done = change.cte("change")
    row = select(*(bindparam(_PREFIX + name, type_=_TABLE.c[name].type) for name in WRITTEN))
    return insert(_TABLE).from_select(WRITTEN, row.select_from(done)).returning(_TABLE.c.id)


def audited_params(row: dict[str, Any]) -> dict[str, Any]:
    """The bound values of an `audited` statement's audit row (built by `audit_values`)."""
    if row.keys() != _WRITTEN:  # a column audit_values gained must be written here too
        raise ValueError(f"an audit row has the columns {', '.join(WRITTEN)}: {sorted(row)}")
    return {_PREFIX + name: row[name] for name in WRITTEN}


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
