"""Who is acting: the resolved credentials of one request (no FastAPI here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.tenancy.permissions import Permission, Role, allows


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # "user" or "api_key"
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
