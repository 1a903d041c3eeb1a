"""GET /api/v1/admin/db (database status and monitoring for platform admins) and
GET /metrics (Prometheus)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.core.errors import Forbidden
from app.dbops.metrics import DatabaseMetrics
from app.dbops.monitor import admin_snapshot
from app.dbops.scrape_access import check_scrape
from app.tenancy.deps import CanOperatePlatform, client_ip
from app.web.state import DatabaseDep, SettingsDep, Slot

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
metrics_router = APIRouter()
DATABASE_METRICS: Slot[DatabaseMetrics] = Slot("database_metrics")


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


async def scrape_admitted(request: Request, settings: SettingsDep) -> None:
    check_scrape(settings, client_ip(request), request.headers.get("authorization"))


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(
    _: Annotated[None, Depends(scrape_admitted)],
    exporter: Annotated[DatabaseMetrics, Depends(DATABASE_METRICS)],
) -> Response:
    return Response(await exporter.exposition(), media_type=CONTENT_TYPE_LATEST)
