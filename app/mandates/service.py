"""Mandate use cases: ingest, read, search, lifecycle, re-verification, sweep.

Every change writes its audit row through the same session, so both commit
together. Services never commit; the caller's unit of work does.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import audit_values, record, record_many, recorded_with
from app.core.actor import Actor
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Settings
from app.core.cursor import CursorCodec
from app.core.errors import Conflict, NotFound, Unprocessable, VerificationFailed
from app.events.outbox import emit, emit_to, recipients
from app.issuers.repository import IssuerRepository
from app.issuers.trust import TrustLoader
from app.mandates.idempotency import IDEMPOTENCY_TTL, IdempotentRequest
from app.mandates.metrics import Disposition, count_ingested
from app.mandates.repository import (
    IdempotencyRepository,
    LinkedReceiptRepository,
    MandateRepository,
    due_for_expiry,
)
from app.mandates.rows import created_event, mandate_row, rejected_event, stored_view
from app.mandates.schemas import (
    BatchItemResult,
    BatchResult,
    MandateCreate,
    MandatePage,
    MandatePatch,
    MandateRead,
    VerificationRead,
)
from app.mandates.search import MandateSearch
from app.mandates.verification import (
    Code,
    VerificationResult,
    referenced_issuers,
    referenced_keys,
    verify_token,
)
from app.mandates.verification.amounts import format_amount
from app.models import IdempotencyKey, Mandate
from app.models.mandate import MandateStatus
from app.webhooks import event_data as events
from app.webhooks.catalogue import EventType

# A Mandate, or a row of its columns read by attribute (the named tuples of
# app.core.driver, the namespace of `stored_view`).
ShownMandate = Any


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def current_status(mandate: ShownMandate, now: datetime) -> str:
    """Expiry is exact at read time, whether or not the sweep has run yet."""
    if mandate.status == "active" and mandate.expires_at <= now:
        return "expired"
    return mandate.status


def read_values(
    mandate: ShownMandate,
    now: datetime,
    *,
    include_token: bool = False,
    receipts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The mandate as the API shows it: MandateRead's fields, in its order, holding what
    the model would hold, so `app.web.responses.values_json` writes the model's JSON
    without building the model (a search page builds 50)."""
    v02 = getattr(mandate, "format", None) == "ap2-v0.2"
    return {
        "id": mandate.id,
        "mandate_type": mandate.mandate_type,
        "issuer_did": mandate.issuer_did,
        "subject_did": mandate.subject_did,
        "jti": mandate.jti,
        "scope": mandate.scope,
        "amount_limit": format_amount(mandate.amount_limit, mandate.currency),
        "currency": mandate.currency,
        "merchants": mandate.merchants,
        "labels": mandate.labels,
        "details": mandate.details,
        "issued_at": mandate.issued_at,
        "not_before": mandate.not_before,
        "expires_at": mandate.expires_at,
        "status": current_status(mandate, now),
        "verification_status": mandate.verification_status,
        "verification_reason": mandate.verification_reason,
        "verified_at": mandate.verified_at,
        "retention_days": mandate.retention_days,
        "revoked_at": mandate.revoked_at,
        "revocation_reason": mandate.revocation_reason,
        "deleted_at": mandate.deleted_at,
        "created_at": mandate.created_at,
        "updated_at": mandate.updated_at,
        "vc_jwt": mandate.vc_jwt if include_token and not v02 else None,
        "format": getattr(mandate, "format", None) or "vc-jwt",
        "open_mandate_hash": getattr(mandate, "open_mandate_hash", None),
        "reference": getattr(mandate, "reference", None),
        "reference_sdk": getattr(mandate, "reference_sdk", None),
        "transaction_id": getattr(mandate, "transaction_id", None),
        "amount": getattr(mandate, "amount_minor", None),
        "receipts": receipts,
        "sd_jwt": mandate.vc_jwt if include_token and v02 else None,
    }


def to_read(
    mandate: ShownMandate,
    now: datetime,
    *,
    include_token: bool = False,
    receipts: list[dict[str, Any]] | None = None,
) -> MandateRead:
    return MandateRead(**read_values(mandate, now, include_token=include_token, receipts=receipts))


