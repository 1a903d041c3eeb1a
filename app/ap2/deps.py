"""HTTP dependencies of the AP2 v0.2 feature: the vault signer slot and the service."""

# No `from __future__ import annotations`: FastAPI reads these annotations.
from typing import Annotated

from fastapi import Depends

from app.ap2.rejections import RejectionService
from app.ap2.service import Ap2Service
from app.ap2.signer import KeyringSigner, VaultSigners
from app.issuers.deps import TrustLoaderDep
from app.tenancy.deps import CurrentPrincipal, TenantId
from app.web.sessions import SessionDep
from app.web.state import ClockDep, SettingsDep, Slot

VAULT_SIGNERS: Slot[VaultSigners] = Slot("ap2_vault_signers")


async def vault_signer(signers: Annotated[VaultSigners, Depends(VAULT_SIGNERS)]) -> KeyringSigner:
    """The vault key, read before the request's transaction begins (see app.ap2.signer)."""
    return await signers.current()


SignerDep = Annotated[KeyringSigner, Depends(vault_signer)]


async def ap2_service(
    signer: SignerDep,  # first: resolved before the session runs its first statement
    session: SessionDep,
    tenant_id: TenantId,
    principal: CurrentPrincipal,
    trust: TrustLoaderDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Ap2Service:
    return Ap2Service(session, tenant_id, principal.actor, trust, settings, clock, signer)


Ap2ServiceDep = Annotated[Ap2Service, Depends(ap2_service)]


async def rejection_service(
    session: SessionDep, tenant_id: TenantId, principal: CurrentPrincipal
) -> RejectionService:
    return RejectionService(session, tenant_id, principal.actor)


RejectionServiceDep = Annotated[RejectionService, Depends(rejection_service)]
