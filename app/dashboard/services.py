"""The services the pages call, built exactly as the API's dependencies build
them (same tenant, same actor, same trust loader, same clock)."""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.dashboard.deps import Viewer
from app.issuers.deps import JWKS_CLIENT, TRUST_LOADER
from app.issuers.service import IssuerService
from app.mandates.service import MandateService
from app.web.state import CLOCK, SETTINGS


def mandate_service(request: Request, viewer: Viewer, session: AsyncSession) -> MandateService:
    return MandateService(
        session,
        viewer.need_tenant(),
        viewer.principal.actor,
        TRUST_LOADER.get(request),
        SETTINGS.get(request),
        CLOCK.get(request),
    )


def issuer_scope(viewer: Viewer) -> uuid.UUID | None:
    """A tenant's truststore, or for a platform admin with no tenant in view the
    global one (as the API does without X-Tenant-ID)."""
    if viewer.is_platform_admin and viewer.tenant is None:
        return None
    return viewer.need_tenant()


def issuer_service(request: Request, viewer: Viewer, session: AsyncSession) -> IssuerService:
    return IssuerService(
        session, issuer_scope(viewer), viewer.principal.actor, JWKS_CLIENT.get(request)
    )
