"""The truststore as the verification engine sees it: prepared keys, by DID.

Issuer rows are read with one small Core query and reused by this process for
TRUST_CACHE_SECONDS (2 s): a change made through this process (an issuer added,
suspended, revoked, its keys replaced or fetched) clears them when its
transaction commits, so it takes effect at once here and within that bound in
other server processes. Turning key material into prepared public keys is the
expensive part, and is cached by row version.

Keys behind a `jwks_url` are fetched in `resolve`, which the mandate service
calls before its unit of work opens: the rows are read in a short session of
their own, the fetch holds no database connection (nor SQLite's write lock),
and fetched keys are stored in a short transaction of their own. `snapshot`,
which runs inside the unit of work, never touches the network. A caller that is
already inside a transaction gets `resolve_later`: the fetch runs beside it and
the next request sees the keys. AP2 v0.2 headers name a `kid` and no issuer:
`resolve_kid` asks every active URL issuer the tenant trusts that lacks it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Set

from app.core.database import Database
from app.core.held import TimedRows, forget_on_change, pending
from app.core.logging import get_logger
from app.issuers.events import emit_keys_refresh_failed
from app.issuers.jwks import JwksClient, JwksFetchError
from app.issuers.repository import IssuerRecord, IssuerRepository
from app.keys import InvalidKeyMaterial, IssuerStatus, TrustedIssuer, TrustSnapshot, keys_from_did
from app.models import Issuer

log = get_logger(__name__)
_CACHE_SIZE = 4096
_MAX_BACKGROUND = 64
# How long a DID is remembered as a URL issuer (with its row) or not, so `resolve`
# needs no query for it; a change of key source is seen within this time.
_KNOWN_SECONDS = 30.0
_KNOWN_MAX = 50_000
# DID -> the key ids a token's signatures name (None: no kid).
KeyNeeds = Mapping[str, Set[str | None]]


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


def _kids(row: IssuerRecord) -> set[str]:
    keys = row.jwks.get("keys") if isinstance(row.jwks, dict) else None
    if not isinstance(keys, list):
        return set()
    return {k["kid"] for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}


class TrustLoader:
    def __init__(self, jwks: JwksClient | None, database: Database | None = None) -> None:
        self.jwks = jwks
        self.database = database
        # (tenant, DIDs) -> the issuer rows read for them, for TRUST_CACHE_SECONDS
        self._rows = TimedRows(database.settings.trust_cache_seconds if database else 0.0)
        forget_on_change(Issuer, self._rows)
        self._prepared: OrderedDict[tuple[object, ...], TrustedIssuer] = OrderedDict()
        self._background: dict[tuple[uuid.UUID, frozenset[str]], asyncio.Task[None]] = {}
        self._known: dict[tuple[uuid.UUID, str], tuple[float, IssuerRecord | None]] = {}
        self._url_dids: dict[uuid.UUID, tuple[float, tuple[str, ...]]] = {}

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

    def _wants_fetch(self, jwks: JwksClient, row: IssuerRecord, kids: Set[str | None]) -> bool:
        if row.jwks_url is None or row.status != IssuerStatus.ACTIVE:
            return False
        fetched = row.jwks_fetched_at.timestamp() if row.jwks_fetched_at else None
        if jwks.is_stale(fetched):
            return True
        # A kid the cached keys lack: one early refetch per JWKS_MIN_REFETCH_SECONDS.
        unknown = {kid for kid in kids if kid is not None} - _kids(row)
        return bool(unknown) and jwks.may_refetch(row.jwks_url)

    def _remember(
        self,
        jwks: JwksClient,
        tenant_id: uuid.UUID,
        dids: Iterable[str],
        rows: Mapping[str, IssuerRecord],
    ) -> None:
        if len(self._known) > _KNOWN_MAX:
            self._known.clear()
        until = jwks.clock.monotonic() + _KNOWN_SECONDS
        for did in dids:
            row = rows.get(did)
            url_row = row if row is not None and row.jwks_url else None
            self._known[(tenant_id, did)] = (until, url_row)

    def _due(
        self, jwks: JwksClient, tenant_id: uuid.UUID, needs: KeyNeeds
    ) -> tuple[list[IssuerRecord], list[str]]:
        """URL issuers known to need a fetch, and DIDs not known (or known too long ago)."""
        now = jwks.clock.monotonic()
        due, unknown = [], []
        for did, kids in needs.items():
            entry = self._known.get((tenant_id, did))
            if entry is None or entry[0] <= now:
                unknown.append(did)
            elif entry[1] is not None and self._wants_fetch(jwks, entry[1], kids):
                due.append(entry[1])
        return due, unknown

    async def resolve(self, tenant_id: uuid.UUID, needs: KeyNeeds) -> None:
        """Fetch the URL keys these tokens need, when stale or missing a kid, holding
        no database connection while the network is asked.

        Which DIDs are URL issuers (and their rows) is remembered for
        `_KNOWN_SECONDS`, so the common case - inline keys, or fresh URL keys -
        costs no query here.
        """
        jwks, database = self.jwks, self.database
        if jwks is None or database is None or not needs:
            return
        due, unknown = self._due(jwks, tenant_id, needs)
        if unknown:
            async with database.read_sessions() as session:
                rows = prefer_own(
                    await IssuerRepository(session, tenant_id).records_for_dids(sorted(unknown))
                )
            # The read session is closed: from here on no connection is held.
            self._remember(jwks, tenant_id, unknown, rows)
            due += [
                row
                for did, row in rows.items()
                if self._wants_fetch(jwks, row, needs.get(did, set()))
            ]
        if not due:
            return
        results = await asyncio.gather(*(self._fetch(jwks, tenant_id, row) for row in due))
        fetched: list[tuple[IssuerRecord, dict[str, object]]] = []
        failed: list[tuple[IssuerRecord, JwksFetchError]] = []
        for row, result in zip(due, results, strict=True):
            if isinstance(result, JwksFetchError):
                failed.append((row, result))
            else:
                fetched.append((row, result))
        now = jwks.clock.now()
        fresh = {
            row.did: dataclasses.replace(row, jwks=document, jwks_fetched_at=now)
            for row, document in fetched
        }
        self._remember(jwks, tenant_id, fresh, fresh)
        try:
            # A short transaction of its own: the keys (or why they could not be
            # had, for the issuer page and its alert) outlive the request's outcome.
            async with database.sessions.begin() as session:
                issuers = IssuerRepository(session, tenant_id)
                for row, document in fetched:
                    await issuers.store_fetched_keys(row.id, document, now)
                for row, error in failed:
                    if await issuers.store_fetch_error(row.id, str(error), now):
                        await emit_keys_refresh_failed(
                            session, tenant_id, row, str(error), now, row.jwks_fetched_at
                        )
        except Exception as error:  # the request's own transaction reports an outage
            log.warning("jwks_store_failed", error=type(error).__name__)

    async def _fetch(
        self, jwks: JwksClient, tenant_id: uuid.UUID, row: IssuerRecord
    ) -> dict[str, object] | JwksFetchError:
        assert row.jwks_url is not None
        try:
            return await jwks.fetch(row.jwks_url, tenant=tenant_id)
        except JwksFetchError as error:  # logged once by the client; the last good keys stay
            return error

    async def resolve_kid(
        self, tenant_id: uuid.UUID, kid: str, issuers: IssuerRepository | None = None
    ) -> None:
        """`resolve` for a header that names a `kid` and no issuer (an AP2 v0.2 root or
        receipt): the key may be behind any active jwks_url issuer the tenant trusts.

        Which DIDs those are is remembered for `_KNOWN_SECONDS`. A caller already inside
        a transaction passes its `issuers` repository: the DIDs are read on its session
        and the fetch runs beside it (`resolve_later`).
        """
        jwks, database = self.jwks, self.database
        if jwks is None or database is None:
            return
        now = jwks.clock.monotonic()
        entry = self._url_dids.get(tenant_id)
        if entry is not None and entry[0] > now:
            dids = entry[1]
        else:
            if issuers is not None:
                dids = tuple(await issuers.active_url_dids())
            else:
                async with database.read_sessions() as session:
                    dids = tuple(await IssuerRepository(session, tenant_id).active_url_dids())
            if len(self._url_dids) > _KNOWN_MAX:
                self._url_dids.clear()
            self._url_dids[tenant_id] = (now + _KNOWN_SECONDS, dids)
        if not dids:
            return
        needs = {did: {kid} for did in dids}
        if issuers is not None:
            self.resolve_later(tenant_id, needs)
        else:
            await self.resolve(tenant_id, needs)

    def resolve_later(self, tenant_id: uuid.UUID, needs: KeyNeeds) -> None:
        """`resolve` beside a caller that already holds a transaction: the fetch
        must not wait inside it. One background refresh per tenant and DIDs."""
        if self.jwks is None or self.database is None or not needs:
            return
        due, unknown = self._due(self.jwks, tenant_id, needs)
        if not due and not unknown:
            return
        key = (tenant_id, frozenset(needs))
        if key in self._background or len(self._background) >= _MAX_BACKGROUND:
            return
        task = asyncio.get_running_loop().create_task(self._resolve_quietly(tenant_id, needs))
        self._background[key] = task
        task.add_done_callback(lambda _done: self._background.pop(key, None))

    async def _resolve_quietly(self, tenant_id: uuid.UUID, needs: KeyNeeds) -> None:
        try:
            await self.resolve(tenant_id, {did: set(kids) for did, kids in needs.items()})
        except Exception as error:  # a background refresh never raises into the void
            log.warning("jwks_background_refresh_failed", error=type(error).__name__)

    async def snapshot(self, issuers: IssuerRepository, dids: Iterable[str]) -> TrustView:
        """The issuers a token names, as this tenant trusts them now (no network)."""
        wanted = sorted(dids)
        rows = prefer_own(await self._records(issuers, wanted))
        if self.jwks is not None and issuers.tenant_id is not None:
            self._remember(self.jwks, issuers.tenant_id, wanted, rows)
        return TrustView(TrustSnapshot(self.prepare(row) for row in rows.values()), rows)

    async def _records(self, issuers: IssuerRepository, dids: list[str]) -> list[IssuerRecord]:
        """The rows held for these DIDs, unless this transaction changed issuers (then
        read, and not held: the change may still roll back)."""
        key = (issuers.tenant_id, tuple(dids))
        fresh = pending(issuers.session, Issuer)
        if not fresh and (held := self._rows.get(key)) is not None:
            return list(held)
        records = await issuers.records_for_dids(dids)
        if not fresh:
            self._rows.put(key, records)
        return records

    async def aclose(self) -> None:
        """Cancel background refreshes (shutdown)."""
        tasks = list(self._background.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
