"""Queries for tenants, users, API keys and refresh tokens.

Tenant-owned rows (users, API keys) are reached through repositories built
with a tenant id: the filter lives in their base statement and nowhere else.
`CredentialLookup` is the one unscoped door, used to authenticate (a key's hash
or an email names the tenant; nothing from the request does).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.repository import TenantScopedRepository
from app.models import ApiKey, RefreshToken, Tenant, User


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def list(self, *, limit: int, offset: int, active: bool | None) -> list[Tenant]:
        statement = select(Tenant).order_by(Tenant.created_at, Tenant.id)
        if active is not None:
            statement = statement.where(Tenant.is_active.is_(active))
        return list(await self.session.scalars(statement.limit(limit).offset(offset)))

    async def by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(Tenant.slug == slug))

    async def slug_taken(self, slug: str, *, other_than: uuid.UUID | None = None) -> bool:
        statement = select(exists().where(Tenant.slug == slug))
        if other_than is not None:
            statement = select(exists().where(Tenant.slug == slug, Tenant.id != other_than))
        return bool(await self.session.scalar(statement))

    async def add(self, tenant: Tenant) -> Tenant:
        self.session.add(tenant)
        await self.session.flush()
        return tenant


class UserRepository(TenantScopedRepository[User]):
    """A tenant's users (soft-deleted ones are gone from here)."""

    model = User

    def base(self) -> Select[User]:
        return super().base().where(User.deleted_at.is_(None))

    async def list(self, *, limit: int, offset: int) -> list[User]:
        statement = self.base().order_by(User.created_at, User.id).limit(limit).offset(offset)
        return list(await self.session.scalars(statement))


class ApiKeyRepository(TenantScopedRepository[ApiKey]):
    """A tenant's API keys."""

    model = ApiKey

    async def list(self, *, limit: int, offset: int, include_revoked: bool) -> list[ApiKey]:
        statement = self.base()
        if not include_revoked:
            statement = statement.where(ApiKey.revoked_at.is_(None))
        statement = statement.order_by(ApiKey.created_at, ApiKey.id).limit(limit).offset(offset)
        return list(await self.session.scalars(statement))

    async def named(self, name: str) -> ApiKey | None:
        """The tenant's first key with this name (revoked ones included)."""
        statement = self.base().where(ApiKey.name == name).order_by(ApiKey.created_at).limit(1)
        return await self.session.scalar(statement)


class CredentialLookup:
    """Unscoped lookups that authentication needs (by secret hash, email or id)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email))

    async def email_taken(self, email: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(User.email == email))))

    async def user_by_id(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def api_key_by_id(self, key_id: uuid.UUID) -> ApiKey | None:
        """For operators (the CLI), who name a key by id alone."""
        return await self.session.get(ApiKey, key_id)

    async def tenant_active(self, tenant_id: uuid.UUID | None) -> bool:
        if tenant_id is None:
            return True
        return bool(
            await self.session.scalar(select(Tenant.is_active).where(Tenant.id == tenant_id))
        )

    async def api_key_with_tenant(self, key_hash: str) -> tuple[ApiKey, bool] | None:
        """The key and whether its tenant is active (platform keys: True)."""
        statement = (
            select(ApiKey, Tenant.is_active)
            .outerjoin(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKey.key_hash == key_hash)
        )
        row = (await self.session.execute(statement)).first()
        if row is None:
            return None
        key, active = row
        return key, True if key.tenant_id is None else bool(active)

    async def user_session(
        self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
    ) -> tuple[User, bool, bool] | None:
        """The user, whether its tenant is active and whether the session is alive."""
        alive = (
            exists()
            .where(
                RefreshToken.family_id == session_id,
                RefreshToken.user_id == user_id,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .correlate(None)
        )
        statement = (
            select(User, Tenant.is_active, alive)
            .outerjoin(Tenant, Tenant.id == User.tenant_id)
            .where(User.id == user_id)
        )
        row = (await self.session.execute(statement)).first()
        if row is None:
            return None
        user, active, is_alive = row
        return user, True if user.tenant_id is None else bool(active), bool(is_alive)

    async def touch_api_key(self, key_id: uuid.UUID, now: datetime, older_than: datetime) -> None:
        await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < older_than),
            )
            .values(last_used_at=now)
        )

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )

    async def add_refresh_token(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def use_refresh_token(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Mark it used; False when someone else used or revoked it first."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
        )
        return cast(CursorResult[Any], result).rowcount == 1

    async def revoke_session(self, session_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == session_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user_sessions(self, user_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
