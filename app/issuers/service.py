"""Truststore use cases: register, read, change, rotate keys, remove.

`scope` is the tenant whose truststore is changed, or None for the global one
(platform admins). Tenants read their own issuers and the global ones, and
change only their own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.actor import Actor
from app.core.errors import Conflict, NotFound, Unprocessable
from app.events.outbox import emit
from app.issuers.events import emit_keys_refresh_failed
from app.issuers.jwks import JwksClient, JwksFetchError, check_jwks_url
from app.issuers.repository import IssuerRepository, record_status, sync_key_history
from app.issuers.schemas import IssuerCreate, IssuerRead, IssuerUpdate, KeyInfo, KeyRefresh
from app.keys import (
    InvalidKeyMaterial,
    IssuerStatus,
    TrustedKey,
    keys_from_did,
    keys_from_jwks,
)
from app.models import Issuer
from app.webhooks import event_data as events
from app.webhooks.catalogue import EventType

_STATUS_EVENTS = {
    IssuerStatus.SUSPENDED: EventType.ISSUER_SUSPENDED,
    IssuerStatus.REVOKED: EventType.ISSUER_REVOKED,
}


def _key_source(row: Issuer) -> str:
    if row.jwks_url is not None:
        return "jwks_url"
    return "jwks" if row.jwks is not None else "did"


def to_read(row: Issuer) -> IssuerRead:
    keys = (row.jwks or {}).get("keys", []) if isinstance(row.jwks, dict) else []
    return IssuerRead(
        id=row.id,
        did=row.did,
        name=row.name,
        status=row.status,
        is_global=row.tenant_id is None,
        key_source=_key_source(row),
        kids=[k.get("kid") for k in keys if isinstance(k, dict)],
        jwks=row.jwks,
        jwks_url=row.jwks_url,
        jwks_fetched_at=row.jwks_fetched_at,
        jwks_error=row.jwks_error,
        jwks_failing_since=row.jwks_failing_since,
        status_changed_at=row.status_changed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def key_details(row: Issuer) -> list[KeyInfo]:
    """The issuer's public keys with kid, type and the algorithms each verifies."""
    keys: tuple[TrustedKey, ...]
    try:
        if row.jwks is not None:
            keys = keys_from_jwks(row.jwks)
        elif row.jwks_url is None:
            keys = keys_from_did(row.did)
        else:
            keys = ()
    except InvalidKeyMaterial:
        keys = ()
    return [KeyInfo(kid=k.kid, kty=k.kty, crv=k.crv, algs=sorted(k.algs)) for k in keys]


def _check_jwks(jwks: Any) -> dict[str, Any]:
    try:
        keys_from_jwks(jwks)
    except InvalidKeyMaterial as error:
        raise Unprocessable(f"jwks is not a usable key set: {error}", code="invalid_jwks") from None
    return jwks


