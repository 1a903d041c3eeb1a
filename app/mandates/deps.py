"""HTTP dependency of the mandates feature: the caller's way to MandateService.

A route declares `MandatesFor(permission)` alone: one resolution step admits the
caller and finds its tenant, and the handler opens the session it needs (a unit
of work, or reads on the primary or the read engine) with `async with`, so no
generator dependency is entered per request."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
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

    def unit_of_work(self) -> _ServiceOn:
        """On the primary, committed when the block ends (before the answer is
        sent), rolled back when it raises."""
        return _ServiceOn(self, unit_of_work(DATABASE.get(self.request)))

    def primary_reads(self) -> _ServiceOn:
        """Reads on the primary, without a transaction: a GET of one mandate."""
        return _ServiceOn(self, DATABASE.get(self.request).primary_reads())

    def replica_reads(self) -> _ServiceOn:
        """Reads that tolerate replica lag: searches."""
        return _ServiceOn(self, DATABASE.get(self.request).read_sessions())


class _ServiceOn:
    """`async with`: the service on the session `opening` opens, which it closes
    as it would alone (committed, rolled back or given back). A class rather than
    a generator-based context manager, which costs several times as much on
    every request."""

    __slots__ = ("_mandates", "_opening")

    def __init__(
        self, mandates: Mandates, opening: AbstractAsyncContextManager[AsyncSession]
    ) -> None:
        self._mandates = mandates
        self._opening = opening

    async def __aenter__(self) -> MandateService:
        session = await self._opening.__aenter__()
        try:
            return self._mandates._service(session)
        except BaseException as error:  # the session is closed as the block's end would
            await self._opening.__aexit__(type(error), error, error.__traceback__)
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> bool | None:
        return await self._opening.__aexit__(kind, error, trace)


class MandatesFor(TenantAccess):
    """The dependency: `Mandates` for a caller whose role holds `permission`."""

    async def __call__(self, request: Request) -> Mandates:
        principal, tenant_id = await self.resolve(request)
        return Mandates(request, principal, tenant_id)


ReadMandates = Annotated[Mandates, Depends(MandatesFor(Permission.MANDATES_READ))]
WriteMandates = Annotated[Mandates, Depends(MandatesFor(Permission.MANDATES_WRITE))]
