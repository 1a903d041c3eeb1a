"""Server-rendered pages. The public home page shows the service's health only:
tenant data is never shown without signing in."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app import __version__
from app.health.checks import readiness
from app.web.state import DatabaseDep

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, database: DatabaseDep) -> HTMLResponse:
    checks = await readiness(database, database.settings.readiness_timeout)
    return templates.TemplateResponse(
        request,
        "home.html",
        {"checks": checks, "backend": database.backend, "version": __version__},
    )
