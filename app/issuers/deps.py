"""HTTP dependencies of the truststore: its long-lived objects and its service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.issuers.jwks import JwksClient
from app.issuers.service import IssuerService
from app.issuers.trust import TrustLoader
from app.tenancy.deps import TENANT_HEADER, CurrentPrincipal, current_tenant_id
from app.web.sessions import SessionDep
from app.web.state import Slot

JWKS_CLIENT: Slot[JwksClient] = Slot("jwks_client")
TRUST_LOADER: Slot[TrustLoader] = Slot("trust_loader")

JwksClientDep = Annotated[JwksClient, Depends(JWKS_CLIENT)]
TrustLoaderDep = Annotated[TrustLoader, Depends(TRUST_LOADER)]


async def default_scope(request: Request, principal: CurrentPrincipal) -> uuid.UUID | None:
    """The truststore a request acts on: a tenant's, or for a platform admin without
    X-Tenant-ID the global one."""
    if principal.is_platform_admin and not request.headers.get(TENANT_HEADER):
        return None
    return await current_tenant_id(request, principal)


async def issuer_service(
    session: SessionDep,
    principal: CurrentPrincipal,
    jwks: JwksClientDep,
    scope: Annotated[uuid.UUID | None, Depends(default_scope)],
) -> IssuerService:
    return IssuerService(session, scope, principal.actor, jwks)


IssuerServiceDep = Annotated[IssuerService, Depends(issuer_service)]
