"""The navigation: which sections a viewer sees, decided by the role table.

Later sections (webhooks, alerts, audit) join here with the permission that
shows them; nothing else in the layout needs to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.tenancy.permissions import Permission

if TYPE_CHECKING:
    from app.dashboard.deps import Viewer


@dataclass(frozen=True, slots=True)
class Section:
    label: str
    href: str
    permission: Permission
    platform_only: bool = False
    needs_tenant: bool = True


SECTIONS: list[Section] = [
    Section("Overview", "/", Permission.MANDATES_READ, needs_tenant=False),
    Section("Mandates", "/mandates", Permission.MANDATES_READ),
    Section("Issuers", "/issuers", Permission.ISSUERS_READ, needs_tenant=False),
    Section("Webhooks", "/webhooks", Permission.WEBHOOKS_MANAGE),
    Section("Alerts", "/alerts", Permission.ALERTS_READ, needs_tenant=False),
    Section("Audit", "/audit", Permission.AUDIT_READ),
    Section("Team", "/team", Permission.USERS_READ),
    Section(
        "Platform", "/platform", Permission.PLATFORM_OPERATE, platform_only=True, needs_tenant=False
    ),
]


def nav_for(viewer: Viewer) -> list[Section]:
    return [
        s
        for s in SECTIONS
        if viewer.can(s.permission) and (not s.platform_only or viewer.is_platform_admin)
    ]
