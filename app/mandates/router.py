"""HTTP for mandates: thin handlers over MandateService."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from app.core.errors import PROBLEM_JSON
from app.mandates.deps import ReadMandates, WriteMandates
from app.mandates.idempotency import MAX_KEY_LENGTH, IdempotentRequest
from app.mandates.schemas import (
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
from app.web.query_models import QueryModel
from app.web.responses import JSONBody, values_json

router = APIRouter(prefix="/api/v1/mandates", tags=["mandates"])
# Read from the headers by the handler, which `check_key` applies its rule to; declared
# here for the API docs only, so FastAPI has no header parameter to resolve per request.
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: see the rules above.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}

SUBMIT = """Verify a signed mandate (a compact JWS) against the issuers this tenant
trusts and store it: 201 with the stored mandate, 200 when this tenant holds the
same token already, 422 with the verification code when it does not verify.

**Idempotency-Key** (optional, 1 to 255 printable ASCII characters, per tenant):

- The first request with a key is processed and its answer kept with a SHA-256
  fingerprint of the request (method, path and the exact body bytes).
- Stored: 201 and 200 answers, and 422 verification rejections (the key stays bound
  to the rejected token: send a corrected token with a new key).
- Not stored: anything refused before the mandate is verified (401, 403, 413, 429,
  422 `validation_error` for a body that does not fit the schema) and 503s (the
  transaction rolled back): the same key may be sent again.
- The same key with the same request within 24 hours replays the stored status and
  body, with `Idempotent-Replayed: true`, without verifying again.
- The same key with a different request within 24 hours: 422 `idempotency_key_reused`.
- After 24 hours the key is forgotten and the request processed as new (a token
  already stored still answers 200, not a second copy).
"""


@router.post(
    "",
    status_code=201,
    response_model=MandateRead,
    summary="Submit a mandate",
    description=SUBMIT,
    responses={200: {"model": MandateRead, "description": "The same token was stored before"}},
    openapi_extra={"parameters": [IDEMPOTENCY_KEY_PARAMETER]},
)
async def create_mandate(body: MandateCreate, request: Request, access: WriteMandates) -> JSONBody:
    retry = None
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        retry = IdempotentRequest.of(
            idempotency_key, "POST", request.url.path, await request.body()
        )
    async with access.unit_of_work() as mandates:
        answer = await mandates.submit(body, retry)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    if answer.status < 400:
        return JSONBody(answer.body, status_code=answer.status, headers=headers)
    problem = {
        **answer.body,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    return JSONBody(problem, answer.status, headers=headers, media_type=PROBLEM_JSON)


@router.post("/batch", response_model=BatchResult, summary="Submit mandates in a batch")
async def create_mandates(body: MandateBatch, access: WriteMandates) -> BatchResult:
    """Submit up to 1,000 mandates; each is answered in `items` (no Idempotency-Key)."""
    async with access.unit_of_work() as mandates:
        return await mandates.ingest_batch(body.items)


SEARCH = QueryModel(MandateSearch)


@router.get("", response_model=MandatePage)
async def search_mandates(
    params: Annotated[MandateSearch, Depends(SEARCH)], access: ReadMandates
) -> Response:
    """Search this tenant's mandates; follow `next_cursor` for the next page."""
    async with access.replica_reads() as mandates:
        return values_json(await mandates.search_page(params, json_text=True), MandatePage)


@router.get("/{mandate_id}", response_model=MandateRead, response_model_exclude_none=False)
async def get_mandate(
    mandate_id: uuid.UUID,
    access: ReadMandates,
    include: Annotated[Literal["token"] | None, Query()] = None,
) -> Response:
    """One mandate; `?include=token` adds the raw token (and writes an audit row)."""
    if include == "token":
        async with access.unit_of_work() as mandates:
            mandate = await mandates.read_token(mandate_id)
            return values_json(await mandates.view_one(mandate, include_token=True), MandateRead)
    async with access.primary_reads() as mandates:
        return values_json(await mandates.view_one(await mandates.read(mandate_id)), MandateRead)


@router.patch("/{mandate_id}", response_model=MandateRead)
async def patch_mandate(
    mandate_id: uuid.UUID, body: MandatePatch, access: WriteMandates
) -> MandateRead:
    """Change a mandate's labels or retention days."""
    async with access.unit_of_work() as mandates:
        return mandates.view(await mandates.patch(mandate_id, body))


@router.post("/{mandate_id}/revoke", response_model=MandateRead)
async def revoke_mandate(
    mandate_id: uuid.UUID, body: RevokeRequest, access: WriteMandates
) -> MandateRead:
    """Revoke a mandate with a reason (revoking it again changes nothing)."""
    async with access.unit_of_work() as mandates:
        return mandates.view(await mandates.revoke(mandate_id, body.reason))


@router.delete("/{mandate_id}", status_code=204, response_class=Response)
async def delete_mandate(mandate_id: uuid.UUID, access: WriteMandates) -> Response:
    """Soft-delete a mandate: restorable until its retention days have passed."""
    async with access.unit_of_work() as mandates:
        await mandates.delete(mandate_id)
    return Response(status_code=204)


@router.post("/{mandate_id}/restore", response_model=MandateRead)
async def restore_mandate(mandate_id: uuid.UUID, access: WriteMandates) -> MandateRead:
    """Restore a deleted mandate within its retention window."""
    async with access.unit_of_work() as mandates:
        return mandates.view(await mandates.restore(mandate_id))


@router.post("/{mandate_id}/verify", response_model=VerificationRead)
async def verify_mandate(mandate_id: uuid.UUID, access: WriteMandates) -> VerificationRead:
    """Verify the stored token again now (an issuer revoked since makes it invalid)."""
    async with access.unit_of_work() as mandates:
        return await mandates.reverify(mandate_id)
