"""HTTP dependencies of the mandates feature: its service, on the primary or on
the read engine."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import Clock
from app.core.config import Settings
from app.issuers.deps import TrustLoaderDep
from app.issuers.trust import TrustLoader
from app.mandates.service import MandateService
from app.tenancy.deps import CurrentPrincipal, TenantId
from app.tenancy.principal import Principal
from app.web.sessions import ReadSessionDep, SessionDep
from app.web.state import ClockDep, SettingsDep


def _service(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    principal: Principal,
    trust: TrustLoader,
    settings: Settings,
    clock: Clock,
) -> MandateService:
    return MandateService(session, tenant_id, principal.actor, trust, settings, clock)


async def mandate_service(
    session: SessionDep,
    tenant_id: TenantId,
    principal: CurrentPrincipal,
    trust: TrustLoaderDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> MandateService:
    return _service(session, tenant_id, principal, trust, settings, clock)


async def read_mandate_service(
    session: ReadSessionDep,
    tenant_id: TenantId,
    principal: CurrentPrincipal,
    trust: TrustLoaderDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> MandateService:
    return _service(session, tenant_id, principal, trust, settings, clock)


MandateServiceDep = Annotated[MandateService, Depends(mandate_service)]
# Searches tolerate replica lag; reads of one mandate use the primary.
ReadMandateServiceDep = Annotated[MandateService, Depends(read_mandate_service)]
