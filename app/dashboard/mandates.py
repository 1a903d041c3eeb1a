"""Mandates: the search page (every filter of the API, keyset paging both ways,
sort), the CSV export of the current filter (streamed), the bulk import of a
JSON Lines file (checked whole first, then imported with progress), one
mandate's page, the audited reveal of its token, and its actions, each behind
a confirmation step."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from markupsafe import Markup, escape

from app.audit.history import resource_history
from app.core.errors import AppError, Conflict, InvalidInput, NotFound
from app.core.types import ShortText
from app.dashboard.deps import Requires, Viewer, check_csrf
from app.dashboard.forms import form_text, validate
from app.dashboard.panels import MANDATE_PANELS, load_panels
from app.dashboard.render import page, redirect, render
from app.dashboard.services import mandate_service
from app.issuers.deps import TRUST_LOADER
from app.mandates.importer import ImportSummary, import_lines, parse_line
from app.mandates.schemas import MandateRead, RevokeRequest
from app.mandates.search import MandateSearch
from app.mandates.verification import Code
from app.models.mandate import MandateStatus, MandateType
from app.tenancy.permissions import Permission
from app.web.state import DATABASE, SETTINGS

router = APIRouter(prefix="/mandates", include_in_schema=False)

CanRead = Annotated[Viewer, Requires(Permission.MANDATES_READ)]
CanWrite = Annotated[Viewer, Requires(Permission.MANDATES_WRITE)]
CanWriteNoCsrf = Annotated[Viewer, Requires(Permission.MANDATES_WRITE, csrf=False)]

FILTERS = (
    "status",
    "verification_status",
    "mandate_type",
    "issuer_did",
    "subject_did",
    "scope",
    "merchant",
    "label",
    "expires_after",
    "expires_before",
    "created_after",
    "created_before",
    "amount_min",
    "amount_max",
    "sort",
    "limit",
    "cursor",
)
SORTS = [
    ("-created_at", "newest first"),
    ("created_at", "oldest first"),
    ("expires_at", "expiring soonest"),
    ("-expires_at", "expiring latest"),
]
EXPORT_PAGE = 200
# Imports run to the end even when the browser goes away; the loop holds tasks
# only weakly, so they are kept here until done.
_IMPORTS: set[asyncio.Task[ImportSummary]] = set()
CSV_COLUMNS = (
    "id",
    "mandate_type",
    "status",
    "verification_status",
    "issuer_did",
    "subject_did",
    "scope",
    "amount_limit",
    "currency",
    "merchants",
    "labels",
    "issued_at",
    "expires_at",
    "created_at",
    "revoked_at",
    "revocation_reason",
)
ACTIONS = {
    "revoke": (
        "Revoke this mandate",
        "Revoke",
        "It stops covering payments at once; it cannot be undone.",
    ),
    "delete": (
        "Delete this mandate",
        "Delete",
        "It is hidden from searches and purged after its retention period unless restored.",
    ),
    "restore": (
        "Restore this mandate",
        "Restore",
        "It returns with the status it had before it was deleted.",
    ),
    "verify": (
        "Verify this mandate again",
        "Verify now",
        "Its signature and claims are checked against the issuer's keys as they are now.",
    ),
}
NOTICES = {
    "revoke": "The mandate is revoked.",
    "delete": "The mandate is deleted.",
    "restore": "The mandate is restored.",
    "verify": "Verified again: {code}.",
}


def mandate_id_of(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("mandate not found") from None


def _filters(request: Request) -> dict[str, str]:
    """The search form's values as given (empty ones left out)."""
    values = {}
    for name in FILTERS:
        value = request.query_params.get(name)
        if value is not None and value.strip():
            values[name] = value.strip() if name != "cursor" else value
    return values


def _query(values: dict[str, str], **changes: str | None) -> str:
    from urllib.parse import urlencode

    merged = {**values, **changes}
    return urlencode({k: v for k, v in merged.items() if v})


