"""HTTP for one mandate's proof: its audit rows and its signed evidence pack."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.audit.schemas import AuditPage, entry
from app.evidence.deps import EvidenceServiceDep
from app.tenancy.deps import CanReadAudit

router = APIRouter(prefix="/api/v1/mandates", tags=["audit"])


@router.get("/{mandate_id}/audit", response_model=AuditPage)
async def mandate_audit(
    mandate_id: uuid.UUID,
    _: CanReadAudit,
    evidence: EvidenceServiceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
) -> AuditPage:
    """The mandate's audit rows, newest first."""
    rows = await evidence.audit_rows(mandate_id, limit)
    return AuditPage(items=[entry(row) for row in rows], next_cursor=None)


@router.get(
    "/{mandate_id}/evidence",
    response_class=Response,
    responses={
        200: {
            "content": {"application/zip": {"example": "(binary ZIP: manifest.json, ...)"}},
            "description": "The evidence pack",
        }
    },
)
async def mandate_evidence(
    mandate_id: uuid.UUID, _: CanReadAudit, evidence: EvidenceServiceDep
) -> Response:
    """The mandate's evidence pack (a signed ZIP, docs/evidence-pack.md): its token,
    verification now and as of ingest, issuer keys, audit rows with inclusion proofs
    under signed checkpoints. Check it offline with `mandate-vault evidence verify`."""
    pack = await evidence.build(mandate_id)
    return Response(
        pack.data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{pack.mandate_id}.zip"'},
    )
