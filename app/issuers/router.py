"""HTTP for the truststore. Platform admins without X-Tenant-ID act on the
global truststore that every tenant trusts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.core.errors import Forbidden
from app.issuers.deps import IssuerServiceDep
from app.issuers.schemas import IssuerCreate, IssuerRead, IssuerUpdate, KeyAdd, Kid
from app.issuers.service import to_read
from app.keys import IssuerStatus
from app.tenancy.deps import CanManageIssuers, CanReadIssuers

router = APIRouter(prefix="/api/v1/issuers", tags=["issuers"])


@router.post("", status_code=201, response_model=IssuerRead)
async def create_issuer(
    body: IssuerCreate, principal: CanManageIssuers, issuers: IssuerServiceDep
) -> IssuerRead:
    """Trust an issuer: an inline `jwks`, a `jwks_url`, or neither for did:key / did:jwk."""
    if body.is_global:
        if not principal.is_platform_admin:
            raise Forbidden(
                "Only platform admins manage global issuers.", code="platform_admin_only"
            )
        issuers = issuers.for_scope(None)
    return to_read(await issuers.create(body))


@router.get("", response_model=list[IssuerRead])
async def list_issuers(
    _: CanReadIssuers,
    issuers: IssuerServiceDep,
    status: Annotated[IssuerStatus | None, Query()] = None,
) -> list[IssuerRead]:
    """The issuers this tenant trusts (its own and the global ones)."""
    return [to_read(row) for row in await issuers.list(status=status)]


@router.get("/{issuer_id}", response_model=IssuerRead)
async def get_issuer(
    issuer_id: uuid.UUID, _: CanReadIssuers, issuers: IssuerServiceDep
) -> IssuerRead:
    """One issuer, with the kids of its keys."""
    return to_read(await issuers.get(issuer_id))


@router.patch("/{issuer_id}", response_model=IssuerRead)
async def update_issuer(
    issuer_id: uuid.UUID, body: IssuerUpdate, _: CanManageIssuers, issuers: IssuerServiceDep
) -> IssuerRead:
    """Change an issuer's status (`active`, `suspended`, `revoked`), name or keys."""
    return to_read(await issuers.update(issuer_id, body))


@router.post("/{issuer_id}/keys", response_model=IssuerRead)
async def add_issuer_key(
    issuer_id: uuid.UUID, body: KeyAdd, _: CanManageIssuers, issuers: IssuerServiceDep
) -> IssuerRead:
    """Add a key (key rotation: add the new key, later remove the old one)."""
    return to_read(await issuers.add_key(issuer_id, body.jwk))


@router.delete("/{issuer_id}/keys/{kid}", response_model=IssuerRead)
async def remove_issuer_key(
    issuer_id: uuid.UUID, kid: Kid, _: CanManageIssuers, issuers: IssuerServiceDep
) -> IssuerRead:
    """Remove a key by its kid (an issuer keeps at least one)."""
    return to_read(await issuers.remove_key(issuer_id, kid))


@router.delete("/{issuer_id}", status_code=204, response_class=Response)
async def delete_issuer(
    issuer_id: uuid.UUID, _: CanManageIssuers, issuers: IssuerServiceDep
) -> Response:
    """Remove an issuer from the truststore."""
    await issuers.delete(issuer_id)
    return Response(status_code=204)
