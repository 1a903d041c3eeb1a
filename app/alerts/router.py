"""HTTP for alerts. Platform admins without X-Tenant-ID see the platform's own
alerts (a stale backup, a global issuer's failing keys)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from app.alerts.deps import AlertServiceDep
from app.alerts.schemas import AlertPage, AlertRead, AlertSearch, AlertTypeRead
from app.alerts.service import alert_types, to_read
from app.tenancy.deps import CanManageAlerts, CanReadAlerts
from app.web.query_models import QueryModel

router = APIRouter(prefix="/api/v1", tags=["alerts"])
ALERT_SEARCH = QueryModel(AlertSearch)


@router.get("/alerts", response_model=AlertPage)
async def list_alerts(
    params: Annotated[AlertSearch, Depends(ALERT_SEARCH)], _: CanReadAlerts, alerts: AlertServiceDep
) -> AlertPage:
    """Alerts, newest first; filter by type, severity, state or mandate, and follow
    `next_cursor`."""
    return await alerts.search(params)


@router.get("/alert-types", response_model=list[AlertTypeRead])
async def list_alert_types(_: CanReadAlerts) -> list[AlertTypeRead]:
    """What the vault raises alerts about, with each type's severity."""
    return alert_types()


@router.get("/alerts/{alert_id}", response_model=AlertRead)
async def get_alert(alert_id: uuid.UUID, _: CanReadAlerts, alerts: AlertServiceDep) -> AlertRead:
    """One alert, with what it is about and who acknowledged or resolved it."""
    return to_read(await alerts.get(alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertRead)
async def acknowledge_alert(
    alert_id: uuid.UUID, _: CanManageAlerts, alerts: AlertServiceDep
) -> AlertRead:
    """Say someone is on it (it stays open until resolved or its condition clears)."""
    return to_read(await alerts.acknowledge(alert_id))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertRead)
async def resolve_alert(
    alert_id: uuid.UUID, _: CanManageAlerts, alerts: AlertServiceDep
) -> AlertRead:
    """Resolve by hand. A condition that still holds is raised again, after an hour
    (except a mandate's expiry, alerted once)."""
    return to_read(await alerts.resolve(alert_id))
