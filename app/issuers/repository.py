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

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, or_, select, update

from app.core.held import changed
from app.core.repository import TenantScopedRepository, execute_core
from app.keys import IssuerStatus
from app.models import Issuer, IssuerKeyHistory, IssuerStatusHistory

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

    async def active_url_dids(self) -> list[str]:
        """DIDs of the active issuers (own and global) whose keys live at a jwks_url."""
        query = (
            select(Issuer.did)
            .where(
                self._visible_clause(),
                Issuer.status == IssuerStatus.ACTIVE,
                Issuer.jwks_url.is_not(None),
            )
            .distinct()
            .order_by(Issuer.did)
            .limit(MAX_ISSUERS_LISTED)
        )
        return list(await self.session.scalars(query))

    async def records_for_dids(self, dids: Sequence[str]) -> list[IssuerRecord]:
        """The issuers a tenant trusts under these DIDs (own and global)."""
        if not dids:
            return []
        result = await execute_core(
            self.session, _VISIBLE_BY_DIDS, {"dids": list(dids), "tenant_id": self.tenant_id}
        )
        return [IssuerRecord(*row) for row in result]

    async def store_fetched_keys(
        self, issuer_id: uuid.UUID, jwks: dict[str, Any], fetched_at: datetime
    ) -> None:
        """Keys fetched from a visible issuer's jwks_url (a global one included)."""
        changed(self.session, Issuer)
        await self.session.execute(
            update(Issuer)
            .where(Issuer.id == issuer_id, self._visible_clause())
            .values(jwks=jwks, jwks_fetched_at=fetched_at, jwks_error=None, jwks_failing_since=None)
        )
        row = (
            await self.session.execute(
                select(Issuer.tenant_id, Issuer.did).where(
                    Issuer.id == issuer_id, self._visible_clause()
                )
            )
        ).first()
        if row is not None:
            await sync_key_history(
                self.session,
                issuer_id=issuer_id,
                tenant_id=row.tenant_id,
                did=row.did,
                jwks=jwks,
                at=fetched_at,
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


# --- key and status history (what evidence packs verify "as of ingest" with) ----------


def _key_id(jwk: dict[str, Any]) -> str:
    """A key's identity in the history: its kid, or its canonical JSON when it has none."""
    kid = jwk.get("kid")
    if isinstance(kid, str) and kid:
        return kid
    import orjson

    return orjson.dumps(jwk, option=orjson.OPT_SORT_KEYS).decode()


async def sync_key_history(
    session: Any,
    *,
    issuer_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    did: str,
    jwks: dict[str, Any] | None,
    at: datetime,
) -> None:
    """Close the history versions of keys that left `jwks`, open versions for new ones.

    Runs in the transaction of the key change. A key whose material changed under
    the same kid is closed and reopened.
    """
    keys = [dict(k) for k in (jwks or {}).get("keys", []) if isinstance(k, dict)]
    wanted = {_key_id(k): k for k in keys}
    open_rows = (
        await session.execute(
            select(IssuerKeyHistory.id, IssuerKeyHistory.jwk).where(
                IssuerKeyHistory.issuer_id == issuer_id, IssuerKeyHistory.valid_until.is_(None)
            )
        )
    ).all()
    kept: set[str] = set()
    closing = []
    for row in open_rows:
        identity = _key_id(dict(row.jwk))
        if identity in wanted and wanted[identity] == dict(row.jwk) and identity not in kept:
            kept.add(identity)
        else:
            closing.append(row.id)
    if closing:
        await session.execute(
            update(IssuerKeyHistory).where(IssuerKeyHistory.id.in_(closing)).values(valid_until=at)
        )
    new = [
        {
            "tenant_id": tenant_id,
            "issuer_id": issuer_id,
            "did": did,
            "kid": jwk.get("kid") if isinstance(jwk.get("kid"), str) else None,
            "jwk": jwk,
            "valid_from": at,
        }
        for identity, jwk in wanted.items()
        if identity not in kept
    ]
    if new:
        await session.execute(insert(IssuerKeyHistory), new)


async def record_status(
    session: Any, *, tenant_id: uuid.UUID | None, did: str, status: str, at: datetime
) -> None:
    await session.execute(
        insert(IssuerStatusHistory).values(tenant_id=tenant_id, did=did, status=status, since=at)
    )


async def key_history(
    session: Any, tenant_id: uuid.UUID, dids: Sequence[str]
) -> tuple[list[Any], list[Any]]:
    """Key versions and status changes of these DIDs, as this tenant and the global
    truststore knew them (tenant rows first)."""
    visible = or_(IssuerKeyHistory.tenant_id == tenant_id, IssuerKeyHistory.tenant_id.is_(None))
    keys = (
        await session.execute(
            select(
                IssuerKeyHistory.did,
                IssuerKeyHistory.jwk,
                IssuerKeyHistory.valid_from,
                IssuerKeyHistory.valid_until,
                IssuerKeyHistory.tenant_id,
            )
            .where(visible, IssuerKeyHistory.did.in_(list(dids)))
            .order_by(IssuerKeyHistory.valid_from, IssuerKeyHistory.id)
        )
    ).all()
    status_visible = or_(
        IssuerStatusHistory.tenant_id == tenant_id, IssuerStatusHistory.tenant_id.is_(None)
    )
    statuses = (
        await session.execute(
            select(IssuerStatusHistory.did, IssuerStatusHistory.status, IssuerStatusHistory.since)
            .where(status_visible, IssuerStatusHistory.did.in_(list(dids)))
            .order_by(IssuerStatusHistory.since, IssuerStatusHistory.id)
        )
    ).all()
    return list(keys), list(statuses)


async def issuers_for_dids(session: Any, tenant_id: uuid.UUID, dids: Sequence[str]) -> list[Any]:
    """Current issuer rows (tenant's own and global) for these DIDs."""
    return list(
        (
            await session.execute(
                select(Issuer.did, Issuer.status, Issuer.jwks, Issuer.tenant_id).where(
                    _visible_to(tenant_id), Issuer.did.in_(list(dids))
                )
            )
        ).all()
    )
