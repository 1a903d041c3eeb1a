"""Server-rendered pages. The home page shows what this vault holds and its health."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from app.core.database import ReadSessionDep
from app.models import AuditLog, Customer, Issuer, Mandate, User

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: ReadSessionDep) -> HTMLResponse:
    counts = {}
    for label, model in (
        ("Tenants", Customer),
        ("Users", User),
        ("Issuers", Issuer),
        ("Mandates", Mandate),
        ("Audit entries", AuditLog),
    ):
        counts[label] = await session.scalar(select(func.count()).select_from(model))
    database = request.app.state.database
    return templates.TemplateResponse(
        request,
        "home.html",
        {"counts": counts, "backend": database.backend, "pools": database.pool_status()},
    )
