"""GET /api/v1/admin/db: database status and monitoring for platform admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from app.core.errors import Forbidden
from app.dbops.monitor import admin_snapshot
from app.tenancy.deps import Authorized
from app.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
Operator = Authorized(Permission.PLATFORM_OPERATE)


@router.get("/db")
async def database_report(
    request: Request,
    actor: Operator,
    long_running_seconds: float = Query(default=5.0, gt=0, le=3600),
) -> dict[str, Any]:
    """Engine, reachability, migrations, pools, and the engine's monitoring figures."""
    if not actor.is_platform_admin:
        raise Forbidden("Only platform admins see database internals.", code="platform_admin_only")
    return await admin_snapshot(request.app.state.database, long_running_seconds)
