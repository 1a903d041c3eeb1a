"""Platform (platform admins): tenants (create, deactivate, reactivate, look
at), the `db status` and `db monitor` figures, and the backups in BACKUP_DIR
with their manifests."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.core.errors import AppError, NotFound
from app.core.types import ShortText
from app.dashboard.deps import Requires, Viewer, platform_admin_only
from app.dashboard.forms import form_text, validate
from app.dashboard.render import page, redirect
from app.dbops.catalogue import backup_catalogue
from app.dbops.monitor import admin_snapshot
from app.tenancy import service
from app.tenancy.deps import AUTH_CACHE
from app.tenancy.permissions import Permission
from app.tenancy.schemas import TenantCreate
from app.web.state import DATABASE, SETTINGS

router = APIRouter(prefix="/platform", include_in_schema=False)

CanOperate = Annotated[Viewer, Requires(Permission.PLATFORM_OPERATE, tenant=False)]
LISTED = 500
NOTICES = {
    "created": "The tenant is created.",
    "deactivate": "The tenant is deactivated; its users and keys are refused.",
    "reactivate": "The tenant is active again.",
}


def _tenant_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("tenant not found") from None


async def _platform(request: Request, viewer: Viewer, status: int = 200, **extra: Any) -> Response:
    platform_admin_only(viewer)
    database = DATABASE.get(request)
    async with database.read_sessions() as session:
        tenants = await service.list_tenants(session, limit=LISTED, offset=0)
    snapshot = await admin_snapshot(database)
    backups = await asyncio.to_thread(backup_catalogue, SETTINGS.get(request))
    return page(
        "platform/index.html",
        request,
        status=status,
        title="Platform",
        tenants=tenants,
        db=snapshot["status"],
        monitor=snapshot["monitor"],
        backups=backups,
        backup_dir=SETTINGS.get(request).backup_dir,
        errors=extra.pop("errors", {}),
        form=extra.pop("form", {}),
        notice=extra.pop("notice", None) or NOTICES.get(request.query_params.get("done", "")),
        **extra,
    )


@router.get("")
async def platform_page(request: Request, viewer: CanOperate) -> Response:
    return await _platform(request, viewer)


@router.post("/tenants")
async def create_tenant(request: Request, viewer: CanOperate) -> Response:
    platform_admin_only(viewer)
    form = await request.form()
    values = {
        "name": form_text(form, "name", 400),
        "slug": form_text(form, "slug", 200),
        "email": form_text(form, "email", 400),
    }
    data: dict[str, Any] = {"name": values["name"], "email": values["email"] or None}
    # The slug is named explicitly, so a second submission of the form finds it taken
    # instead of creating a twin tenant.
    data["slug"] = values["slug"] or service.slugify(values["name"])
    body, errors = validate(TenantCreate, data)
    if body is None:
        return await _platform(request, viewer, 422, errors=errors, form=values)
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            await service.create_tenant(session, **body.model_dump(), actor=viewer.principal)
    except AppError as error:
        if error.status >= 500:
            raise
        field = "slug" if error.code == "slug_taken" else "_form"
        return await _platform(
            request, viewer, error.status, errors={field: error.detail}, form=values
        )
    return redirect(request, "/platform?done=created")


@router.get("/tenants/{raw_id}/{action}")
async def confirm_tenant(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanOperate
) -> Response:
    platform_admin_only(viewer)
    if action not in ("deactivate", "reactivate"):
        raise NotFound("no such page")
    tenant_id = _tenant_id(raw_id)
    async with DATABASE.get(request).read_sessions() as session:
        tenant = await service.get_tenant(session, viewer.principal, tenant_id)
    consequence = (
        "Its data stays; its users and API keys are refused until it is reactivated."
        if action == "deactivate"
        else "Its users and API keys work again."
    )
    return page(
        "team/confirm.html",
        request,
        cancel="/platform",
        title=f"{action.capitalize()} tenant",
        heading=f"{action.capitalize()} {tenant.name}?",
        consequence=consequence,
        action=f"/platform/tenants/{tenant_id}/{action}",
        button=action.capitalize(),
    )


@router.post("/tenants/{raw_id}/{action}")
async def change_tenant(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanOperate
) -> Response:
    platform_admin_only(viewer)
    if action not in ("deactivate", "reactivate"):
        raise NotFound("no such page")
    tenant_id = _tenant_id(raw_id)
    async with DATABASE.get(request).sessions.begin() as session:
        await service.update_tenant(
            session,
            viewer.principal,
            tenant_id,
            {"is_active": action == "reactivate"},
            AUTH_CACHE.get(request),
        )
    return redirect(request, f"/platform?done={action}")
