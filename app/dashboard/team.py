"""Team (tenant admins): users (invite, change role, deactivate, reactivate, a
new invitation link) and API keys (create: the secret is shown once; revoke).

Forms whose answer shows a secret once carry a one-time token: a second
submission of the same form (a double click) is told so instead of creating
a second key or invitation whose secret nobody would see.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import AppError, NotFound
from app.core.types import ShortText
from app.dashboard.deps import Requires, Viewer
from app.dashboard.forms import form_text, validate
from app.dashboard.render import page, redirect
from app.mandates.repository import IdempotencyRepository
from app.models import IdempotencyKey
from app.tenancy import service
from app.tenancy.deps import AUTH_CACHE
from app.tenancy.permissions import TENANT_ROLES, Permission, may_grant
from app.tenancy.schemas import ApiKeyCreate, UserCreate
from app.web.state import DATABASE, SETTINGS

router = APIRouter(prefix="/team", include_in_schema=False)

CanRead = Annotated[Viewer, Requires(Permission.USERS_READ)]
CanManageUsers = Annotated[Viewer, Requires(Permission.USERS_MANAGE)]
CanManageKeys = Annotated[Viewer, Requires(Permission.API_KEYS_MANAGE)]
LISTED = 200
ONCE_PREFIX = "dashboard-form:"
NOTICES = {
    "role": "The role is changed.",
    "deactivate": "The user is deactivated; their sessions have ended.",
    "reactivate": "The user is active again.",
    "revoked": "The key is revoked.",
}


def _id(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"{what} not found") from None


def new_form_token() -> str:
    return secrets.token_urlsafe(16)


async def first_submission(session: AsyncSession, tenant_id: uuid.UUID, token: str) -> bool:
    """Record a form's one-time token (in the API's idempotency-key table);
    False when the same form was submitted before."""
    if not token or len(token) > 64:
        return True
    row = IdempotencyKey(
        key=ONCE_PREFIX + token, request_sha256="0" * 64, response_status=200, response_body={}
    )
    return await IdempotencyRepository(session, tenant_id).remember(row)


def _grantable(viewer: Viewer) -> list[tuple[str, str]]:
    return [(str(r), str(r)) for r in TENANT_ROLES if may_grant(viewer.principal.role, r)]


async def _team(request: Request, viewer: Viewer, status: int = 200, **extra: Any) -> Response:
    tenant_id = viewer.need_tenant()
    async with DATABASE.get(request).read_sessions() as session:
        users = await service.list_users(session, tenant_id, limit=LISTED, offset=0)
        keys = await service.list_api_keys(
            session, tenant_id, limit=LISTED, offset=0, include_revoked=True
        )
    return page(
        "team/index.html",
        request,
        status=status,
        title="Team",
        users=users,
        invited={u.id for u in users if service.is_invited(u)},
        keys=keys,
        roles=_grantable(viewer),
        user_form=extra.pop("user_form", {}),
        key_form=extra.pop("key_form", {}),
        user_errors=extra.pop("user_errors", {}),
        key_errors=extra.pop("key_errors", {}),
        form_token=new_form_token(),
        notice=extra.pop("notice", None) or NOTICES.get(request.query_params.get("done", "")),
        **extra,
    )


@router.get("")
async def team_page(request: Request, viewer: CanRead) -> Response:
    return await _team(request, viewer)


@router.post("/users")
async def invite_user(request: Request, viewer: CanManageUsers) -> Response:
    form = await request.form()
    values = {
        "email": form_text(form, "email", 400),
        "full_name": form_text(form, "full_name", 400),
        "role": form_text(form, "role", 32),
    }
    data = {
        "email": values["email"],
        "role": values["role"],
        "full_name": values["full_name"] or None,
    }
    body, errors = validate(UserCreate, data)
    if body is None:
        return await _team(request, viewer, 422, user_form=values, user_errors=errors)
    tenant_id = viewer.need_tenant()
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            if not await first_submission(session, tenant_id, form_text(form, "form_token", 64)):
                return await _team(
                    request,
                    viewer,
                    409,
                    notice="This invitation was already sent by an earlier submission of the "
                    "same form; its link was shown then. Use 'New invitation link' below.",
                )
            created = await service.create_user(
                session, SETTINGS.get(request), viewer.principal, tenant_id, body.model_dump()
            )
    except AppError as error:
        if error.status >= 500:
            raise
        field = {"email_taken": "email", "role_escalation": "role", "weak_password": "password"}
        return await _team(
            request,
            viewer,
            error.status,
            user_form=values,
            user_errors={field.get(error.code, "_form"): error.detail},
        )
    return _invitation(request, created.user.email, created.invite_token or "")


def _invitation(request: Request, email: str, token: str) -> Response:
    link = f"{request.base_url}accept-invite?token={token}"
    return page("team/invited.html", request, title="Invitation", email=email, link=link)


@router.post("/users/{raw_id}/invite")
async def invite_again(raw_id: ShortText, request: Request, viewer: CanManageUsers) -> Response:
    user_id = _id(raw_id, "user")
    async with DATABASE.get(request).read_sessions() as session:
        token = await service.invite_again(
            session, SETTINGS.get(request), viewer.principal, viewer.need_tenant(), user_id
        )
        user = await service.get_user(session, viewer.need_tenant(), user_id)
    return _invitation(request, user.email, token)


@router.post("/users/{raw_id}/role")
async def change_role(raw_id: ShortText, request: Request, viewer: CanManageUsers) -> Response:
    user_id = _id(raw_id, "user")
    form = await request.form()
    role = form_text(form, "role", 32)
    if role not in TENANT_ROLES:
        return await _team(request, viewer, 422, notice="Choose one of the listed roles.")
    return await _change_user(request, viewer, user_id, {"role": role}, "role")


async def _change_user(
    request: Request, viewer: Viewer, user_id: uuid.UUID, changes: dict[str, Any], done: str
) -> Response:
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            await service.update_user(
                session,
                viewer.principal,
                viewer.need_tenant(),
                user_id,
                changes,
                AUTH_CACHE.get(request),
            )
    except AppError as error:
        if error.status >= 500 or error.status == 404:
            raise
        return await _team(request, viewer, error.status, notice=error.detail)
    return redirect(request, f"/team?done={done}")


@router.get("/users/{raw_id}/{action}")
async def confirm_user(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanManageUsers
) -> Response:
    if action not in ("deactivate", "reactivate"):
        raise NotFound("no such page")
    user_id = _id(raw_id, "user")
    async with DATABASE.get(request).read_sessions() as session:
        user = await service.get_user(session, viewer.need_tenant(), user_id)
    consequence = (
        "They cannot sign in and every session of theirs ends now."
        if action == "deactivate"
        else "They can sign in again."
    )
    return page(
        "team/confirm.html",
        request,
        cancel="/team",
        title=f"{action.capitalize()} user",
        heading=f"{action.capitalize()} {user.email}?",
        consequence=consequence,
        action=f"/team/users/{user_id}/{action}",
        button=action.capitalize(),
    )


@router.post("/users/{raw_id}/{action}")
async def activate_user(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanManageUsers
) -> Response:
    if action not in ("deactivate", "reactivate"):
        raise NotFound("no such page")
    return await _change_user(
        request, viewer, _id(raw_id, "user"), {"is_active": action == "reactivate"}, action
    )


@router.post("/keys")
async def create_key(request: Request, viewer: CanManageKeys) -> Response:
    form = await request.form()
    values = {
        "name": form_text(form, "name", 400),
        "role": form_text(form, "role", 32),
        "expires_in_days": form_text(form, "expires_in_days", 10),
    }
    data = {k: v for k, v in values.items() if v}
    body, errors = validate(ApiKeyCreate, data)
    if body is None:
        return await _team(request, viewer, 422, key_form=values, key_errors=errors)
    tenant_id = viewer.need_tenant()
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            if not await first_submission(session, tenant_id, form_text(form, "form_token", 64)):
                return await _team(
                    request,
                    viewer,
                    409,
                    notice="This key was already created by an earlier submission of the same "
                    "form; its secret was shown once then. If you did not copy it, revoke the "
                    "key and create another.",
                )
            created = await service.create_api_key(
                session,
                viewer.principal,
                tenant_id,
                name=body.name,
                role=body.role,
                expires_in_days=body.expires_in_days,
            )
    except AppError as error:
        if error.status >= 500:
            raise
        return await _team(
            request, viewer, error.status, key_form=values, key_errors={"role": error.detail}
        )
    return page(
        "team/key_created.html",
        request,
        title="API key created",
        key=created.key,
        secret=created.secret,
    )


@router.get("/keys/{raw_id}/revoke")
async def confirm_revoke_key(
    raw_id: ShortText, request: Request, viewer: CanManageKeys
) -> Response:
    key_id = _id(raw_id, "API key")
    async with DATABASE.get(request).read_sessions() as session:
        keys = await service.list_api_keys(
            session, viewer.need_tenant(), limit=LISTED, offset=0, include_revoked=True
        )
    key = next((k for k in keys if k.id == key_id), None)
    if key is None:
        raise NotFound("API key not found.")
    return page(
        "team/confirm.html",
        request,
        cancel="/team",
        title="Revoke API key",
        heading=f"Revoke the key {key.name} ({key.prefix}...)?",
        consequence="Every request made with it is refused from now on.",
        action=f"/team/keys/{key_id}/revoke",
        button="Revoke",
    )


@router.post("/keys/{raw_id}/revoke")
async def revoke_key(raw_id: ShortText, request: Request, viewer: CanManageKeys) -> Response:
    key_id = _id(raw_id, "API key")
    async with DATABASE.get(request).sessions.begin() as session:
        await service.revoke_api_key(
            session, viewer.principal, viewer.need_tenant(), key_id, AUTH_CACHE.get(request)
        )
    return redirect(request, "/team?done=revoked")
