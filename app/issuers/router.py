"""HTTP for the truststore. Platform admins without X-Tenant-ID act on the
global truststore that every tenant trusts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.audit.actor import Actor as AuditActor
from app.core.database import SessionDep
from app.core.errors import Forbidden
from app.issuers.schemas import IssuerCreate, IssuerRead, IssuerStatus, IssuerUpdate, KeyAdd
from app.issuers.service import IssuerService, to_read
from app.tenancy.deps import TENANT_HEADER, Authorized, current_tenant_id
from app.tenancy.permissions import Permission
from app.tenancy.principal import Actor

router = APIRouter(prefix="/api/v1/issuers", tags=["issuers"])
Reader = Authorized(Permission.ISSUERS_READ)
Manager = Authorized(Permission.ISSUERS_MANAGE)


async def issuer_scope(
    request: Request, actor: Actor, want_global: bool = False
) -> uuid.UUID | None:
    if want_global:
        if not actor.is_platform_admin:
            raise Forbidden(
                "Only platform admins manage global issuers.", code="platform_admin_only"
            )
        return None
    if actor.is_platform_admin and not request.headers.get(TENANT_HEADER):
        return None
    return await current_tenant_id(request, actor)


def service(request: Request, session, scope, actor: Actor) -> IssuerService:
    return IssuerService(
        session, scope, AuditActor(actor.kind, actor.audit_id), request.app.state.jwks
    )


@router.post("", status_code=201, response_model=IssuerRead)
async def create_issuer(
    body: IssuerCreate, request: Request, session: SessionDep, actor: Manager
) -> IssuerRead:
    scope = await issuer_scope(request, actor, body.is_global)
    return to_read(await service(request, session, scope, actor).create(body))


@router.get("", response_model=list[IssuerRead])
async def list_issuers(
    request: Request,
    session: SessionDep,
    actor: Reader,
    status: Annotated[IssuerStatus | None, Query()] = None,
) -> list[IssuerRead]:
    scope = await issuer_scope(request, actor)
    return [
        to_read(row) for row in await service(request, session, scope, actor).list(status=status)
    ]


@router.get("/{issuer_id}", response_model=IssuerRead)
async def get_issuer(
    issuer_id: uuid.UUID, request: Request, session: SessionDep, actor: Reader
) -> IssuerRead:
    scope = await issuer_scope(request, actor)
    return to_read(await service(request, session, scope, actor).get(issuer_id))


@router.patch("/{issuer_id}", response_model=IssuerRead)
async def update_issuer(
    issuer_id: uuid.UUID, body: IssuerUpdate, request: Request, session: SessionDep, actor: Manager
) -> IssuerRead:
    scope = await issuer_scope(request, actor)
    return to_read(await service(request, session, scope, actor).update(issuer_id, body))


@router.post("/{issuer_id}/keys", response_model=IssuerRead)
async def add_issuer_key(
    issuer_id: uuid.UUID, body: KeyAdd, request: Request, session: SessionDep, actor: Manager
) -> IssuerRead:
    scope = await issuer_scope(request, actor)
    return to_read(await service(request, session, scope, actor).add_key(issuer_id, body.jwk))


@router.delete("/{issuer_id}/keys/{kid}", response_model=IssuerRead)
async def remove_issuer_key(
    issuer_id: uuid.UUID, kid: str, request: Request, session: SessionDep, actor: Manager
) -> IssuerRead:
    scope = await issuer_scope(request, actor)
    return to_read(await service(request, session, scope, actor).remove_key(issuer_id, kid))


@router.delete("/{issuer_id}", status_code=204, response_class=Response)
async def delete_issuer(
    issuer_id: uuid.UUID, request: Request, session: SessionDep, actor: Manager
) -> Response:
    scope = await issuer_scope(request, actor)
    await service(request, session, scope, actor).delete(issuer_id)
    return Response(status_code=204)
