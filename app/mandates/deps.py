"""HTTP dependency of the mandates feature: the caller's way to MandateService.

A route declares `MandatesFor(permission)` alone: one resolution step admits the
caller and finds its tenant, and the handler opens the session it needs (a unit
of work, or reads on the primary or the read engine) with `async with`, so no
generator dependency is entered per request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.issuers.deps import TRUST_LOADER
from app.mandates.service import MandateService
from app.tenancy.deps import TenantAccess
from app.tenancy.permissions import Permission
from app.tenancy.principal import Principal
from app.web.sessions import unit_of_work
from app.web.state import CLOCK, DATABASE, SETTINGS


@dataclass(frozen=True, slots=True)
class Mandates:
    """MandateService for one request's caller and tenant, on the session asked for."""

    request: Request
    principal: Principal
    tenant_id: uuid.UUID

    def _service(self, session: AsyncSession) -> MandateService:
        request = self.request
        return MandateService(
            session,
            self.tenant_id,
            self.principal.actor,
            TRUST_LOADER.get(request),
            SETTINGS.get(request),
            CLOCK.get(request),
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[MandateService]:
        """On the primary, committed when the block ends (before the answer is
        sent), rolled back when it raises."""
        async with unit_of_work(DATABASE.get(self.request)) as session:
            yield self._service(session)

    @asynccontextmanager
    async def primary_reads(self) -> AsyncIterator[MandateService]:
        """Reads on the primary, without a transaction: a GET of one mandate."""
        async with DATABASE.get(self.request).primary_reads() as session:
            yield self._service(session)

    @asynccontextmanager
    async def replica_reads(self) -> AsyncIterator[MandateService]:
        """Reads that tolerate replica lag: searches."""
        async with DATABASE.get(self.request).read_sessions() as session:
            yield self._service(session)


class MandatesFor(TenantAccess):
    """The dependency: `Mandates` for a caller whose role holds `permission`."""

    async def __call__(self, request: Request) -> Mandates:
        principal, tenant_id = await self.resolve(request)
        return Mandates(request, principal, tenant_id)


ReadMandates = Annotated[Mandates, Depends(MandatesFor(Permission.MANDATES_READ))]
WriteMandates = Annotated[Mandates, Depends(MandatesFor(Permission.MANDATES_WRITE))]
