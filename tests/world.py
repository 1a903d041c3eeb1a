"""The world most API tests start from: two tenants, each with a user and an API
key per tenant role, and a platform admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from app.core.database import Database
from app.core.security import hash_password
from app.models import User
from app.tenancy import auth_service, service
from app.tenancy.permissions import TENANT_ROLES

PASSWORD = "Velvet-Harbour-Lantern-42"


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Identity:
    role: str
    tenant_id: uuid.UUID | None
    user_id: uuid.UUID
    email: str
    access_token: str
    refresh_token: str
    key_id: uuid.UUID
    api_key: str

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def key(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


@dataclass
class World:
    tenant_a: uuid.UUID
    tenant_b: uuid.UUID
    a: dict[str, Identity] = field(default_factory=dict)  # role -> identity in tenant A
    b: dict[str, Identity] = field(default_factory=dict)
    admin: Identity | None = None


async def add_identity(session, settings, tenant_id, role, email) -> Identity:
    user = User(email=email, role=role, password_hash=password_hash(), full_name=role)
    user.tenant_id = tenant_id
    session.add(user)
    await session.flush()
    pair = await auth_service.issue_session(session, settings, user, "127.0.0.1")
    created = await service.create_api_key(session, None, tenant_id, name=f"{role} key", role=role)
    return Identity(
        role,
        tenant_id,
        user.id,
        email,
        pair.access_token,
        pair.refresh_token,
        created.key.id,
        created.secret,
    )


async def build_world(database: Database, settings) -> World:
    async with database.sessions.begin() as session:
        a = await service.create_tenant(session, "Tenant A", email="ops@a.example")
        b = await service.create_tenant(session, "Tenant B", email="ops@b.example")
        world = World(a.id, b.id)
        for role in TENANT_ROLES:
            world.a[role] = await add_identity(session, settings, a.id, role, f"{role}@a.example")
            world.b[role] = await add_identity(session, settings, b.id, role, f"{role}@b.example")
        world.admin = await add_identity(session, settings, None, "admin", "root@platform.example")
    return world