@dataclass(frozen=True, slots=True)
class IngestAnswer:
    """What `POST /mandates` answers: a status and its JSON body."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


def rejection(outcome: IngestOutcome) -> VerificationFailed:
    result = outcome.result
    return VerificationFailed(
        result.reason,
        code=result.code.value,
        verification=result.details,
        token_sha256=outcome.token_sha256,
    )


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    result: VerificationResult
    mandate: ShownMandate | None
    created: bool
    token_sha256: str


def _issuer_of(token: Any) -> str | None:
    found = referenced_issuers(token)
    return next(iter(found)) if len(found) == 1 else None


class MandateService:
    def __init__(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        actor: Actor,
        trust: TrustLoader,
        settings: Settings,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.session = session
        self.clock = clock
        self.tenant_id = tenant_id
        self.actor = actor
        self.trust = trust
        self.settings = settings
        self.repo = MandateRepository(session, tenant_id)
        self.issuers = IssuerRepository(session, tenant_id)
        self.idempotency = IdempotencyRepository(session, tenant_id)

    @cached_property
    def cursors(self) -> CursorCodec:
        """Search pages' cursor signing (made when a search needs it, not per request)."""
        return CursorCodec(self.settings.secret_key.get_secret_value())

    async def _audit(
        self, action: str, resource_id: Any, outcome: str | None = None, **details: Any
    ) -> None:
        await record(
            self.session,
            tenant_id=self.tenant_id,
            actor=self.actor,
            action=action,
            resource_type="mandate",
            resource_id=resource_id,
            outcome=outcome,
            details=details,
        )

    async def _emit(self, event_type: EventType, data: events.EventData, now: datetime) -> None:
        """The event, written with the change in this unit of work (the outbox)."""
        await emit(
            self.session, tenant_id=self.tenant_id, event_type=event_type, data=data, now=now
        )

    async def resolve_keys(self, tokens: Iterable[Any]) -> None:
        """Fetch the jwks_url keys these tokens need (stale, or lacking their kid)
        before this unit of work holds a connection; inside one, in the background.
        A slow issuer then delays only the requests that need it."""
        needs: dict[str, set[str | None]] = {}
        for token in tokens:
            for did, kids in referenced_keys(token).items():
                needs.setdefault(did, set()).update(kids)
        if self.session.in_transaction():
            self.trust.resolve_later(self.tenant_id, needs)
        else:
            await self.trust.resolve(self.tenant_id, needs)

    async def verify(self, token: Any, now: datetime) -> VerificationResult:
        """The engine against this tenant's truststore, its URL keys resolved first."""
        await self.resolve_keys([token])
        view = await self.trust.snapshot(self.issuers, referenced_issuers(token))
        return verify_token(
            token,
            view.snapshot,
            now=now,
            leeway_seconds=self.settings.verify_leeway_seconds,
            max_bytes=self.settings.mandate_max_token_bytes,
        )

    async def _already_stored(self, digest: str) -> IngestOutcome | None:
        existing = await self.repo.by_token_hash(digest)
        if existing is None:
            return None
        already = VerificationResult(Code.VALID, "already stored", {}, None)
        return IngestOutcome(already, existing, False, digest)

    async def ingest(self, data: MandateCreate, *, last: bool = False) -> IngestOutcome:
        """Verify, then store unless this tenant holds the token already.

        The same token again answers with the stored mandate, even when it would
        no longer verify (it expired since, say): it is the same submission.
        Every submission is counted by code in `mandate_vault_mandates_ingested`.
        `last`: the unit of work writes nothing after this ingest, so a mandate
        whose event no endpoint takes is stored by one statement alone.
        """
        outcome = await self._verify_and_store(data, last)
        if outcome.created:
            disposition = Disposition.STORED
        else:
            disposition = Disposition.REJECTED if outcome.mandate is None else Disposition.DUPLICATE
        count_ingested(outcome.result.code.value, disposition)
        return outcome

    async def _verify_and_store(self, data: MandateCreate, last: bool) -> IngestOutcome:
        now = self.clock.now()
        digest = token_sha256(data.vc_jwt)
        result = await self.verify(data.vc_jwt, now)
        if not result.ok:
            if (existing := await self._already_stored(digest)) is not None:
                return existing
            await self._audit(
                "mandate.rejected",
                None,
                outcome=result.code.value,
                token_sha256=digest,
                reason=result.reason,
            )
            await self._emit(
                EventType.MANDATE_VERIFICATION_FAILED,
                rejected_event(digest, result, _issuer_of(data.vc_jwt), now),
                now,
            )
            return IngestOutcome(result, None, False, digest)
        values = mandate_row(self.tenant_id, data, digest, result, now)
        audit = recorded_with(
            tenant_id=self.tenant_id,
            actor=self.actor,
            action="mandate.created",
            resource_type="mandate",
            resource_id=values["id"],
            outcome=result.code.value,
            details={"token_sha256": digest},
        )
        # Looked up before the insert: with no endpoint to tell, the mandate and
        # its audit row are all this unit of work writes (when it is the last).
        to = await recipients(self.session, self.tenant_id, EventType.MANDATE_CREATED)
        if not await self.repo.insert_new(values, then=audit, sole=last and not to):
            # Stored before, or by a concurrent request that won the race.
            existing = await self._already_stored(digest)
            if existing is None:  # pragma: no cover - the conflicting row vanished
                raise Conflict(
                    "the mandate changed while it was stored; retry", code="ingest_conflict"
                )
            return existing
        await emit_to(
            self.session,
            to,
            tenant_id=self.tenant_id,
            event_type=EventType.MANDATE_CREATED,
            data=lambda: created_event(values),
            now=now,
        )
        return IngestOutcome(result, stored_view(values), True, digest)

    async def submit(self, data: MandateCreate, retry: IdempotentRequest | None) -> IngestAnswer:
        """Ingest as `POST /mandates` answers it, honouring an Idempotency-Key.

        The first request with a key is processed and its answer kept with the
        request's hash; the same key and request again replays that answer, the
        same key with another request is refused. Rejections are kept too: the
        key stays bound to the request that used it. Nothing is written after it
        in its unit of work (see `ingest`'s `last`).
        """
        await self.resolve_keys([data.vc_jwt])  # before the first query of this request
        if retry is not None:
            stored = await self._stored_answer(retry)
            if stored is not None:
                return stored
        outcome = await self.ingest(data, last=retry is None)
        if outcome.mandate is None:
            answer = IngestAnswer(422, rejection(outcome).document())
        else:
            body = self.view(outcome.mandate).model_dump(mode="json")
            answer = IngestAnswer(201 if outcome.created else 200, body)
        if retry is not None:
            await self.idempotency.remember(
                IdempotencyKey(
                    key=retry.key,
                    request_sha256=retry.request_sha256,
                    response_status=answer.status,
                    response_body=answer.body,
                )
            )
        return answer

    async def _stored_answer(self, retry: IdempotentRequest) -> IngestAnswer | None:
        row = await self.idempotency.by_key(retry.key)
        if row is None:
            return None
        if row.created_at <= self.clock.now() - IDEMPOTENCY_TTL:
            await self.idempotency.forget(row)
            return None
        if row.request_sha256 != retry.request_sha256:
            raise Unprocessable(
                "this Idempotency-Key was already used with a different request",
                code="idempotency_key_reused",
            )
        return IngestAnswer(row.response_status, row.response_body, replayed=True)

    async def ingest_batch(self, items: Sequence[MandateCreate]) -> BatchResult:
        """Each item answered as `ingest` would, item by item with a summary by code
        (verified and written together: app.mandates.bulk)."""
        from app.mandates.bulk import ingest_many

        results, summary = [], Counter[str]()
        for index, outcome in enumerate(await ingest_many(self, items)):
            code = outcome.result.code.value
            summary[code] += 1
            if outcome.mandate is None:
                results.append(
                    BatchItemResult(
                        index=index, status=422, code=code, detail=outcome.result.reason
                    )
                )
            else:
                status = 201 if outcome.created else 200
                results.append(
                    BatchItemResult(index=index, status=status, code=code, id=outcome.mandate.id)
                )
        return BatchResult(items=results, summary=dict(summary))

    def view(
        self,
        mandate: ShownMandate,
        *,
        include_token: bool = False,
        receipts: list[dict[str, Any]] | None = None,
    ) -> MandateRead:
        """The mandate as the API shows it, its status exact at this moment."""
        return to_read(mandate, self.clock.now(), include_token=include_token, receipts=receipts)

    async def view_one(self, mandate: Any, *, include_token: bool = False) -> dict[str, Any]:
        """One mandate as GET shows it (`read_values`): an AP2 v0.2 mandate with its
        linked receipts."""
        receipts = None
        if mandate.format == "ap2-v0.2":
            receipts = [
                {
                    "id": str(r.id),
                    "kind": r.kind,
                    "status": r.status,
                    "issuer_did": r.issuer_did,
                    "reference_form": r.reference_form,
                    "created_at": r.created_at.isoformat(),
                }
                for r in await LinkedReceiptRepository(self.session, self.tenant_id).of_mandate(
                    mandate.id
                )
            ]
        return read_values(
            mandate, self.clock.now(), include_token=include_token, receipts=receipts
        )

    async def holds_any(self) -> bool:
        return await self.repo.any()

    async def read(self, mandate_id: uuid.UUID) -> Any:
        """The mandate as a read-only row for GET's answer (nothing changes it),
        its JSON columns as their stored text: for `values_json`, not a model."""
        row = await self.repo.read(mandate_id)
        if row is None:
            raise NotFound("mandate not found")
        return row

    async def get(self, mandate_id: uuid.UUID) -> Mandate:
        mandate = await self.repo.get(mandate_id)
        if mandate is None:
            raise NotFound("mandate not found")
        return mandate

    async def read_token(self, mandate_id: uuid.UUID) -> Mandate:
        mandate = await self.get(mandate_id)
        await self._audit("mandate.token_read", mandate.id)
        return mandate

    async def search(self, params: MandateSearch) -> MandatePage:
        return MandatePage.model_validate(await self.search_page(params))

    async def search_page(
        self, params: MandateSearch, *, json_text: bool = False
    ) -> dict[str, Any]:
        """A search page as MandatePage's fields (see `read_values`). `json_text`:
        for an answer `values_json` writes, the JSON columns stay their stored
        text (`orjson.Fragment`s), which only JSON can hold, not the model."""
        now = self.clock.now()
        position = self.cursors.decode(params.cursor, params.sort) if params.cursor else None
        rows = await self.repo.search(params, now, position, json_text=json_text)
        page, more = rows[: params.limit], len(rows) > params.limit
        backwards = position is not None and position.before
        if backwards:
            page.reverse()
        next_cursor = prev_cursor = None
        if page:
            # Going back, later rows exist by construction; going forward, earlier
            # ones do whenever the page came from a cursor.
            if more or backwards:
                next_cursor = self._cursor(params.sort, page[-1], before=False)
            if (more and backwards) or (position is not None and not backwards):
                prev_cursor = self._cursor(params.sort, page[0], before=True)
        return {
            "items": [read_values(m, now) for m in page],
            "next_cursor": next_cursor,
            "prev_cursor": prev_cursor,
        }

    def _cursor(self, sort: str, row: Mandate, *, before: bool) -> str:
        value = row.created_at if sort.lstrip("-") == "created_at" else row.expires_at
        return self.cursors.encode(sort, value, row.id, before=before)

    async def counts_by_status(self) -> dict[str, int]:
        """Every status with its count (zero included), expiry exact now."""
        counts = await self.repo.counts_by_status(self.clock.now())
        return {status.value: counts.get(status.value, 0) for status in MandateStatus}

    async def _for_change(self, mandate_id: uuid.UUID) -> Mandate:
        mandate = await self.repo.get(mandate_id, for_update=True)
        if mandate is None:
            raise NotFound("mandate not found")
        return mandate

    async def revoke(self, mandate_id: uuid.UUID, reason: str) -> Mandate:
        mandate = await self._for_change(mandate_id)
        if mandate.status == "deleted":
            raise Conflict(
                "a deleted mandate cannot be revoked; restore it first", code="mandate_deleted"
            )
        if mandate.status == "revoked":
            return mandate
        mandate.status = "revoked"
        mandate.revoked_at = self.clock.now()
        mandate.revocation_reason = reason
        await self.session.flush()
        await self._audit("mandate.revoked", mandate.id, reason=reason)
        await self._emit(
            EventType.MANDATE_REVOKED,
            events.MandateRevoked(
                mandate_id=mandate.id, reason=reason[:1000] or None, revoked_at=mandate.revoked_at
            ),
            mandate.revoked_at,
        )
        return mandate

    async def delete(self, mandate_id: uuid.UUID) -> None:
        mandate = await self._for_change(mandate_id)
        if mandate.status == "deleted":
            return
        now = self.clock.now()
        previous = current_status(mandate, now)
        mandate.status = "deleted"
        mandate.deleted_at = now
        await self.session.flush()
        await self._audit("mandate.deleted", mandate.id, previous_status=previous)
        await self._emit(
            EventType.MANDATE_DELETED,
            events.MandateDeleted(
                mandate_id=mandate.id,
                deleted_at=now,
                purge_after=now + timedelta(days=mandate.retention_days),
            ),
            now,
        )

    async def restore(self, mandate_id: uuid.UUID) -> Mandate:
        mandate = await self._for_change(mandate_id)
        if mandate.status != "deleted" or mandate.deleted_at is None:
            raise Conflict("only a deleted mandate can be restored", code="not_deleted")
        now = self.clock.now()
        if mandate.deleted_at + timedelta(days=mandate.retention_days) <= now:
            raise Conflict(
                "the retention window of this mandate has passed", code="retention_expired"
            )
        if mandate.revoked_at is not None:
            mandate.status = "revoked"
        else:
            mandate.status = "expired" if mandate.expires_at <= now else "active"
        mandate.deleted_at = None
        await self.session.flush()
        await self._audit("mandate.restored", mandate.id, status=mandate.status)
        await self._emit(
            EventType.MANDATE_RESTORED,
            events.MandateRestored(mandate_id=mandate.id, status=mandate.status, restored_at=now),
            now,
        )
        return mandate

    async def reverify(self, mandate_id: uuid.UUID) -> VerificationRead:
        mandate = await self._for_change(mandate_id)
        now = self.clock.now()
        result = await self.verify(mandate.vc_jwt, now)
        mandate.verification_status = result.code.value
        mandate.verification_reason = result.reason
        mandate.verified_at = now
        expired = result.code == Code.EXPIRED and mandate.status == "active"
        if expired:
            mandate.status = "expired"
        await self.session.flush()
        await self._audit("mandate.verified", mandate.id, outcome=result.code.value)
        if expired:
            await self._emit(
                EventType.MANDATE_EXPIRED,
                events.MandateExpired(mandate_id=mandate.id, expires_at=mandate.expires_at),
                now,
            )
        elif not result.ok:
            await self._emit(
                EventType.MANDATE_VERIFICATION_FAILED,
                events.MandateVerificationFailed(
                    mandate_id=mandate.id,
                    token_sha256=mandate.token_sha256,
                    verification_code=result.code.value,
                    issuer_did=mandate.issuer_did,
                    failed_at=now,
                ),
                now,
            )
        return VerificationRead(
            mandate_id=mandate.id,
            code=result.code.value,
            valid=result.ok,
            reason=result.reason,
            details=result.details,
            verified_at=now,
            status=current_status(mandate, now),
        )

    async def patch(self, mandate_id: uuid.UUID, data: MandatePatch) -> Mandate:
        mandate = await self._for_change(mandate_id)
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        if "labels" in changes:
            mandate.labels = dict(changes["labels"])
        if "retention_days" in changes:
            mandate.retention_days = changes["retention_days"]
        if changes:
            await self.session.flush()
            await self._audit("mandate.updated", mandate.id, changed=sorted(changes))
        return mandate


async def sweep_expired(
    session: AsyncSession, *, now: datetime | None = None, batch: int = 500
) -> int:
    """Mark active mandates past their expiry as expired, one audited row and one
    `mandate.expired` event each."""
    now = now or datetime.now(UTC)
    due = await due_for_expiry(session, now, batch)
    actor = Actor.system("expiry-sweep")
    rows = []
    for mandate in due:
        mandate.status = "expired"
        rows.append(
            audit_values(
                tenant_id=mandate.tenant_id,
                actor=actor,
                action="mandate.expired",
                resource_type="mandate",
                resource_id=mandate.id,
                details={"expires_at": mandate.expires_at.isoformat()},
                at=now,
            )
        )
    await session.flush()
    await record_many(session, rows)
    for mandate in due:
        await emit(
            session,
            tenant_id=mandate.tenant_id,
            event_type=EventType.MANDATE_EXPIRED,
            data=events.MandateExpired(mandate_id=mandate.id, expires_at=mandate.expires_at),
            now=now,
        )
    return len(due)
