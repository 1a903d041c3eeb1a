"""HTTP for AP2 v0.2: presentations, the spend ledger, receipts and the dispute check."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from app.ap2.deps import Ap2ServiceDep, RejectionServiceDep
from app.ap2.schemas import (
    DisputeResult,
    LedgerRead,
    LedgerRevoke,
    PresentationAnswer,
    PresentationRequest,
    ReceiptCreate,
    ReceiptRead,
    RejectionList,
    RejectionRead,
)
from app.core.errors import PROBLEM_JSON, BadRequest, Unprocessable
from app.core.types import STORABLE
from app.tenancy.deps import CanPresentAp2, CanReadMandates
from app.web.openapi_examples import AP2_PRESENTATION_EXAMPLE, AP2_RECEIPT_EXAMPLE
from app.web.responses import JSONBody

router = APIRouter(prefix="/api/v1/ap2", tags=["ap2"])
disputes_router = APIRouter(prefix="/api/v1/mandates", tags=["ap2"])

LedgerHash = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"), STORABLE
]

PRESENT = """Verify an AP2 v0.2 Delegate SD-JWT chain against this tenant's truststore,
evaluate every constraint, and record the approval in the spend ledger of its root
(`open_mandate_hash` = H(root JWT)), atomically with the checks that read that ledger
(`payment.budget`, `payment.agent_recurrence`, single use, replay).

