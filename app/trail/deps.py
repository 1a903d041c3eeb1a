"""HTTP dependencies of the audit trail: its service for the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.tenancy.deps import TenantId
from app.trail.service import TrailService
from app.web.state import ClockDep, DatabaseDep, SettingsDep


async def trail_service(
    tenant_id: TenantId, database: DatabaseDep, settings: SettingsDep, clock: ClockDep
) -> TrailService:
    return TrailService(database, tenant_id, settings, clock)


TrailServiceDep = Annotated[TrailService, Depends(trail_service)]
