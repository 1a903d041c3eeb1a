"""HTTP dependencies of evidence packs."""

# No `from __future__ import annotations`: FastAPI reads these annotations.
from typing import Annotated

from fastapi import Depends

from app.evidence.service import EvidenceService
from app.tenancy.deps import CurrentPrincipal, TenantId
from app.web.sessions import SessionDep
from app.web.state import ClockDep, DatabaseDep, SettingsDep


async def evidence_service(
    session: SessionDep,
    database: DatabaseDep,
    tenant_id: TenantId,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    clock: ClockDep,
) -> EvidenceService:
    return EvidenceService(session, database, tenant_id, principal.actor, settings, clock)


EvidenceServiceDep = Annotated[EvidenceService, Depends(evidence_service)]
