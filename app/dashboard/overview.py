"""The overview: mandates by status, submissions per hour and verification
failures by code (7 days), what expires within 7 days, the registered panels
(alerts, webhook health), and the database status for platform admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from app.activity.service import activity, status_counts
from app.dashboard import charts
from app.dashboard.deps import Viewer
from app.dashboard.panels import OVERVIEW_PANELS, load_panels
from app.dashboard.render import page
from app.dashboard.services import mandate_service
from app.dbops.monitor import status as database_status
from app.mandates.search import MandateSearch
from app.models.mandate import MandateStatus
from app.tenancy.permissions import Permission
from app.web.state import CLOCK, DATABASE

EXPIRING_WITHIN = timedelta(days=7)
EXPIRING_SHOWN = 10


async def overview_page(request: Request, viewer: Viewer) -> Response:
    context: dict[str, Any] = {"title": "Overview"}
    now = CLOCK.get(request).now()
    database = DATABASE.get(request)
    if viewer.tenant is not None and viewer.can(Permission.MANDATES_READ):
        async with database.read_sessions() as session:
            mandates = mandate_service(request, viewer, session)
            # The roll-up's counts while fresh (two rounds of the job), else live.
            every = database.settings.activity_rollup_seconds
            fresh = timedelta(seconds=2 * every + 30) if every > 0 else timedelta(0)
            by_status = await status_counts(session, viewer.need_tenant(), now, fresh)
            counts = by_status.counts
            summary = await activity(session, viewer.need_tenant(), now)
            expiring = await mandates.search(
                MandateSearch(
                    status=MandateStatus.ACTIVE,
                    expires_before=now + EXPIRING_WITHIN,
                    sort="expires_at",
                    limit=EXPIRING_SHOWN,
                )
            )
        hours = [h.hour for h in summary.hours]
        context.update(
            counts=counts,
            counted_at=by_status.as_of,
            status_chart=charts.horizontal_bars(
                [charts.Bar(status, n, f"bar status-{status}") for status, n in counts.items()],
                "Mandates by status",
            ),
            activity=summary,
            activity_chart=charts.hourly_bars(
                hours,
                [
                    ("stored", "bar stored", [h.stored for h in summary.hours]),
                    ("rejected", "bar rejected", [h.rejected for h in summary.hours]),
                ],
                "Submissions per hour, last 7 days: stored and rejected",
            ),
            failures_chart=charts.horizontal_bars(
                [charts.Bar(code, n, "bar rejected") for code, n in summary.failures.items()],
                "Verification failures by code, last 7 days",
            ),
            expiring=expiring.items,
            expiring_more=expiring.next_cursor is not None,
            expiring_before=(now + EXPIRING_WITHIN).strftime("%Y-%m-%dT%H:%M"),
        )
    context["panels"] = await load_panels(OVERVIEW_PANELS, request, viewer)
    if viewer.is_platform_admin:
        context["db"] = await database_status(database, timeout=database.settings.readiness_timeout)
    return page("overview.html", request, **context)
