"""HTTP dependencies of the alerts feature: its service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.alerts.service import AlertService
from app.core.cursor import CursorCodec
from app.tenancy.deps import CurrentPrincipal, TenantOrPlatform
from app.web.sessions import SessionDep
from app.web.state import ClockDep, SettingsDep


async def alert_service(
    session: SessionDep,
    principal: CurrentPrincipal,
    scope: TenantOrPlatform,
    settings: SettingsDep,
    clock: ClockDep,
) -> AlertService:
    cursors = CursorCodec(settings.secret_key.get_secret_value())
    return AlertService(session, scope, principal.actor, cursors, clock)


AlertServiceDep = Annotated[AlertService, Depends(alert_service)]
