"""HTTP for mandates: thin handlers over MandateService."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from app.audit.actor import Actor as AuditActor
from app.core.database import ReadSessionDep, SessionDep
from app.core.errors import problem
from app.mandates import idempotency
from app.mandates.schemas import (
    BatchItemResult,
    BatchResult,
    MandateBatch,
    MandateCreate,
    MandatePage,
    MandatePatch,
    MandateRead,
    RevokeRequest,
    VerificationRead,
)
from app.mandates.search import MandateSearch
from app.mandates.service import IngestOutcome, MandateService, to_read
from app.tenancy.deps import Authorized, TenantId
from app.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1/mandates", tags=["mandates"])
Reader = Authorized(Permission.MANDATES_READ)
Writer = Authorized(Permission.MANDATES_WRITE)


def service(request: Request, session, tenant_id: uuid.UUID, actor) -> MandateService:
    state = request.app.state
    return MandateService(
        session, tenant_id, AuditActor(actor.kind, actor.audit_id), state.trust, state.settings
    )


def rejection(outcome: IngestOutcome, request: Request) -> JSONResponse:
    result = outcome.result
    return problem(
        422,
        result.code.value,
        "Mandate failed verification",
        result.reason,
        request,
        verification=result.details,
        token_sha256=outcome.token_sha256,
    )


@router.post(
    "",
    status_code=201,
    response_model=MandateRead,
    responses={200: {"model": MandateRead, "description": "The same token was stored before"}},
)
async def create_mandate(
    body: MandateCreate,
    request: Request,
    session: SessionDep,
    actor: Writer,
    tenant_id: TenantId,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    digest = None
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)
        digest = idempotency.request_hash("POST", request.url.path, await request.body())
        stored = await idempotency.stored_answer(session, tenant_id, idempotency_key, digest)
        if stored is not None:
            return JSONResponse(
                stored.response_body,
                status_code=stored.response_status,
                headers={"Idempotent-Replayed": "true"},
                media_type="application/problem+json" if stored.response_status >= 400 else None,
            )
    outcome = await service(request, session, tenant_id, actor).ingest(body)
    if outcome.mandate is None:
        response = rejection(outcome, request)
    else:
        read = to_read(outcome.mandate, datetime.now(UTC)).model_dump(mode="json")
        response = JSONResponse(read, status_code=201 if outcome.created else 200)
    if idempotency_key is not None and digest is not None:
        await idempotency.remember(
            session,
            tenant_id,
            idempotency_key,
            digest,
            response.status_code,
            orjson.loads(response.body),
        )
    return response


@router.post("/batch", response_model=BatchResult)
async def create_mandates(
    body: MandateBatch, request: Request, session: SessionDep, actor: Writer, tenant_id: TenantId
) -> BatchResult:
    mandates = service(request, session, tenant_id, actor)
    items, summary = [], {}
    for index, item in enumerate(body.items):
        outcome = await mandates.ingest(item)
        code = outcome.result.code.value
        summary[code] = summary.get(code, 0) + 1
        if outcome.mandate is None:
            items.append(
                BatchItemResult(index=index, status=422, code=code, detail=outcome.result.reason)
            )
        else:
            status = 201 if outcome.created else 200
            items.append(
                BatchItemResult(index=index, status=status, code=code, id=outcome.mandate.id)
            )
    return BatchResult(items=items, summary=summary)


@router.get("", response_model=MandatePage)
async def search_mandates(
    params: Annotated[MandateSearch, Query()],
    request: Request,
    session: ReadSessionDep,
    actor: Reader,
    tenant_id: TenantId,
) -> MandatePage:
    return await service(request, session, tenant_id, actor).search(params)


@router.get("/{mandate_id}", response_model=MandateRead, response_model_exclude_none=False)
async def get_mandate(
    mandate_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: Reader,
    tenant_id: TenantId,
    include: Annotated[Literal["token"] | None, Query()] = None,
) -> MandateRead:
    mandates = service(request, session, tenant_id, actor)
    if include == "token":
        return to_read(await mandates.read_token(mandate_id), datetime.now(UTC), include_token=True)
    return to_read(await mandates.get(mandate_id), datetime.now(UTC))


@router.patch("/{mandate_id}", response_model=MandateRead)
async def patch_mandate(
    mandate_id: uuid.UUID,
    body: MandatePatch,
    request: Request,
    session: SessionDep,
    actor: Writer,
    tenant_id: TenantId,
) -> MandateRead:
    mandate = await service(request, session, tenant_id, actor).patch(mandate_id, body)
    return to_read(mandate, datetime.now(UTC))


@router.post("/{mandate_id}/revoke", response_model=MandateRead)
async def revoke_mandate(
    mandate_id: uuid.UUID,
    body: RevokeRequest,
    request: Request,
    session: SessionDep,
    actor: Writer,
    tenant_id: TenantId,
) -> MandateRead:
    mandate = await service(request, session, tenant_id, actor).revoke(mandate_id, body.reason)
    return to_read(mandate, datetime.now(UTC))


@router.delete("/{mandate_id}", status_code=204, response_class=Response)
async def delete_mandate(
    mandate_id: uuid.UUID, request: Request, session: SessionDep, actor: Writer, tenant_id: TenantId
) -> Response:
    await service(request, session, tenant_id, actor).delete(mandate_id)
    return Response(status_code=204)


@router.post("/{mandate_id}/restore", response_model=MandateRead)
async def restore_mandate(
    mandate_id: uuid.UUID, request: Request, session: SessionDep, actor: Writer, tenant_id: TenantId
) -> MandateRead:
    mandate = await service(request, session, tenant_id, actor).restore(mandate_id)
    return to_read(mandate, datetime.now(UTC))


@router.post("/{mandate_id}/verify", response_model=VerificationRead)
async def verify_mandate(
    mandate_id: uuid.UUID, request: Request, session: SessionDep, actor: Writer, tenant_id: TenantId
) -> VerificationRead:
    return await service(request, session, tenant_id, actor).reverify(mandate_id)