@router.get("")
async def search_page(request: Request, viewer: CanRead) -> Response:
    values = _filters(request)
    params, errors = validate(MandateSearch, values)
    results = None
    if params is not None:
        try:
            async with DATABASE.get(request).read_sessions() as session:
                results = await mandate_service(request, viewer, session).search(params)
        except AppError as error:
            if error.code != "invalid_cursor":
                raise
            errors = {
                "cursor": "This page link no longer fits the filter; start from the first page."
            }
    base = {k: v for k, v in values.items() if k != "cursor"}
    return page(
        "mandates/list.html",
        request,
        status=422 if errors else 200,
        title="Mandates",
        values=values,
        errors=errors,
        results=results,
        statuses=[("", "any (not deleted)")] + [(s.value, s.value) for s in MandateStatus],
        types=[("", "any")] + [(t.value, t.value) for t in MandateType],
        codes=[("", "any")] + [(c.value, c.value) for c in Code],
        sorts=SORTS,
        first_query=_query(base),
        next_query=_query(base, cursor=results.next_cursor)
        if results and results.next_cursor
        else None,
        prev_query=_query(base, cursor=results.prev_cursor)
        if results and results.prev_cursor
        else None,
        export_query=_query({k: v for k, v in base.items() if k != "limit"}),
    )


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with these is a formula to a spreadsheet: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_row(item: MandateRead) -> list[str]:
    import json

    values = item.model_dump(mode="json")
    row = []
    for column in CSV_COLUMNS:
        value = values.get(column)
        if isinstance(value, list | dict):
            value = json.dumps(value, sort_keys=True)
        row.append(_csv_cell(value))
    return row


@router.get("/export.csv")
async def export_csv(request: Request, viewer: CanRead) -> Response:
    """Every mandate of the current filter as CSV, streamed page by page."""
    values = {k: v for k, v in _filters(request).items() if k not in ("cursor", "limit")}
    params, errors = validate(MandateSearch, {**values, "limit": EXPORT_PAGE})
    if params is None:
        field, message = next(iter(errors.items()))
        raise InvalidInput(f"The filter {field} is not valid: {message}")
    database = DATABASE.get(request)

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        cursor: str | None = None
        async with database.read_sessions() as session:
            service = mandate_service(request, viewer, session)
            while True:
                batch = await service.search(params.model_copy(update={"cursor": cursor}))
                for item in batch.items:
                    writer.writerow(_csv_row(item))
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if batch.next_cursor is None:
                    return
                cursor = batch.next_cursor

    name = f"mandates-{viewer.need_tenant()}.csv"
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/import")
async def import_form(request: Request, viewer: CanWrite) -> Response:
    return _import_page(request, {})


def _import_page(request: Request, errors: dict[str, str], status: int = 200) -> Response:
    cap = SETTINGS.get(request).dashboard_import_max_bytes
    return page(
        "mandates/import.html",
        request,
        status=status,
        title="Import mandates",
        errors=errors,
        cap=cap,
    )


@router.post("/import")
async def import_file(request: Request, viewer: CanWriteNoCsrf) -> Response:
    """Check the whole file, then import it with progress streamed into the page."""
    settings = SETTINGS.get(request)
    cap = settings.dashboard_import_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap + 64 * 1024:
        return _import_page(
            request, {"file": f"The file is larger than the {cap:,} byte cap."}, 413
        )
    form = await request.form(max_files=1, max_fields=4)
    await check_csrf(request, str(viewer.session.session_id))
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return _import_page(request, {"file": "Choose a JSON Lines file to import."}, 422)
    raw = await upload.read(cap + 1)
    if len(raw) > cap:
        return _import_page(
            request, {"file": f"The file is larger than the {cap:,} byte cap."}, 413
        )
    lines = [line for line in raw.splitlines() if line.strip()]
    if not lines:
        return _import_page(request, {"file": "The file has no lines to import."}, 422)
    bad = [
        number
        for number, line in enumerate(raw.splitlines(), 1)
        if line.strip() and isinstance(parse_line(line), str)
    ]
    if bad:
        shown = ", ".join(str(n) for n in bad[:10]) + (" ..." if len(bad) > 10 else "")
        message = (
            f"This is not a JSON Lines file of mandates: {len(bad)} of {len(lines)} lines "
            f"(line {shown}) are not a JSON object with vc_jwt or a JSON string. Nothing was imported."
        )
        return _import_page(request, {"file": message}, 422)
    return _stream_import(request, viewer, lines, upload.filename)


def _stream_import(request: Request, viewer: Viewer, lines: list[bytes], filename: str) -> Response:
    marker = "<!--import-progress-->"
    shell = str(
        render(
            "mandates/import_running.html",
            request,
            title="Importing",
            filename=filename,
            total=len(lines),
            marker=Markup(marker),
        )
    )
    head, _, tail = shell.partition(marker)
    database = DATABASE.get(request)
    settings = SETTINGS.get(request)
    trust = TRUST_LOADER.get(request)
    tenant_id = viewer.need_tenant()
    total = len(lines)

    async def body() -> AsyncIterator[str]:
        yield head
        done = asyncio.Queue[int]()
        job = asyncio.create_task(
            import_lines(
                database, tenant_id, lines, settings, trust, done.put_nowait, viewer.principal.actor
            )
        )
        _IMPORTS.add(job)
        job.add_done_callback(_IMPORTS.discard)

        seen = 0
        while not job.done() or not done.empty():
            try:
                seen += await asyncio.wait_for(done.get(), timeout=0.5)
            except TimeoutError:
                continue
            yield f'<li class="progress-step">{seen:,} of {total:,} lines <progress value="{seen}" max="{total}">{seen}</progress></li>\n'
        try:
            summary = job.result()
        except Exception:
            yield str(render("mandates/import_failed.html", request, seen=seen, total=total))
        else:
            yield str(render("mandates/import_summary.html", request, summary=summary))
        yield tail

    return StreamingResponse(
        body(), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
    )


