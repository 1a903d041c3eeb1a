"""HTTP dependencies of the truststore: its long-lived objects and its service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.issuers.jwks import JwksClient
from app.issuers.service import IssuerService
from app.issuers.trust import TrustLoader
from app.tenancy.deps import CurrentPrincipal, TenantOrPlatform
from app.web.sessions import SessionDep
from app.web.state import Slot

JWKS_CLIENT: Slot[JwksClient] = Slot("jwks_client")
TRUST_LOADER: Slot[TrustLoader] = Slot("trust_loader")

JwksClientDep = Annotated[JwksClient, Depends(JWKS_CLIENT)]
TrustLoaderDep = Annotated[TrustLoader, Depends(TRUST_LOADER)]


async def issuer_service(
    session: SessionDep,
    principal: CurrentPrincipal,
    jwks: JwksClientDep,
    scope: TenantOrPlatform,
) -> IssuerService:
    return IssuerService(session, scope, principal.actor, jwks)


IssuerServiceDep = Annotated[IssuerService, Depends(issuer_service)]
