"""HTTP for the audit trail: read it, export it, verify it; the vault's public keys."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse

from app.audit.chain import chain_id_for, row_record
from app.audit.repository import AuditTrail, TrailFilter
from app.audit.schemas import AuditPage, AuditQuery, ExportQuery, entry
from app.audit.vault_keys import load_keyring, published_jwks
from app.audit.verification import verify_stored_chain
from app.core.cursor import CursorCodec
from app.tenancy.deps import CanReadAudit, TenantId
from app.web.sessions import ReadSessionDep
from app.web.state import ClockDep, DatabaseDep, SettingsDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
well_known = APIRouter(tags=["audit"])
VERIFY_ROW_BUDGET = 500_000
EXPORT_PAGE = 1000
CURSOR_SORT = "-id"
EXPORT_EXAMPLE = '{"seq":1,"prev_hash":"…","row_hash":"…","record":{"v":1,"chain":"…","seq":1,…}}\n'


@router.get("", response_model=AuditPage)
async def list_audit(
    params: Annotated[AuditQuery, Query()],
    _: CanReadAudit,
    tenant_id: TenantId,
    session: ReadSessionDep,
    settings: SettingsDep,
) -> AuditPage:
    """This tenant's audit rows, newest first; follow `next_cursor` for the next page."""
    where = TrailFilter(
        action=params.action,
        actor_id=params.actor,
        actor_type=params.actor_type,
        resource_type=params.resource_type,
        resource_id=params.resource_id,
        since=params.since,
        until=params.until,
    )
    # The shared signed keyset cursor (app.core.cursor): the row id rides in its id field.
    codec = CursorCodec(settings.secret_key.get_secret_value())
    before = None
    if params.cursor is not None:
        before = codec.decode(params.cursor, CURSOR_SORT).id.int
    rows = await AuditTrail(session, tenant_id).page(
        where, before_id=before, limit=params.limit + 1
    )
    page = rows[: params.limit]
    cursor = None
    if len(rows) > params.limit:
        last = page[-1]
        cursor = codec.encode(CURSOR_SORT, last.timestamp, uuid.UUID(int=last.id))
    return AuditPage(items=[entry(row) for row in page], next_cursor=cursor)


def _line(row: Any) -> bytes:
    record = row_record(row, row.seq, row.prev_hash)
    return (
        orjson.dumps(
            {"seq": row.seq, "prev_hash": row.prev_hash, "row_hash": row.row_hash, "record": record}
        )
        + b"\n"
    )


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
    params: Annotated[ExportQuery, Query()],
    _: CanReadAudit,
    tenant_id: TenantId,
    database: DatabaseDep,
) -> StreamingResponse:
    """The chain's sealed rows in seq order as JSON Lines: `seq`, `prev_hash`,
    `row_hash` and the `record` whose RFC 8785 SHA-256 is `row_hash`
    (docs/evidence-pack.md section 3), to mirror and verify independently."""

    async def lines() -> AsyncIterator[bytes]:
        after = params.after_seq
        while True:
            async with database.sessions() as session:
                rows = await AuditTrail(session, tenant_id).sealed_after(
                    after_seq=after, since=params.since, limit=EXPORT_PAGE
                )
                chunk = b"".join(_line(row) for row in rows)
            if chunk:
                yield chunk
            if len(rows) < EXPORT_PAGE:
                return
            after = int(rows[-1].seq or 0)

    return StreamingResponse(lines(), media_type="application/jsonl")


@router.get("/verify")
async def verify_audit(
    _: CanReadAudit,
    tenant_id: TenantId,
    database: DatabaseDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> JSONResponse:
    """Verify this tenant's chain from its newest anchor (at most 500,000 rows a call:
    `complete` is false when it stopped early). `status` is `intact`, `retention_cut`
    (the oldest rows were removed without an anchor: a warning) or `broken`."""
    keyring = await load_keyring(database, settings)
    async with database.write_engine.connect() as connection:
        report = await verify_stored_chain(
            connection,
            chain_id_for(tenant_id),
            keyring.keyset(),
            now=clock.now(),
            retention_days=settings.audit_retention_days,
            row_budget=VERIFY_ROW_BUDGET,
        )
        await connection.rollback()
    return JSONResponse(report.to_json())


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