async def _detail(
    request: Request, viewer: Viewer, mandate_id: uuid.UUID, status: int = 200, **extra: Any
) -> Response:
    async with DATABASE.get(request).sessions() as session:
        service = mandate_service(request, viewer, session)
        mandate = await service.get(mandate_id)
        view = service.view(mandate)
        history = []
        if viewer.can(Permission.AUDIT_READ):
            history = await resource_history(session, viewer.need_tenant(), "mandate", mandate_id)
    done = request.query_params.get("done", "")
    notice = NOTICES.get(done)
    if notice and done == "verify":
        code = request.query_params.get("code", "")
        notice = notice.format(code=code if code in Code.__members__ else "done")
    return page(
        "mandates/detail.html",
        request,
        status=status,
        title=f"Mandate {mandate_id}",
        m=view,
        verification=mandate.verification_details,
        history=history,
        panels=await load_panels(MANDATE_PANELS, request, viewer, mandate_id),
        notice=notice,
        **extra,
    )


@router.get("/{raw_id}")
async def detail_page(raw_id: ShortText, request: Request, viewer: CanRead) -> Response:
    return await _detail(request, viewer, mandate_id_of(raw_id))


@router.post("/{raw_id}/reveal")
async def reveal_token(raw_id: ShortText, request: Request, viewer: CanRead) -> Response:
    """The raw token, on request only; the read is audited."""
    mandate_id = mandate_id_of(raw_id)
    async with DATABASE.get(request).sessions.begin() as session:
        token = (await mandate_service(request, viewer, session).read_token(mandate_id)).vc_jwt
    return await _detail(request, viewer, mandate_id, token=token)


@router.get("/{raw_id}/{action}")
async def confirm_page(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanWrite
) -> Response:
    if action not in ACTIONS:
        raise NotFound("no such page")
    mandate_id = mandate_id_of(raw_id)
    async with DATABASE.get(request).sessions() as session:
        service = mandate_service(request, viewer, session)
        view = service.view(await service.get(mandate_id))
    heading, button, consequence = ACTIONS[action]
    return page(
        "mandates/confirm.html",
        request,
        title=heading,
        m=view,
        action=action,
        heading=heading,
        button=button,
        consequence=consequence,
        errors={},
        reason="",
    )


@router.post("/{raw_id}/{action}")
async def perform(
    raw_id: ShortText, action: ShortText, request: Request, viewer: CanWrite
) -> Response:
    if action not in ACTIONS:
        raise NotFound("no such page")
    mandate_id = mandate_id_of(raw_id)
    form = await request.form()
    suffix = ""
    if action == "revoke":
        reason = form_text(form, "reason", 2000)
        body, errors = validate(RevokeRequest, {"reason": reason})
        if body is None:
            async with DATABASE.get(request).sessions() as session:
                service = mandate_service(request, viewer, session)
                view = service.view(await service.get(mandate_id))
            heading, button, consequence = ACTIONS[action]
            return page(
                "mandates/confirm.html",
                request,
                status=422,
                title=heading,
                m=view,
                action=action,
                heading=heading,
                button=button,
                consequence=consequence,
                errors={
                    "reason": "Give a reason (1 to 1,000 characters)."
                    if not reason
                    else errors.get("reason", "")
                },
                reason=reason,
            )
    try:
        async with DATABASE.get(request).sessions.begin() as session:
            service = mandate_service(request, viewer, session)
            if action == "revoke":
                assert body is not None
                await service.revoke(mandate_id, body.reason)
            elif action == "delete":
                await service.delete(mandate_id)
            elif action == "restore":
                await service.restore(mandate_id)
            else:
                result = await service.reverify(mandate_id)
                suffix = f"&code={escape(result.code)}"
    except Conflict as error:
        # A second submission, or a state that changed meanwhile: say so on the page.
        return await _detail(request, viewer, mandate_id, problem=error.detail, status=409)
    return redirect(request, f"/mandates/{mandate_id}?done={action}{suffix}")
