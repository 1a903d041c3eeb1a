"""HTTP dependencies of the mandates feature: its service, on the primary or on
the read engine."""

# No `from __future__ import annotations`: `_provider` builds its dependency
# signature from a variable, which FastAPI must see as a real annotation.
from typing import Annotated, Any

from fastapi import Depends

from app.issuers.deps import TrustLoaderDep
from app.mandates.service import MandateService
from app.tenancy.deps import CurrentPrincipal, TenantId
from app.web.sessions import ReadSessionDep, SessionDep
from app.web.state import ClockDep, SettingsDep


def _provider(session_dependency: Any) -> Any:
    async def provide(
        session: session_dependency,
        tenant_id: TenantId,
        principal: CurrentPrincipal,
        trust: TrustLoaderDep,
        settings: SettingsDep,
        clock: ClockDep,
    ) -> MandateService:
        return MandateService(session, tenant_id, principal.actor, trust, settings, clock)

    return provide


MandateServiceDep = Annotated[MandateService, Depends(_provider(SessionDep))]
# Searches tolerate replica lag; reads of one mandate use the primary.
ReadMandateServiceDep = Annotated[MandateService, Depends(_provider(ReadSessionDep))]
