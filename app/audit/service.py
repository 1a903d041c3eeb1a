"""Writing audit rows. Callers pass the session of the change they record, so
the row commits (or rolls back) with it."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.actor import Actor
from app.models import AuditLog


def record(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    actor: Actor,
    action: str,
    resource_type: str | None = None,
    resource_id: str | uuid.UUID | None = None,
    outcome: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    context = structlog.contextvars.get_contextvars()
    row = AuditLog(
        tenant_id=tenant_id,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        outcome=outcome,
        request_id=context.get("request_id"),
        ip_address=context.get("client_ip"),
        details=details or {},
    )
    session.add(row)
    return row
