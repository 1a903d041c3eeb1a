"""The base of every repository over tenant-owned rows.

A repository is built with one tenant id and puts the tenant filter in its base
statement; every query starts from `base()`, so no method can forget the scope
and no caller passes a tenant id per query. `tests/test_tenant_scope.py` fails
when a query on a tenant-owned table is written outside a repository module.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Executable, Insert, Select, select
from sqlalchemy.ext.asyncio import AsyncSession


async def execute_core(session: AsyncSession, statement: Executable, params: Any = None) -> Any:
    """Run a Core statement on the session's connection, in its transaction.

    `session.execute` sends every statement through the ORM's execution path
    (compile state, identity map hooks), which a Core insert or a column select
    does not need: on the hot paths that is a sizeable share of a request.
    Pending ORM changes are flushed first, so statements keep their order.
    """
    await flush_pending(session)
    connection = await session.connection()
    return await connection.execute(statement, params)  # a CursorResult


async def flush_pending(session: AsyncSession) -> None:
    """Write pending ORM changes, so a statement sent beside the ORM keeps its order."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A write that goes with an INSERT ... RETURNING, made only when the insert
    returns rows (an audit row for a row stored). On PostgreSQL both are one
    statement: `wrap` makes the insert a data-modifying CTE of the follow-up's
    own INSERT, bound with `params`, which saves a round trip. Elsewhere
    `separately` writes it after the insert, in the same transaction."""

    wrap: Callable[[Insert], Insert]
    params: dict[str, Any]
    separately: Callable[[AsyncSession], Awaitable[None]]


class TenantOwned(Protocol):
    """A mapped row with an id and a tenant."""

    id: Any
    tenant_id: Any


Row = TypeVar("Row", bound=TenantOwned)


class TenantScopedRepository(Generic[Row]):
    """Rows of `model` that belong to one tenant."""

    model: ClassVar[type[Any]]
    # Whether `None` names a scope of its own (platform-wide rows with no tenant).
    platform_scope: ClassVar[bool] = False

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
        if tenant_id is None and not self.platform_scope:
            raise ValueError(f"{type(self).__name__} needs a tenant id")
        self.session = session
        self.tenant_id = tenant_id

    def scope(self) -> ColumnElement[bool]:
        """The tenant filter itself, for statements that do not start from `base()`."""
        column: ColumnElement[uuid.UUID | None] = self.model.tenant_id
        return column.is_(None) if self.tenant_id is None else column == self.tenant_id

    def base(self) -> Select[Row]:
        return select(self.model).where(self.scope())

    async def get(self, row_id: Any, *, for_update: bool = False) -> Row | None:
        query = self.base().where(self.model.id == row_id)
        if for_update:
            query = query.with_for_update()
        row: Row | None = await self.session.scalar(query)
        return row

    async def add(self, row: Row) -> Row:
        """Store a new row in this tenant (its tenant id is set here, not by the caller)."""
        row.tenant_id = self.tenant_id
        self.session.add(row)
        await self.session.flush()
        return row

    def owns(self, values: dict[str, Any]) -> None:
        """Refuse to write a Core row of another tenant through this repository."""
        if values.get("tenant_id") != self.tenant_id:
            raise ValueError(f"a {self.model.__name__} row is written only into its own tenant")
