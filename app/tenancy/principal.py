"""Who is acting: the resolved credentials of one request (no FastAPI here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from app.core.actor import Actor
from app.tenancy.permissions import Permission, Role, allows


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["user", "api_key"]
    id: uuid.UUID
    tenant_id: uuid.UUID | None  # None for platform admins
    role: str
    name: str  # email or key name
    session_id: uuid.UUID | None = None  # sign-in session of a user's access token

    @property
    def is_platform_admin(self) -> bool:
        return self.role == Role.ADMIN and self.tenant_id is None

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)

    @property
    def audit_id(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def actor(self) -> Actor:
        """This principal as the audit trail records it."""
        return Actor(self.kind, self.audit_id, self.role)
