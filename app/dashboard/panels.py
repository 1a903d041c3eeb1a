"""Hooks for the features that add panels to existing pages.

A panel is a template fragment with an async loader: the overview and the
mandate detail page render every registered panel the viewer may see, in
order. The webhooks and alerts feature (issue #9) registers "open alerts" and
"webhook health" on the overview and "webhook deliveries" on a mandate; the
audit feature (issue #14) registers "chain status" and "evidence pack". Until
then the pages show their slots as not yet available.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from app.dashboard.deps import Viewer
from app.tenancy.permissions import Permission

# (request, viewer, mandate id or None) -> the template's context
Loader = Callable[[Request, Viewer, uuid.UUID | None], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Panel:
    name: str
    title: str
    template: str
    permission: Permission
    load: Loader | None = None
    placeholder: str = ""  # shown while no loader is registered

    @property
    def available(self) -> bool:
        return self.load is not None


@dataclass
class PanelSlot:
    """A rendered panel: its template and context, or its placeholder."""

    panel: Panel
    context: dict[str, Any] = field(default_factory=dict)


OVERVIEW_PANELS: list[Panel] = [
    Panel(
        "alerts",
        "Open alerts",
        "panels/alerts.html",
        Permission.ALERTS_READ,
        placeholder="Alerts arrive with the alerting feature.",
    ),
    Panel(
        "webhook-health",
        "Webhook endpoints",
        "panels/webhook_health.html",
        Permission.WEBHOOKS_MANAGE,
        placeholder="Webhook endpoint health arrives with the webhooks feature.",
    ),
]
MANDATE_PANELS: list[Panel] = [
    Panel(
        "chain-status",
        "Audit chain",
        "panels/chain_status.html",
        Permission.AUDIT_READ,
        placeholder="The audit chain status arrives with the tamper-evident audit trail.",
    ),
    Panel(
        "evidence-pack",
        "Evidence pack",
        "panels/evidence_pack.html",
        Permission.AUDIT_READ,
        placeholder="Signed evidence packs arrive with the tamper-evident audit trail.",
    ),
    Panel(
        "webhook-deliveries",
        "Webhook deliveries",
        "panels/webhook_deliveries.html",
        Permission.WEBHOOKS_MANAGE,
        placeholder="Webhook deliveries of this mandate arrive with the webhooks feature.",
    ),
]


def register(panels: list[Panel], name: str, template: str, load: Loader) -> None:
    """Give the named slot its template and loader (called by the feature at start-up)."""
    for index, panel in enumerate(panels):
        if panel.name == name:
            panels[index] = Panel(
                panel.name, panel.title, template, panel.permission, load, panel.placeholder
            )
            return
    raise KeyError(name)


async def load_panels(
    panels: list[Panel], request: Request, viewer: Viewer, mandate_id: uuid.UUID | None = None
) -> list[PanelSlot]:
    slots = []
    for panel in panels:
        if not viewer.can(panel.permission):
            continue
        context = await panel.load(request, viewer, mandate_id) if panel.load else {}
        slots.append(PanelSlot(panel, context))
    return slots
