from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import __version__
from app.core.errors import NotReady
from app.health.checks import readiness
from app.web.problems import problem
from app.web.state import DatabaseDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no dependencies are touched)."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz", responses={503: {"description": "a check failed"}})
async def readyz(request: Request, database: DatabaseDep) -> JSONResponse:
    """Ready to serve: databases reachable and the schema at the migration head."""
    checks = await readiness(database, database.settings.readiness_timeout)
    failing = sorted(name for name, result in checks.items() if not result["ok"])
    if failing:
        return problem(
            request,
            NotReady(
                f"Failing checks: {', '.join(failing)}",
                headers={"Retry-After": "5"},
                failing=failing,
                checks=checks,
            ),
        )
    return JSONResponse({"status": "ready", "checks": checks})
