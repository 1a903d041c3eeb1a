"""Webhooks: the tenant's endpoints with their health, add and edit, reveal and
rotate the signing secret, send a test event, the delivery log with filters,
resend one delivery, recover the failed ones since a time; and the overview's
"webhook endpoints" and a mandate's "webhook deliveries" panels. Everything goes
through the API's webhook service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from app.core.errors import AppError, NotFound
from app.core.types import ShortText
from app.dashboard import panels
from app.dashboard.deps import Requires, Viewer
from app.dashboard.forms import form_text, validate
from app.dashboard.render import page, redirect
from app.events.deps import resolver_of
from app.events.schemas import DeliveryQuery, WebhookCreate, WebhookUpdate
from app.events.service import WebhookService, delivery_read, to_read
from app.models.webhook import DeliveryStatus
from app.tenancy.permissions import Permission
from app.web.state import CLOCK, DATABASE, SETTINGS
from app.webhooks.catalogue import CATALOGUE, EventType

router = APIRouter(prefix="/webhooks", include_in_schema=False)

CanManage = Annotated[Viewer, Requires(Permission.WEBHOOKS_MANAGE)]
SUBSCRIBABLE = [t.value for t in CATALOGUE if t is not EventType.WEBHOOK_TEST]
LOG_FILTERS = ("status", "event_type", "cursor")
NOTICES = {
    "saved": "The endpoint is saved.",
    "test": "A webhook.test event is on its way; see the delivery log.",
    "resent": "The delivery is queued to be sent again.",
    "recovered": "The failed deliveries since that time are queued again.",
    "deleted": "The endpoint is removed.",
}


def webhook_service(request: Request, viewer: Viewer, session: AsyncSession) -> WebhookService:
    """Built as the API builds it (same tenant, actor, settings, clock, resolver)."""
    return WebhookService(
        session,
        viewer.need_tenant(),
        viewer.principal.actor,
        SETTINGS.get(request),
        CLOCK.get(request),
        resolver_of(request),
    )


def webhook_id_of(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("webhook not found") from None


def _form_values(form: FormData) -> dict[str, Any]:
    return {
        "url": form_text(form, "url", 8192),
        "description": form_text(form, "description", 600) or None,
        "event_types": [v for v in form.getlist("event_types") if isinstance(v, str)][:64],
        "enabled": form.get("enabled") == "on",
    }


@router.get("")
async def list_page(request: Request, viewer: CanManage) -> Response:
    return await _list(request, viewer)


async def _list(
    request: Request,
    viewer: Viewer,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    now = CLOCK.get(request).now()
    async with DATABASE.get(request).read_sessions() as session:
        rows = await webhook_service(request, viewer, session).list()
    return page(
        "webhooks/list.html",
        request,
        status=status,
        title="Webhooks",
        webhooks=[to_read(row, now) for row in rows],
        errors=errors or {},
        form=form or {"enabled": True, "event_types": []},
        event_types=SUBSCRIBABLE,
        notice=NOTICES.get(request.query_params.get("done", "")),
    )


@router.post("")
async def add_webhook(request: Request, viewer: CanManage) -> Response:
    values = _form_values(await request.form())
    data, errors = validate(WebhookCreate, values)
    if data is not None:
        try:
            async with DATABASE.get(request).sessions.begin() as session:
                row, secret = await webhook_service(request, viewer, session).create(data)
        except AppError as error:
            if error.status >= 500:
                raise
            errors = {"url": error.detail}
        else:
            return page(
                "webhooks/secret.html",
                request,
                title="Webhook endpoint added",
                webhook=to_read(row, CLOCK.get(request).now()),
                secret=secret,
                heading="Endpoint added",
                explain="Copy the signing secret now; you can reveal it again from the endpoint's page.",
            )
    return await _list(request, viewer, errors=errors, form=values, status=422)


@router.get("/{raw_id}")
async def detail_page(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    return await _detail(request, viewer, webhook_id_of(raw_id))


async def _detail(
    request: Request,
    viewer: Viewer,
    webhook_id: uuid.UUID,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    values = {
        name: value.strip()
        for name in LOG_FILTERS
        if (value := request.query_params.get(name)) is not None and value.strip()
    }
    query, log_errors = validate(DeliveryQuery, values)
    log = None
    async with DATABASE.get(request).read_sessions() as session:
        service = webhook_service(request, viewer, session)
        row = await service.get(webhook_id)
        if query is not None:
            try:
                log = await service.delivery_log(webhook_id, query)
            except AppError as error:
                if error.code != "invalid_cursor":
                    raise
                log_errors = {"cursor": "This page link no longer fits the filter; start again."}
    webhook = to_read(row, CLOCK.get(request).now())
    base = {k: v for k, v in values.items() if k != "cursor"}
    return page(
        "webhooks/detail.html",
        request,
        status=422 if log_errors and status == 200 else status,
        title=f"Webhook {webhook.url}",
        webhook=webhook,
        errors=errors or {},
        form=form or webhook.model_dump(),
        event_types=SUBSCRIBABLE,
        log=log,
        log_errors=log_errors,
        log_values=values,
        statuses=[("", "any")] + [(s.value, s.value) for s in DeliveryStatus],
        log_types=[("", "any")] + [(t.value, t.value) for t in CATALOGUE],
        next_query=urlencode({**base, "cursor": log.next_cursor})
        if log and log.next_cursor
        else None,
        notice=NOTICES.get(request.query_params.get("done", "")),
        requeued=request.query_params.get("n")
        if request.query_params.get("done") == "recovered"
        else None,
    )


@router.post("/{raw_id}")
async def edit_webhook(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    webhook_id = webhook_id_of(raw_id)
    values = _form_values(await request.form())
    data, errors = validate(WebhookUpdate, values)
    if data is not None:
        try:
            async with DATABASE.get(request).sessions.begin() as session:
                await webhook_service(request, viewer, session).update(webhook_id, data)
        except AppError as error:
            if error.status >= 500 or error.status == 404:
                raise
            errors = {"url": error.detail}
        else:
            return redirect(request, f"/webhooks/{webhook_id}?done=saved")
    return await _detail(request, viewer, webhook_id, status=422, errors=errors, form=values)


@router.post("/{raw_id}/secret")
async def reveal_secret(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    webhook_id = webhook_id_of(raw_id)
    async with DATABASE.get(request).sessions.begin() as session:
        service = webhook_service(request, viewer, session)
        secret, ends = await service.read_secret(webhook_id)
        row = await service.get(webhook_id)
    return page(
        "webhooks/secret.html",
        request,
        title="Signing secret",
        webhook=to_read(row, CLOCK.get(request).now()),
        secret=secret,
        heading="Signing secret",
        explain=(
            f"The previous secret keeps signing beside it until {ends:%Y-%m-%d %H:%M} UTC."
            if ends
            else "Reading the secret is recorded in the audit trail."
        ),
    )


@router.get("/{raw_id}/confirm/{action}")
async def confirm(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanManage
) -> Response:
    consequences = {
        "rotate": (
            "Rotate the secret",
            "A new secret signs from now on; the current one keeps signing beside it for "
            f"{SETTINGS.get(request).webhook_secret_rotation_hours:g} hours, so the receiver "
            "can switch at its own pace.",
        ),
        "delete": (
            "Remove the endpoint",
            "No more events go to it, and its delivery log is deleted with it.",
        ),
    }
    if action not in consequences:
        raise NotFound("no such page")
    webhook_id = webhook_id_of(raw_id)
    async with DATABASE.get(request).read_sessions() as session:
        row = await webhook_service(request, viewer, session).get(webhook_id)
    button, consequence = consequences[action]
    return page(
        "webhooks/confirm.html",
        request,
        title=button,
        webhook=to_read(row, CLOCK.get(request).now()),
        action=f"/webhooks/{webhook_id}/{action}",
        button=button,
        consequence=consequence,
    )


@router.post("/{raw_id}/rotate")
async def rotate(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    webhook_id = webhook_id_of(raw_id)
    async with DATABASE.get(request).sessions.begin() as session:
        service = webhook_service(request, viewer, session)
        secret, ends = await service.rotate_secret(webhook_id, None)
        row = await service.get(webhook_id)
    until = f" until {ends:%Y-%m-%d %H:%M} UTC" if ends else ""
    return page(
        "webhooks/secret.html",
        request,
        title="Secret rotated",
        webhook=to_read(row, CLOCK.get(request).now()),
        secret=secret,
        heading="New signing secret",
        explain=f"Messages carry signatures with both the new and the old secret{until}.",
    )


@router.post("/{raw_id}/delete")
async def delete(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    webhook_id = webhook_id_of(raw_id)
    async with DATABASE.get(request).sessions.begin() as session:
        await webhook_service(request, viewer, session).delete(webhook_id)
    return redirect(request, "/webhooks?done=deleted")


@router.post("/{raw_id}/test")
async def send_test(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    webhook_id = webhook_id_of(raw_id)
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            await webhook_service(request, viewer, session).send_test(webhook_id)
    except AppError as error:
        if error.status != 409:
            raise
        return await _detail(
            request, viewer, webhook_id, status=409, errors={"_form": error.detail}
        )
    return redirect(request, f"/webhooks/{webhook_id}?done=test")


@router.post("/{raw_id}/recover")
async def recover(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    webhook_id = webhook_id_of(raw_id)
    raw = form_text(await request.form(), "since", 40)
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        problem = "Give a date and time (UTC)."
    else:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        try:
            async with DATABASE.get(request).sessions.begin() as session:
                count = await webhook_service(request, viewer, session).recover(webhook_id, since)
        except AppError as error:
            if error.status != 422:
                raise
            problem = error.detail
        else:
            return redirect(request, f"/webhooks/{webhook_id}?done=recovered&n={count}")
    return await _detail(request, viewer, webhook_id, status=422, errors={"since": problem})


@router.post("/deliveries/{raw_id}/resend")
async def resend(raw_id: ShortText, request: Request, viewer: CanManage) -> Response:
    try:
        delivery_id = uuid.UUID(raw_id)
    except ValueError:
        raise NotFound("delivery not found") from None
    async with DATABASE.get(request).sessions.begin() as session:
        row = await webhook_service(request, viewer, session).resend(delivery_id)
        webhook_id = row.webhook_id
    return redirect(request, f"/webhooks/{webhook_id}?done=resent")


async def health_panel(
    request: Request, viewer: Viewer, _mandate_id: uuid.UUID | None
) -> dict[str, Any]:
    """The overview's endpoints: how many, which are failing or disabled."""
    if viewer.tenant_id is None:
        return {"webhooks": [], "tenant": False}
    now = CLOCK.get(request).now()
    async with DATABASE.get(request).read_sessions() as session:
        rows = await webhook_service(request, viewer, session).list()
    return {"webhooks": [to_read(row, now) for row in rows], "tenant": True}


async def deliveries_panel(
    request: Request, viewer: Viewer, mandate_id: uuid.UUID | None
) -> dict[str, Any]:
    """A mandate's newest webhook deliveries, every endpoint of the tenant."""
    assert mandate_id is not None
    async with DATABASE.get(request).read_sessions() as session:
        rows = await webhook_service(request, viewer, session).deliveries_of_mandate(mandate_id)
    return {"deliveries": [delivery_read(row) for row in rows]}


panels.register(
    panels.OVERVIEW_PANELS, "webhook-health", "panels/webhook_health.html", health_panel
)
panels.register(
    panels.MANDATE_PANELS, "webhook-deliveries", "panels/webhook_deliveries.html", deliveries_panel
)
