"""The truststore as the verification engine sees it: prepared keys, by DID.

Issuer rows are read per request (so a revoked or suspended issuer takes
effect at once) with one small Core query; turning key material into prepared
public keys is the expensive part, and is cached by row version.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable

from app.core.logging import get_logger
from app.issuers.jwks import JwksClient, JwksFetchError
from app.issuers.repository import IssuerRecord, IssuerRepository
from app.keys import InvalidKeyMaterial, IssuerStatus, TrustedIssuer, TrustSnapshot, keys_from_did

log = get_logger(__name__)
_CACHE_SIZE = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class TrustView:
    """A trust snapshot for the engine and the issuer rows it was built from."""

    snapshot: TrustSnapshot
    rows: dict[str, IssuerRecord]


def prefer_own(rows: Iterable[IssuerRecord]) -> dict[str, IssuerRecord]:
    """One row per DID; a tenant's own entry wins over a global one."""
    chosen: dict[str, IssuerRecord] = {}
    for row in rows:
        current = chosen.get(row.did)
        if current is None or (current.tenant_id is None and row.tenant_id is not None):
            chosen[row.did] = row
    return chosen


class TrustLoader:
    def __init__(self, jwks: JwksClient | None) -> None:
        self.jwks = jwks
        self._prepared: OrderedDict[tuple[object, ...], TrustedIssuer] = OrderedDict()

    def prepare(self, row: IssuerRecord) -> TrustedIssuer:
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

    async def refresh(
        self, issuers: IssuerRepository, row: IssuerRecord, *, force: bool = False
    ) -> IssuerRecord | None:
        """Fetch a URL issuer's keys when stale (or forced); the updated record, or
        None when nothing changed (a failed fetch keeps the last good keys)."""
        if self.jwks is None or row.jwks_url is None:
            return None
        fetched = row.jwks_fetched_at.timestamp() if row.jwks_fetched_at else None
        if force:
            if not self.jwks.may_refetch(row.jwks_url):
                return None
        elif not self.jwks.is_stale(fetched):
            return None
        try:
            document = await self.jwks.fetch(row.jwks_url)
        except JwksFetchError as error:
            log.warning("jwks_refresh_failed", issuer_id=str(row.id), error=str(error))
            await issuers.store_fetch_error(row.id, str(error), self.jwks.clock.now())
            return None
        now = self.jwks.clock.now()
        await issuers.store_fetched_keys(row.id, document, now)
        return dataclasses.replace(row, jwks=document, jwks_fetched_at=now)

    async def snapshot(self, issuers: IssuerRepository, dids: set[str]) -> TrustView:
        """The issuers a token names, as this tenant trusts them now."""
        rows = prefer_own(await issuers.records_for_dids(sorted(dids)))
        for did, row in list(rows.items()):
            if row.jwks_url is not None and row.status == IssuerStatus.ACTIVE:
                rows[did] = await self.refresh(issuers, row) or row
        return TrustView(TrustSnapshot(self.prepare(row) for row in rows.values()), rows)

    async def refetch_unknown_kid(
        self, issuers: IssuerRepository, view: TrustView
    ) -> TrustView | None:
        """One early refetch for URL issuers when a token names a kid they lack."""
        rows, changed = dict(view.rows), False
        for did, row in view.rows.items():
            fresh = await self.refresh(issuers, row, force=True)
            if fresh is not None:
                rows[did], changed = fresh, True
        if not changed:
            return None
        return TrustView(TrustSnapshot(self.prepare(row) for row in rows.values()), rows)
