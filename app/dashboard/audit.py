"""Audit: the tenant's trail with filters, "verify chain" with its result, the
JSON Lines export; a mandate's evidence pack download and its "audit chain" and
"evidence pack" panels. Everything goes through the API's trail and evidence
services."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from app.audit.schemas import AuditQuery, ExportQuery
from app.core.errors import NotFound
from app.core.types import ShortText
from app.dashboard import panels
from app.dashboard.deps import Requires, Viewer
from app.dashboard.forms import query_values, search_with, validate
from app.dashboard.render import page
from app.evidence.service import EvidenceService
from app.tenancy.permissions import Permission
from app.trail.service import TrailService
from app.web.state import CLOCK, DATABASE, SETTINGS

router = APIRouter(include_in_schema=False)

CanRead = Annotated[Viewer, Requires(Permission.AUDIT_READ)]
FILTERS = ("action", "actor", "actor_type", "resource_type", "resource_id", "since", "until")


def trail_service(request: Request, viewer: Viewer) -> TrailService:
    return TrailService(
        DATABASE.get(request), viewer.need_tenant(), SETTINGS.get(request), CLOCK.get(request)
    )


@router.get("/audit")
async def trail_page(request: Request, viewer: CanRead) -> Response:
    values = query_values(request.query_params, (*FILTERS, "cursor"))
    results, errors = await search_with(
        AuditQuery, {**values, "limit": "50"}, trail_service(request, viewer).page
    )
    base = {k: v for k, v in values.items() if k != "cursor"}
    return page(
        "audit/list.html",
        request,
        status=422 if errors else 200,
        title="Audit trail",
        values=values,
        errors=errors,
        results=results,
        actor_types=[("", "any"), ("user", "user"), ("api_key", "api_key"), ("system", "system")],
        next_query=urlencode({**base, "cursor": results.next_cursor})
        if results and results.next_cursor
        else None,
        export_query=urlencode({"since": values["since"]} if "since" in values else {}),
    )


@router.get("/audit/verify")
async def verify_page(request: Request, viewer: CanRead) -> Response:
    report = await trail_service(request, viewer).verify()
    return page(
        "audit/verify.html", request, title="Verify the audit chain", report=report.to_json()
    )


@router.get("/audit/export.jsonl")
async def export(request: Request, viewer: CanRead) -> Response:
    values = query_values(request.query_params, ("since",))
    params, errors = validate(ExportQuery, values)
    if params is None:
        raise NotFound("no such export")  # the page builds this link; a forged one is refused
    stream = trail_service(request, viewer).export(params.since, params.after_seq)
    return StreamingResponse(
        stream,
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="audit-trail.jsonl"'},
    )


@router.get("/mandates/{raw_id}/evidence.zip")
async def evidence_pack(raw_id: ShortText, request: Request, viewer: CanRead) -> Response:
    try:
        mandate_id = uuid.UUID(raw_id)
    except ValueError:
        raise NotFound("mandate not found") from None
    async with DATABASE.get(request).sessions.begin() as session:
        pack = await _evidence(request, viewer, session).build(mandate_id)
    return Response(
        pack.data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{pack.mandate_id}.zip"'},
    )


def _evidence(request: Request, viewer: Viewer, session: Any) -> EvidenceService:
    return EvidenceService(
        session,
        DATABASE.get(request),
        viewer.need_tenant(),
        viewer.principal.actor,
        SETTINGS.get(request),
        CLOCK.get(request),
    )


async def chain_panel(
    request: Request, viewer: Viewer, mandate_id: uuid.UUID | None
) -> dict[str, Any]:
    """How the mandate's audit rows sit in the chain: linked (sealed) or not yet."""
    assert mandate_id is not None
    async with DATABASE.get(request).read_sessions() as session:
        rows = await _evidence(request, viewer, session).audit_rows(mandate_id, 200)
    sealed = [row for row in rows if row.seq is not None]
    return {
        "rows": len(rows),
        "sealed": len(sealed),
        "newest_seq": max((row.seq for row in sealed), default=None),
        "mandate_id": mandate_id,
    }


async def evidence_panel(
    request: Request, viewer: Viewer, mandate_id: uuid.UUID | None
) -> dict[str, Any]:
    return {"href": f"/mandates/{mandate_id}/evidence.zip"}


panels.register(panels.MANDATE_PANELS, "chain-status", "panels/chain_status.html", chain_panel)
panels.register(panels.MANDATE_PANELS, "evidence-pack", "panels/evidence_pack.html", evidence_panel)
