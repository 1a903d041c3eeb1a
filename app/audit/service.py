"""Recording what happened. Callers pass the session of the change they record,
so the row commits (or rolls back) with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.chain import chain_id_for
from app.audit.repository import audited, audited_params, insert_many_rows, insert_rows
from app.core.actor import CLIENT_IP, Actor
from app.core.repository import FollowUp


def audit_values(
    *,
    tenant_id: uuid.UUID | None,
    actor: Actor,
    action: str,
    resource_type: str | None = None,
    resource_id: str | uuid.UUID | None = None,
    outcome: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    context = structlog.contextvars.get_contextvars()
    return {
        "tenant_id": tenant_id,
        "chain_id": chain_id_for(tenant_id),
        "actor_role": actor.role,
        "timestamp": at or datetime.now(UTC),
        "actor_type": actor.type,
        "actor_id": actor.id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id) if resource_id is not None else None,
        "outcome": outcome,
        "request_id": context.get("request_id"),
        "ip_address": CLIENT_IP.get(),
        "details": details or {},
    }


async def record(session: AsyncSession, **values: Any) -> None:
    """Write one audit row now, inside the caller's transaction."""
    await insert_rows(session, [audit_values(**values)])


def recorded_with(**values: Any) -> FollowUp:
    """The audit row (`audit_values(**values)`) of a row an insert stores, written
    with that insert (in its statement on PostgreSQL) and only if it stores one."""
    row = audit_values(**values)

    async def separately(session: AsyncSession) -> None:
        await insert_rows(session, [row])

    return FollowUp(audited, audited_params(row), separately)


async def record_many(target: AsyncSession | AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Write several audit rows in one statement, in a session's or a connection's transaction."""
    await insert_rows(target, rows)


async def record_bulk(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write a bulk ingest's rows (built by `audit_values`) in the session's transaction."""
    await insert_many_rows(session, rows)
