"""Reading the trail: one resource's history, as the dashboard shows it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.repository import AuditTrail
from app.models import AuditLog

HISTORY_LIMIT = 200


async def resource_history(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    resource_type: str,
    resource_id: uuid.UUID | str,
    limit: int = HISTORY_LIMIT,
) -> list[AuditLog]:
    """The tenant's audit rows about one resource, newest first."""
    return await AuditTrail(session, tenant_id).for_resource(
        resource_type, str(resource_id), limit=limit
    )
