"""HTTP dependencies of the mandates feature: its service, on the primary or on
the read engine."""

# No `from __future__ import annotations`: `_provider` builds its dependency
# signature from a variable, which FastAPI must see as a real annotation.
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.issuers.deps import TRUST_LOADER
from app.mandates.service import MandateService
from app.tenancy.deps import CurrentPrincipal, TenantId
from app.web.sessions import ReadSessionDep, SessionDep, unit_of_work
from app.web.state import CLOCK, DATABASE, SETTINGS


def _provider(session_dependency: Any) -> Any:
    # The long-lived objects are read from their slots here rather than declared
    # as dependencies of their own: each declared dependency costs FastAPI a
    # resolution step on every request of these hot routes.
    async def provide(
        request: Request,
        session: session_dependency,
        tenant_id: TenantId,
        principal: CurrentPrincipal,
    ) -> MandateService:
        return MandateService(
            session,
            tenant_id,
            principal.actor,
            TRUST_LOADER.get(request),
            SETTINGS.get(request),
            CLOCK.get(request),
        )

    return provide


async def one_mandate_session(request: Request) -> AsyncIterator[AsyncSession]:
    """GET of one mandate reads the primary without a transaction; `?include=token`
    writes an audit row, so that read is a unit of work."""
    database = DATABASE.get(request)
    if request.query_params.get("include") is None:
        async with database.primary_reads() as session:
            yield session
        return
    async with unit_of_work(database) as session:
        yield session


OneMandateSessionDep = Annotated[AsyncSession, Depends(one_mandate_session, scope="function")]
MandateServiceDep = Annotated[MandateService, Depends(_provider(SessionDep))]
OneMandateServiceDep = Annotated[MandateService, Depends(_provider(OneMandateSessionDep))]
# Searches tolerate replica lag; reads of one mandate use the primary.
ReadMandateServiceDep = Annotated[MandateService, Depends(_provider(ReadSessionDep))]