class IssuerService:
    def __init__(
        self, session: AsyncSession, scope: uuid.UUID | None, actor: Actor, jwks: JwksClient | None
    ):
        self.session = session
        self.scope = scope
        self.actor = actor
        self.jwks = jwks
        self.repo = IssuerRepository(session, scope)

    def for_scope(self, scope: uuid.UUID | None) -> IssuerService:
        """The same caller acting on another truststore (None: the global one)."""
        return IssuerService(self.session, scope, self.actor, self.jwks)

    async def _history(self, row: Issuer, *, status_changed: bool = False) -> None:
        """The key (and status) history, in the transaction of the change."""
        now = datetime.now(UTC)
        await sync_key_history(
            self.session,
            issuer_id=row.id,
            tenant_id=row.tenant_id,
            did=row.did,
            jwks=row.jwks,
            at=now,
        )
        if status_changed:
            await record_status(
                self.session, tenant_id=row.tenant_id, did=row.did, status=row.status, at=now
            )

    async def _audit(self, action: str, row: Issuer, **details: Any) -> None:
        await record(
            self.session,
            tenant_id=self.scope,
            actor=self.actor,
            action=action,
            resource_type="issuer",
            resource_id=row.id,
            details={"did": row.did, **details},
        )

    async def _fetch(self, url: str) -> dict[str, Any]:
        """Called before the unit of work has run a query, so no connection is held."""
        if self.jwks is None:
            raise Unprocessable("jwks_url issuers are not available here", code="jwks_unavailable")
        try:
            check_jwks_url(url, allow_http=self.jwks.settings.jwks_allow_http)
            return await self.jwks.fetch(url, tenant=self.scope, explicit=True)
        except JwksFetchError as error:
            raise Unprocessable(str(error), code="jwks_unavailable") from None

    async def create(self, data: IssuerCreate) -> Issuer:
        sources = [s for s in (data.jwks is not None, data.jwks_url is not None) if s]
        if len(sources) > 1:
            raise Unprocessable("give either jwks or jwks_url, not both", code="invalid_key_source")
        row = Issuer(did=data.did, name=data.name, status=IssuerStatus.ACTIVE)
        if data.jwks is not None:
            row.jwks = _check_jwks(data.jwks)
        elif data.jwks_url is not None:
            row.jwks_url = data.jwks_url
            row.jwks = await self._fetch(data.jwks_url)
            row.jwks_fetched_at = datetime.now(UTC)
        else:
            try:
                keys_from_did(data.did)
            except InvalidKeyMaterial as error:
                raise Unprocessable(
                    f"{error}; did:key and did:jwk issuers need no keys, others need jwks or jwks_url",
                    code="invalid_key_source",
                ) from None
        existing = await self.repo.own_id_for_did(data.did)
        if existing is not None:
            raise Conflict(
                "this issuer is already registered", code="issuer_exists", existing_id=str(existing)
            )
        await self.repo.add(row)
        await self._history(row, status_changed=True)
        await self._audit("issuer.created", row, key_source=_key_source(row))
        return row

    async def list(self, *, status: IssuerStatus | None = None) -> list[Issuer]:
        return await self.repo.list_visible(status)

    async def get(self, issuer_id: uuid.UUID) -> Issuer:
        row = await self.repo.get_visible(issuer_id)
        if row is None:
            raise NotFound("issuer not found")
        return row

    async def get_own(self, issuer_id: uuid.UUID) -> Issuer:
        """An issuer this scope may change: global ones are read-only to tenants."""
        row = await self.repo.get(issuer_id)
        if row is None:
            raise NotFound("issuer not found")
        return row

    async def update(self, issuer_id: uuid.UUID, data: IssuerUpdate) -> Issuer:
        changes = data.model_dump(exclude_unset=True)
        if "jwks" in changes and "jwks_url" in changes and changes["jwks"] and changes["jwks_url"]:
            raise Unprocessable("give either jwks or jwks_url, not both", code="invalid_key_source")
        # Fetched before the row is read: the fetch must not hold the transaction open.
        fetched = await self._fetch(data.jwks_url) if data.jwks_url is not None else None
        row = await self.get_own(issuer_id)
        status_changed = data.status is not None and data.status != row.status
        if "name" in changes:
            row.name = data.name
        status_event = None
        if data.status is not None and data.status != row.status:
            status_event = (row.status, data.status)
            row.status = data.status
            row.status_changed_at = datetime.now(UTC)
        if data.jwks is not None:
            row.jwks = _check_jwks(data.jwks)
            row.jwks_url = None
            row.jwks_fetched_at = None
        if data.jwks_url is not None:
            row.jwks = fetched
            row.jwks_url = data.jwks_url
            row.jwks_fetched_at = datetime.now(UTC)
        if data.jwks is not None or data.jwks_url is not None:
            row.jwks_error = None
            row.jwks_failing_since = None
        await self.session.flush()
        await self._history(row, status_changed=status_changed)
        await self._audit("issuer.updated", row, changed=sorted(changes))
        if status_event is not None and row.status_changed_at is not None:
            previous, status = status_event
            event_type = _STATUS_EVENTS.get(IssuerStatus(status))
            if event_type is not None and self.scope is not None:
                # A global issuer's change is the platform's; tenants hear of their own.
                await emit(
                    self.session,
                    tenant_id=self.scope,
                    event_type=event_type,
                    data=events.IssuerStatusChanged(
                        issuer_id=row.id,
                        issuer_did=row.did,
                        status=status,
                        previous_status=previous,
                        changed_at=row.status_changed_at,
                    ),
                    now=row.status_changed_at,
                )
        return row

    async def add_key(self, issuer_id: uuid.UUID, jwk: dict[str, Any]) -> Issuer:
        """Rotation, step one: the new key joins; older keys stay until removed."""
        row = await self.get_own(issuer_id)
        if row.jwks_url is not None:
            raise Conflict("keys of a jwks_url issuer come from its URL", code="keys_from_url")
        keys = list((row.jwks or {}).get("keys", []))
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unprocessable("the new key needs a kid", code="invalid_jwks")
        if any(k.get("kid") == kid for k in keys):
            raise Conflict(f"a key with kid {kid!r} already exists", code="kid_exists")
        row.jwks = _check_jwks({"keys": [*keys, jwk]})
        await self.session.flush()
        await self._history(row)
        await self._audit("issuer.key_added", row, kid=kid)
        return row

    async def remove_key(self, issuer_id: uuid.UUID, kid: str) -> Issuer:
        row = await self.get_own(issuer_id)
        keys = list((row.jwks or {}).get("keys", []))
        remaining = [k for k in keys if k.get("kid") != kid]
        if len(remaining) == len(keys):
            raise NotFound("no key with that kid")
        if not remaining:
            raise Conflict(
                "an issuer keeps at least one key; revoke the issuer instead", code="last_key"
            )
        row.jwks = _check_jwks({"keys": remaining})
        await self.session.flush()
        await self._history(row)
        await self._audit("issuer.key_removed", row, kid=kid)
        return row

    async def refresh_keys(self, issuer_id: uuid.UUID) -> KeyRefresh:
        """Fetch a jwks_url issuer's keys now; a failure is stored on the issuer
        (and answered), the last good keys stay."""
        row = await self.get_own(issuer_id)
        if row.jwks_url is None:
            raise Conflict("only a jwks_url issuer fetches its keys", code="keys_not_from_url")
        now = datetime.now(UTC)
        try:
            document = await self._fetch(row.jwks_url)
        except Unprocessable as error:
            await self.repo.store_fetch_error(row.id, error.detail, now)
            await self.session.refresh(row)
            await self._audit("issuer.keys_refresh_failed", row, error=error.detail)
            if self.scope is not None:
                await emit_keys_refresh_failed(
                    self.session, self.scope, row, error.detail, now, row.jwks_fetched_at
                )
            return KeyRefresh(ok=False, error=error.detail)
        await self.repo.store_fetched_keys(row.id, document, now)
        await self.session.refresh(row)
        await self._audit("issuer.keys_refreshed", row)
        return KeyRefresh(ok=True, kids=[k.kid for k in keys_from_jwks(document)])

    async def delete(self, issuer_id: uuid.UUID) -> None:
        row = await self.get_own(issuer_id)
        await self._audit("issuer.deleted", row)
        row.jwks = None
        await self._history(row)
        await self.repo.delete(row)
