"""GET /api/v1/admin/db: database status and monitoring for platform admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from app.core.errors import Forbidden
from app.dbops.monitor import admin_snapshot
from app.tenancy.deps import CanOperatePlatform
from app.web.state import DatabaseDep

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/db")
async def database_report(
    actor: CanOperatePlatform,
    database: DatabaseDep,
    long_running_seconds: float = Query(default=5.0, gt=0, le=3600),
) -> dict[str, Any]:
    """Engine, reachability, migrations, pools, and the engine's monitoring figures."""
    if not actor.is_platform_admin:
        raise Forbidden("Only platform admins see database internals.", code="platform_admin_only")
    return await admin_snapshot(database, long_running_seconds)
