"""HTTP for the audit trail: read it, export it, verify it; the vault's public keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse

from app.audit.schemas import AuditPage, AuditQuery, ExportQuery
from app.audit.vault_keys import load_keyring, published_jwks
from app.tenancy.deps import CanReadAudit
from app.trail.deps import TrailServiceDep
from app.web.query_models import QueryModel
from app.web.state import DatabaseDep, SettingsDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
AUDIT_QUERY = QueryModel(AuditQuery)
EXPORT_QUERY = QueryModel(ExportQuery)
well_known = APIRouter(tags=["audit"])
EXPORT_EXAMPLE = '{"seq":1,"prev_hash":"…","row_hash":"…","record":{"v":1,"chain":"…","seq":1,…}}\n'


@router.get("", response_model=AuditPage)
async def list_audit(
    params: Annotated[AuditQuery, Depends(AUDIT_QUERY)], _: CanReadAudit, trail: TrailServiceDep
) -> AuditPage:
    """This tenant's audit rows, newest first; follow `next_cursor` for the next page."""
    return await trail.page(params)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/jsonl": {"example": EXPORT_EXAMPLE}},
            "description": "JSON Lines, one sealed row a line",
        }
    },
)
async def export_audit(
    params: Annotated[ExportQuery, Depends(EXPORT_QUERY)], _: CanReadAudit, trail: TrailServiceDep
) -> StreamingResponse:
    """The chain's sealed rows in seq order as JSON Lines: `seq`, `prev_hash`,
    `row_hash` and the `record` whose RFC 8785 SHA-256 is `row_hash`
    (docs/evidence-pack.md section 3), to mirror and verify independently."""
    return StreamingResponse(
        trail.export(params.since, params.after_seq), media_type="application/jsonl"
    )


@router.get("/verify")
async def verify_audit(_: CanReadAudit, trail: TrailServiceDep) -> JSONResponse:
    """Verify this tenant's chain from its newest anchor (at most 500,000 rows a call:
    `complete` is false when it stopped early). `status` is `intact`, `retention_cut`
    (the oldest rows were removed without an anchor: a warning) or `broken`."""
    return JSONResponse((await trail.verify()).to_json())


@well_known.get("/.well-known/jwks.json")
async def vault_jwks(database: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """The vault's public signing keys (current first, retired ones kept) that
    checkpoints and evidence packs are verified with."""
    async with database.write_engine.connect() as connection:
        jwks = await published_jwks(connection)
        await connection.rollback()
    if not jwks["keys"]:
        jwks = (await load_keyring(database, settings)).public_jwks()
    return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=300"})
