"""Issuers: the truststore in view (a tenant's, or the global one for a platform
admin with no tenant chosen), adding one by pasted JWKS, JWKS URL or DID,
its keys, the last JWKS fetch and its error, and suspend / revoke /
reactivate / rotate keys (add, remove, fetch again)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.core.errors import AppError, NotFound
from app.core.types import ShortText
from app.dashboard.deps import Requires, Viewer
from app.dashboard.forms import form_text, validate
from app.dashboard.render import page, redirect
from app.dashboard.services import issuer_scope, issuer_service
from app.issuers.schemas import IssuerCreate, IssuerUpdate
from app.issuers.service import key_details, to_read
from app.keys import IssuerStatus
from app.tenancy.permissions import Permission
from app.web.state import DATABASE

router = APIRouter(prefix="/issuers", include_in_schema=False)

CanRead = Annotated[Viewer, Requires(Permission.ISSUERS_READ, tenant=False)]
CanManage = Annotated[Viewer, Requires(Permission.ISSUERS_MANAGE, tenant=False)]
SOURCES = [
    ("jwks", "Paste a JWKS"),
    ("jwks_url", "JWKS URL"),
    ("did", "did:key or did:jwk (keys in the DID)"),
]
STATUS_ACTIONS = {
    "suspend": (
        IssuerStatus.SUSPENDED,
        "Suspend",
        "Its mandates stop verifying until it is reactivated.",
    ),
    "revoke": (IssuerStatus.REVOKED, "Revoke", "Its mandates stop verifying for good."),
    "reactivate": (IssuerStatus.ACTIVE, "Reactivate", "Its mandates verify again."),
}
NOTICES = {
    "created": "The issuer is registered.",
    "suspend": "The issuer is suspended.",
    "revoke": "The issuer is revoked.",
    "reactivate": "The issuer is active again.",
    "key_added": "The key is added; remove the old one once no mandate needs it.",
    "key_removed": "The key is removed.",
    "refreshed": "The keys were fetched again.",
    "refresh_failed": "Fetching the keys failed; the last good keys stay (see the error below).",
}


def issuer_id_of(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("issuer not found") from None


@router.get("")
async def list_page(request: Request, viewer: CanRead) -> Response:
    return await _list(request, viewer)


async def _list(
    request: Request,
    viewer: Viewer,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with DATABASE.get(request).read_sessions() as session:
        rows = await issuer_service(request, viewer, session).list()
    return page(
        "issuers/list.html",
        request,
        status=status,
        title="Issuers",
        issuers=[to_read(row) for row in rows],
        global_scope=issuer_scope(viewer) is None,
        errors=errors or {},
        form=form or {"source": "jwks"},
        sources=SOURCES,
        notice=NOTICES.get(request.query_params.get("done", "")),
    )


def _parse_jwks(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, f"This is not JSON: {error.msg} (line {error.lineno}, column {error.colno})."


@router.post("")
async def add_issuer(request: Request, viewer: CanManage) -> Response:
    form = await request.form()
    values = {
        "did": form_text(form, "did", 4096),
        "name": form_text(form, "name", 400),
        "source": form_text(form, "source", 16) or "jwks",
        "jwks": form_text(form, "jwks", 300_000),
        "jwks_url": form_text(form, "jwks_url", 4096),
    }
    data: dict[str, Any] = {"did": values["did"], "name": values["name"] or None}
    errors: dict[str, str] = {}
    if values["source"] == "jwks":
        if not values["jwks"]:
            errors["jwks"] = 'Paste the issuer\'s JWKS ({"keys": [...]}).'
        else:
            data["jwks"], problem = _parse_jwks(values["jwks"])
            if problem:
                errors["jwks"] = problem
    elif values["source"] == "jwks_url":
        if not values["jwks_url"]:
            errors["jwks_url"] = "Give the https:// URL of the issuer's JWKS."
        data["jwks_url"] = values["jwks_url"]
    elif values["source"] != "did":
        errors["source"] = "Choose where the keys come from."
    body, invalid = validate(IssuerCreate, data)
    errors = {**invalid, **errors}
    if body is None or errors:
        return await _list(request, viewer, errors, values, 422)
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            row = await issuer_service(request, viewer, session).create(body)
    except AppError as error:
        if error.status >= 500:
            raise
        field = {
            "invalid_jwks": "jwks",
            "jwks_unavailable": "jwks_url",
            "invalid_key_source": "did",
            "issuer_exists": "did",
        }.get(error.code, "_form")
        if field == "did" and values["source"] == "jwks_url" and error.code == "invalid_key_source":
            field = "jwks_url"
        return await _list(request, viewer, {field: error.detail}, values, error.status)
    return redirect(request, f"/issuers/{row.id}?done=created")


async def _detail(
    request: Request, viewer: Viewer, issuer_id: uuid.UUID, status: int = 200, **extra: Any
) -> Response:
    async with DATABASE.get(request).read_sessions() as session:
        service = issuer_service(request, viewer, session)
        row = await service.get(issuer_id)
        own = row.tenant_id == service.scope
    return page(
        "issuers/detail.html",
        request,
        status=status,
        title=row.name or row.did,
        issuer=to_read(row),
        keys=key_details(row),
        own=own,
        notice=NOTICES.get(request.query_params.get("done", "")),
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/{raw_id}")
async def detail_page(raw_id: ShortText, request: Request, viewer: CanRead) -> Response:
    return await _detail(request, viewer, issuer_id_of(raw_id))


@router.get("/{raw_id}/status/{action}")
async def confirm_status(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanManage
) -> Response:
    if action not in STATUS_ACTIONS:
        raise NotFound("no such page")
    issuer_id = issuer_id_of(raw_id)
    async with DATABASE.get(request).read_sessions() as session:
        row = await issuer_service(request, viewer, session).get_own(issuer_id)
    _, button, consequence = STATUS_ACTIONS[action]
    return page(
        "issuers/confirm.html",
        request,
        title=f"{button} issuer",
        issuer=to_read(row),
        action=f"/issuers/{issuer_id}/status/{action}",
        button=button,
        consequence=consequence,
    )


@router.post("/{raw_id}/status/{action}")
async def change_status(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanManage
) -> Response:
    if action not in STATUS_ACTIONS:
        raise NotFound("no such page")
    issuer_id = issuer_id_of(raw_id)
    async with DATABASE.get(request).sessions.begin() as session:
        await issuer_service(request, viewer, session).update(
            issuer_id, IssuerUpdate(status=STATUS_ACTIONS[action][0])
        )
    return redirect(request, f"/issuers/{issuer_id}?done={action}")


@router.post("/{raw_id}/keys")
async def add_key(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    issuer_id = issuer_id_of(raw_id)
    form = await request.form()
    text = form_text(form, "jwk", 100_000)
    jwk, problem = _parse_jwks(text) if text else (None, "Paste the new public key as a JWK.")
    if problem is None and not isinstance(jwk, dict):
        problem = "A JWK is a JSON object."
    if problem is None and isinstance(jwk, dict):
        try:
            async with DATABASE.get(request).sessions.begin() as session:
                await issuer_service(request, viewer, session).add_key(issuer_id, jwk)
        except AppError as error:
            if error.status >= 500 or error.status == 404:
                raise
            problem = error.detail
    if problem is not None:
        return await _detail(
            request, viewer, issuer_id, status=422, errors={"jwk": problem}, jwk=text
        )
    return redirect(request, f"/issuers/{issuer_id}?done=key_added")


@router.get("/{raw_id}/keys/remove")
async def confirm_remove_key(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    issuer_id = issuer_id_of(raw_id)
    kid = request.query_params.get("kid", "")[:512]
    async with DATABASE.get(request).read_sessions() as session:
        row = await issuer_service(request, viewer, session).get_own(issuer_id)
    return page(
        "issuers/confirm.html",
        request,
        title="Remove key",
        issuer=to_read(row),
        action=f"/issuers/{issuer_id}/keys/remove",
        button=f"Remove key {kid}",
        consequence="Mandates signed with this key stop verifying.",
        kid=kid,
    )


@router.post("/{raw_id}/keys/remove")
async def remove_key(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    issuer_id = issuer_id_of(raw_id)
    form = await request.form()
    kid = form_text(form, "kid", 512)
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            await issuer_service(request, viewer, session).remove_key(issuer_id, kid)
    except AppError as error:
        if error.status >= 500:
            raise
        return await _detail(request, viewer, issuer_id, status=error.status, problem=error.detail)
    return redirect(request, f"/issuers/{issuer_id}?done=key_removed")


@router.post("/{raw_id}/refresh")
async def refresh_keys(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    issuer_id = issuer_id_of(raw_id)
    async with DATABASE.get(request).sessions.begin() as session:
        result = await issuer_service(request, viewer, session).refresh_keys(issuer_id)
    return redirect(
        request, f"/issuers/{issuer_id}?done={'refreshed' if result.ok else 'refresh_failed'}"
    )