200 approved; 422 rejected (problem+json carrying the same members: `code` is
`invalid_credential`, `mandates_not_supported`, `invalid_mandate` or
`unresolved_constraint`, `violations` names each failing constraint); 400
`invalid_request` when the body is not the documented object. Every answer but a dry
run or a stage-A refusal carries `receipt`, a vault-signed ES256 JWT (keys at
`/.well-known/jwks.json`). `dry_run: true` answers with the same verdict and changes
nothing. Approved chains are stored verbatim as mandates (`format` `ap2-v0.2`); a
genuine chain refused in stage D (constraints, ledger, replay, revocation) is stored
verbatim with its verdict (`rejection_id`, `GET /api/v1/ap2/rejections`). Malformed or
unverifiable input and dry runs store nothing.
"""


def _problem(request: Request, status: int, body: dict[str, Any]) -> JSONBody:
    body = {
        **body,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    return JSONBody(body, status, media_type=PROBLEM_JSON)


async def _json_body(request: Request) -> Any:
    try:
        raw = await request.body()
    except ClientDisconnect:  # gone mid-body: nothing to parse, nothing is stored
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _schema(model: Any, example: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


@router.post(
    "/presentations",
    response_model=PresentationAnswer,
    summary="Present an AP2 v0.2 mandate chain",
    description=PRESENT,
    openapi_extra=_schema(PresentationRequest, AP2_PRESENTATION_EXAMPLE),
)
async def present(request: Request, _: CanPresentAp2, ap2: Ap2ServiceDep) -> JSONBody:
    data = await _json_body(request)
    try:
        body = PresentationRequest.model_validate(data, strict=True)
    except ValidationError as error:
        where = ", ".join(".".join(map(str, e["loc"])) or "body" for e in error.errors()[:5])
        raise BadRequest(
            f"the body is not a presentation request ({where})", code="invalid_request"
        ) from None
    outcome = await ap2.present(body)
    if outcome.status == 200:
        return JSONBody(outcome.body(), 200)
    answer = outcome.body()
    if outcome.status == 422:  # a refusal is about the chain presented: name it
        answer["errors"] = [{"field": "body.sd_jwt", "message": str(answer.get("detail", ""))}]
    return _problem(request, outcome.status, answer)


@router.get("/ledger/{open_mandate_hash}", response_model=LedgerRead)
async def get_ledger(
    open_mandate_hash: LedgerHash, _: CanReadMandates, ap2: Ap2ServiceDep
) -> LedgerRead:
    """The spend ledger of one open mandate: approvals, spent and remaining budget,
    occurrences and the next allowed time."""
    return await ap2.ledger(open_mandate_hash)


@router.post("/ledger/{open_mandate_hash}/revoke", response_model=LedgerRead)
async def revoke_open_mandate(
    open_mandate_hash: LedgerHash, body: LedgerRevoke, _: CanPresentAp2, ap2: Ap2ServiceDep
) -> LedgerRead:
    """Revoke an open mandate by its `open_mandate_hash` (H(root JWT), 43 base64url
    characters), whether or not it was presented here before: every later presentation
    under its root is refused (`invalid_mandate`). Audited (`ap2.open_mandate.revoked`)
    and sent as the `ap2.open_mandate.revoked` event. Revoking again changes nothing;
    a hash that is not 43 characters long answers 404 `ledger_not_found`."""
    return await ap2.revoke_ledger(open_mandate_hash, body.reason)


Filter = Annotated[str | None, Query(max_length=255), STORABLE]


@router.get("/rejections", response_model=RejectionList)
async def search_rejections(
    _: CanReadMandates,
    rejections: RejectionServiceDep,
    open_mandate_hash: Filter = None,
    transaction_id: Filter = None,
    code: Annotated[Literal["invalid_mandate", "unresolved_constraint"] | None, Query()] = None,
    mandate_type: Annotated[Literal["checkout", "payment"] | None, Query()] = None,
    issuer_did: Annotated[str | None, Query(max_length=2048), STORABLE] = None,
    merchant_id: Filter = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512), STORABLE] = None,
) -> RejectionList:
    """Genuine chains this tenant refused in stage D, newest first, each with its verdict,
    request context and parsed fields; follow `next_cursor` for older ones."""
    return await rejections.search(
        limit=limit,
        cursor=cursor,
        open_mandate_hash=open_mandate_hash,
        transaction_id=transaction_id,
        code=code,
        mandate_type=mandate_type,
        issuer_did=issuer_did,
        merchant_id=merchant_id,
    )


@router.get("/rejections/{rejection_id}", response_model=RejectionRead)
async def get_rejection(
    rejection_id: uuid.UUID,
    _: CanReadMandates,
    rejections: RejectionServiceDep,
    include: Annotated[Literal["token"] | None, Query()] = None,
) -> RejectionRead:
    """One stored rejection; `?include=token` adds the chain as presented (audited)."""
    return await rejections.get(rejection_id, include_token=include == "token")


@router.post(
    "/receipts",
    status_code=201,
    response_model=ReceiptRead,
    summary="Store a merchant or processor receipt",
    responses={200: {"model": ReceiptRead, "description": "The same receipt was stored before"}},
    openapi_extra=_schema(ReceiptCreate, AP2_RECEIPT_EXAMPLE),
)
async def store_receipt(request: Request, _: CanPresentAp2, ap2: Ap2ServiceDep) -> JSONBody:
    """Verify a Checkout or Payment Receipt JWS against the truststore and link it to
    the stored closed mandate its `reference` names (spec or SDK form)."""
    data = await _json_body(request)
    try:
        body = ReceiptCreate.model_validate(data, strict=True)
    except ValidationError as error:
        raise Unprocessable(
            'the body must be {"receipt": "<compact JWS>"}',
            code="invalid_receipt",
            errors=[
                {"field": ".".join(("body", *map(str, e["loc"]))), "message": e["msg"]}
                for e in error.errors()[:5]
            ],
        ) from None
    try:
        status, read = await ap2.store_receipt(body.receipt)
    except Unprocessable as error:
        error.extra.setdefault("errors", [{"field": "body.receipt", "message": error.detail}])
        raise
    return JSONBody(read.model_dump(mode="json"), status)


@disputes_router.post("/{mandate_id}/dispute-check", response_model=DisputeResult)
async def dispute_check(
    mandate_id: uuid.UUID, _: CanReadMandates, ap2: Ap2ServiceDep
) -> DisputeResult:
    """Re-run the AP2 dispute steps on the stored v0.2 artifacts of this mandate."""
    return await ap2.dispute_check(mandate_id)
