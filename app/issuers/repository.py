"""Every query on `issuers`.

A repository is built for one scope: a tenant, or `None` for the global
truststore that platform admins manage. `base()` is the scope's own rows (what
it may change); `visible()` adds the global rows a tenant trusts as well.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select, update

from app.core.repository import TenantScopedRepository
from app.keys import IssuerStatus
from app.models import Issuer

MAX_ISSUERS_LISTED = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class IssuerRecord:
    """What verification needs of an issuer row."""

    id: uuid.UUID
    tenant_id: uuid.UUID | None
    did: str
    status: IssuerStatus
    jwks: dict[str, Any] | None
    jwks_url: str | None
    updated_at: datetime
    jwks_fetched_at: datetime | None


_COLUMNS = [getattr(Issuer, f.name) for f in dataclasses.fields(IssuerRecord)]


def _visible_to(tenant_id: Any) -> ColumnElement[bool]:
    return or_(Issuer.tenant_id == tenant_id, Issuer.tenant_id.is_(None))


# Built once: a statement reused with bound parameters skips construction and
# cache-key generation on every ingest.
_VISIBLE_BY_DIDS = select(*_COLUMNS).where(
    Issuer.did.in_(bindparam("dids", expanding=True)), _visible_to(bindparam("tenant_id"))
)


class IssuerRepository(TenantScopedRepository[Issuer]):
    model = Issuer
    # The global truststore (platform admins) is the scope `None`: tenant_id NULL.
    platform_scope = True

    def _visible_clause(self) -> ColumnElement[bool]:
        return self.scope() if self.tenant_id is None else _visible_to(self.tenant_id)

    def visible(self) -> Select[Issuer]:
        """Own rows and, for a tenant, the global ones it trusts too."""
        return select(Issuer).where(self._visible_clause())

    async def get_visible(self, issuer_id: uuid.UUID) -> Issuer | None:
        return await self.session.scalar(self.visible().where(Issuer.id == issuer_id))

    async def list_visible(self, status: IssuerStatus | None = None) -> list[Issuer]:
        query = self.visible().order_by(Issuer.created_at, Issuer.id).limit(MAX_ISSUERS_LISTED)
        if status is not None:
            query = query.where(Issuer.status == status)
        return list(await self.session.scalars(query))

    async def own_id_for_did(self, did: str) -> uuid.UUID | None:
        return await self.session.scalar(select(Issuer.id).where(Issuer.did == did, self.scope()))

    async def delete(self, row: Issuer) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def records_for_dids(self, dids: Sequence[str]) -> list[IssuerRecord]:
        """The issuers a tenant trusts under these DIDs (own and global)."""
        if not dids:
            return []
        result = await self.session.execute(
            _VISIBLE_BY_DIDS, {"dids": list(dids), "tenant_id": self.tenant_id}
        )
        return [IssuerRecord(*row) for row in result]

    async def store_fetched_keys(
        self, issuer_id: uuid.UUID, jwks: dict[str, Any], fetched_at: datetime
    ) -> None:
        """Keys fetched from a visible issuer's jwks_url (a global one included)."""
        await self.session.execute(
            update(Issuer)
            .where(Issuer.id == issuer_id, self._visible_clause())
            .values(jwks=jwks, jwks_fetched_at=fetched_at, jwks_error=None, jwks_failing_since=None)
        )

    async def store_fetch_error(self, issuer_id: uuid.UUID, error: str, at: datetime) -> bool:
        """A failed fetch of a visible issuer's jwks_url: the reason, and since when
        fetches fail (kept from the first failure after the last success). True when
        this failure starts a streak."""
        result = await self.session.execute(
            update(Issuer)
            .where(Issuer.id == issuer_id, self._visible_clause())
            .values(
                jwks_error=error[:500],
                jwks_failing_since=func.coalesce(Issuer.jwks_failing_since, at),
            )
            .returning(Issuer.jwks_failing_since)
        )
        since = result.scalar_one_or_none()
        return since is not None and since == at
