"""The truststore as the verification engine sees it: prepared keys, by DID.

Rows are read per request (so a revoked or suspended issuer takes effect at
once); the expensive part, turning key material into prepared public keys, is
cached by row version.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.logging import get_logger
from app.issuers.jwks import JwksClient, JwksFetchError
from app.mandates.verification import (
    InvalidKeyMaterial,
    TrustedIssuer,
    TrustSnapshot,
    keys_from_did,
)
from app.models import Issuer

log = get_logger(__name__)
_CACHE_SIZE = 4096


def issuers_visible_to(tenant_id: uuid.UUID):
    """The rows a tenant trusts: its own and the global ones."""
    return or_(Issuer.tenant_id == tenant_id, Issuer.tenant_id.is_(None))


def prefer_own(rows: Iterable[Issuer]) -> dict[str, Issuer]:
    """One row per DID; a tenant's own entry wins over a global one."""
    chosen: dict[str, Issuer] = {}
    for row in rows:
        current = chosen.get(row.did)
        if current is None or (current.tenant_id is None and row.tenant_id is not None):
            chosen[row.did] = row
    return chosen


class TrustLoader:
    def __init__(self, jwks: JwksClient | None) -> None:
        self.jwks = jwks
        self._prepared: OrderedDict[tuple, TrustedIssuer] = OrderedDict()

    def prepare(self, row: Issuer) -> TrustedIssuer:
        key = (row.id, row.status, row.updated_at, row.jwks_fetched_at)
        cached = self._prepared.get(key)
        if cached is not None:
            self._prepared.move_to_end(key)
            return cached
        try:
            if row.jwks is not None:
                issuer = TrustedIssuer.from_jwks(row.did, row.status, row.jwks)
            elif row.jwks_url is None:
                issuer = TrustedIssuer(row.did, row.status, keys_from_did(row.did))
            else:  # a URL issuer whose keys were never fetched
                issuer = TrustedIssuer(row.did, row.status, ())
        except InvalidKeyMaterial as error:
            log.warning("issuer_keys_unusable", issuer_id=str(row.id), error=str(error))
            issuer = TrustedIssuer(row.did, row.status, ())
        self._prepared[key] = issuer
        if len(self._prepared) > _CACHE_SIZE:
            self._prepared.popitem(last=False)
        return issuer

    async def rows(
        self, session: AsyncSession, tenant_id: uuid.UUID, dids: set[str]
    ) -> dict[str, Issuer]:
        if not dids:
            return {}
        result = await session.scalars(
            select(Issuer).where(Issuer.did.in_(sorted(dids)), issuers_visible_to(tenant_id))
        )
        return prefer_own(result)

    async def refresh(self, row: Issuer, *, force: bool = False) -> bool:
        """Fetch a URL issuer's keys when stale (or forced); keep the last good on failure."""
        if self.jwks is None or row.jwks_url is None:
            return False
        fetched = row.jwks_fetched_at.timestamp() if row.jwks_fetched_at else None
        if force:
            if not self.jwks.may_refetch(row.jwks_url):
                return False
        elif not self.jwks.is_stale(fetched):
            return False
        try:
            document = await self.jwks.fetch(row.jwks_url)
        except JwksFetchError as error:
            log.warning("jwks_refresh_failed", issuer_id=str(row.id), error=str(error))
            return False
        if document != row.jwks:
            row.jwks = document
        row.jwks_fetched_at = datetime.now(UTC)
        return True

    async def snapshot(
        self, session: AsyncSession, tenant_id: uuid.UUID, dids: set[str]
    ) -> tuple[TrustSnapshot, dict[str, Issuer]]:
        rows = await self.rows(session, tenant_id, dids)
        for row in rows.values():
            if row.jwks_url is not None and row.status == "active":
                await self.refresh(row)
        return TrustSnapshot(self.prepare(row) for row in rows.values()), rows
