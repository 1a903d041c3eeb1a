"""Alerts: the list with filters (a tenant's, or the platform's for a platform
admin with no tenant chosen), acknowledge and resolve; and the overview's
"open alerts" panel. Everything goes through the API's alert service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.conditions import SPECS
from app.alerts.schemas import AlertPage, AlertSearch, AlertState
from app.alerts.service import AlertService
from app.core.cursor import CursorCodec
from app.core.errors import NotFound
from app.core.types import ShortText
from app.dashboard import panels
from app.dashboard.deps import Requires, Viewer
from app.dashboard.forms import query_values, search_with
from app.dashboard.render import page, redirect
from app.dashboard.services import issuer_scope
from app.tenancy.permissions import Permission
from app.web.state import CLOCK, DATABASE, SETTINGS

router = APIRouter(prefix="/alerts", include_in_schema=False)

CanRead = Annotated[Viewer, Requires(Permission.ALERTS_READ, tenant=False)]
CanManage = Annotated[Viewer, Requires(Permission.ALERTS_MANAGE, tenant=False)]
FILTERS = ("type", "severity", "state", "cursor")
ACTIONS = {"acknowledge": "The alert is acknowledged.", "resolve": "The alert is resolved."}
PANEL_LIMIT = 5


def alert_service(request: Request, viewer: Viewer, session: AsyncSession) -> AlertService:
    """Built as the API builds it: a tenant's alerts, or the platform's (the same
    scope rule as the truststore's)."""
    settings = SETTINGS.get(request)
    return AlertService(
        session,
        issuer_scope(viewer),
        viewer.principal.actor,
        CursorCodec(settings.secret_key.get_secret_value()),
        CLOCK.get(request),
    )


@router.get("")
async def list_page(request: Request, viewer: CanRead) -> Response:
    values = query_values(request.query_params, FILTERS)
    values.setdefault("state", AlertState.UNRESOLVED.value)

    async def search(params: AlertSearch) -> AlertPage:
        async with DATABASE.get(request).read_sessions() as session:
            return await alert_service(request, viewer, session).search(params)

    results, errors = await search_with(AlertSearch, {**values, "limit": "50"}, search)
    base = {k: v for k, v in values.items() if k != "cursor"}
    return page(
        "alerts/list.html",
        request,
        status=422 if errors else 200,
        title="Alerts",
        values=values,
        errors=errors,
        results=results,
        platform_scope=issuer_scope(viewer) is None,
        types=[("", "any")] + [(t.value, t.value) for t in SPECS],
        severities=[
            ("", "any"),
            ("critical", "critical"),
            ("warning", "warning"),
            ("info", "info"),
        ],
        states=[(s.value, s.value) for s in AlertState],
        next_query=urlencode({**base, "cursor": results.next_cursor})
        if results and results.next_cursor
        else None,
        back=f"/alerts?{urlencode(base)}",
        notice=ACTIONS.get(request.query_params.get("done", "")),
    )


@router.post("/{raw_id}/{action}")
async def act(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanManage
) -> Response:
    if action not in ACTIONS:
        raise NotFound("no such page")
    try:
        alert_id = uuid.UUID(raw_id)
    except ValueError:
        raise NotFound("alert not found") from None
    async with DATABASE.get(request).sessions.begin() as session:
        service = alert_service(request, viewer, session)
        if action == "acknowledge":
            await service.acknowledge(alert_id)
        else:
            await service.resolve(alert_id)
    return redirect(request, f"/alerts?done={action}")


async def open_alerts_panel(
    request: Request, viewer: Viewer, _mandate_id: uuid.UUID | None
) -> dict[str, Any]:
    """The overview's newest unresolved alerts, and how many there are."""
    params = AlertSearch(state=AlertState.UNRESOLVED, limit=PANEL_LIMIT)
    async with DATABASE.get(request).read_sessions() as session:
        service = alert_service(request, viewer, session)
        found = await service.search(params)
        total = await service.count_unresolved()
    return {"alerts": found.items, "total": total}


panels.register(panels.OVERVIEW_PANELS, "alerts", "panels/alerts.html", open_alerts_panel)
