"""Ingesting many mandates at once: `POST /mandates/batch` and `mandates import`.

Each item is answered exactly as `MandateService.ingest` answers it alone, and
writes the same rows (mandate, audit row, outbox deliveries); only the work is
shared: keys are resolved and issuers read once per batch, tokens verify in the
process pool (`verifier_pool`) when the batch is big enough, and the rows go in
one multi-row INSERT per table.

Two steps, so a caller can verify the next chunk while it writes this one:
`start_verifying` (keys, trust snapshot, verification under way) and
`store_verified` (in the unit of work that commits the rows).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from app.audit.service import audit_values, record_bulk
from app.core.errors import Conflict
from app.events.outbox import OutboxBatch
from app.issuers.trust import KeyNeeds
from app.mandates.bulk_repository import BulkMandateRepository
from app.mandates.metrics import Disposition, count_ingested
from app.mandates.rows import created_event, mandate_row, rejected_event, stored_view
from app.mandates.schemas import MandateCreate
from app.mandates.service import IngestOutcome, MandateService, token_sha256
from app.mandates.verification import Code, VerificationResult, referenced_keys
from app.mandates.verifier_pool import VerifierPool, shared_pool
from app.webhooks.catalogue import EventType

_ALREADY = VerificationResult(Code.VALID, "already stored", {}, None)


@dataclass(slots=True)
class Verifying:
    """A batch whose tokens are being verified (each distinct token once)."""

    items: Sequence[MandateCreate]
    digests: list[str]
    # The sole issuer each token names (what a rejection's event reports), or None.
    issuers: list[str | None]
    # Index of each distinct token's first item; later copies take its result.
    first: dict[str, int]
    now: datetime
    results: asyncio.Future[list[VerificationResult]]


async def start_verifying(
    service: MandateService, items: Sequence[MandateCreate], pool: VerifierPool | None = None
) -> Verifying:
    """Resolve the keys the tokens need, read the issuers they name, start verifying."""
    now = service.clock.now()
    tokens = [item.vc_jwt for item in items]
    digests = [token_sha256(token) for token in tokens]
    first: dict[str, int] = {}
    for index, digest in enumerate(digests):
        first.setdefault(digest, index)
    references = [referenced_keys(token) for token in tokens]
    needs: dict[str, set[str | None]] = {}
    for index in first.values():
        for did, kids in references[index].items():
            needs.setdefault(did, set()).update(kids)
    await _resolve(service, needs)
    view = await service.trust.snapshot(service.issuers, needs)
    distinct = list(first.values())
    verifying = (pool or shared_pool()).verify(
        [tokens[i] for i in distinct],
        [frozenset(references[i]) for i in distinct],
        view.snapshot,
        now,
        service.settings.verify_leeway_seconds,
        service.settings.mandate_max_token_bytes,
    )
    issuers = [next(iter(names)) if len(names) == 1 else None for names in references]
    return Verifying(items, digests, issuers, first, now, asyncio.ensure_future(verifying))


async def _resolve(service: MandateService, needs: KeyNeeds) -> None:
    """`MandateService.resolve_keys` for needs already read from the tokens."""
    if service.session.in_transaction():
        service.trust.resolve_later(service.tenant_id, needs)
    else:
        await service.trust.resolve(service.tenant_id, needs)


def _audit_row(
    template: dict[str, Any], action: str, resource_id: Any, outcome: str, **details: Any
) -> dict[str, Any]:
    # audit_values once per batch (it reads the request context); rows differ only here.
    return {
        **template,
        "action": action,
        "resource_id": None if resource_id is None else str(resource_id),
        "outcome": outcome,
        "details": details,
    }


async def store_verified(service: MandateService, verifying: Verifying) -> list[IngestOutcome]:
    """Store what verified, in `service`'s unit of work; one outcome per item, in order."""
    distinct = await verifying.results
    by_first = dict(zip(verifying.first.values(), distinct, strict=True))
    results = [by_first[verifying.first[digest]] for digest in verifying.digests]
    tenant_id, now = service.tenant_id, verifying.now
    items, digests = verifying.items, verifying.digests
    repo = BulkMandateRepository(service.session, tenant_id)
    new_rows = {
        digest: mandate_row(tenant_id, items[index], digest, results[index], now)
        for digest, index in verifying.first.items()
        if results[index].ok
    }
    # Stored before (or by a concurrent request that won the race): skipped by the
    # INSERT, then answered with the stored row, as in `ingest`.
    written = await repo.insert_new(list(new_rows.values()))
    lost = [digest for digest in new_rows if digest not in written]
    # A refused token this tenant holds already is answered with the stored row too.
    refused = [digest for digest, index in verifying.first.items() if not results[index].ok]
    held = await repo.stored(lost + refused) if lost or refused else {}
    if any(digest not in held for digest in lost):  # pragma: no cover - the row vanished
        raise Conflict("the mandate changed while it was stored; retry", code="ingest_conflict")

    template = audit_values(
        tenant_id=tenant_id, actor=service.actor, action="", resource_type="mandate"
    )
    audit: list[dict[str, Any]] = []
    outbox = await OutboxBatch.open(service.session, tenant_id)
    outcomes: list[IngestOutcome] = []
    views: dict[str, Any] = {}
    for index, digest in enumerate(digests):
        result = results[index]
        code = result.code.value
        if digest in held:
            outcome = IngestOutcome(_ALREADY, held[digest], False, digest)
        elif digest in written:
            if digest in views:  # a later copy of a token this batch stored
                outcome = IngestOutcome(_ALREADY, views[digest], False, digest)
            else:
                values = new_rows[digest]
                views[digest] = stored_view(values)
                outcome = IngestOutcome(result, views[digest], True, digest)
                audit.append(
                    _audit_row(template, "mandate.created", values["id"], code, token_sha256=digest)
                )
                outbox.add(EventType.MANDATE_CREATED, partial(created_event, values), now)
        else:
            outcome = IngestOutcome(result, None, False, digest)
            audit.append(
                _audit_row(
                    template,
                    "mandate.rejected",
                    None,
                    code,
                    token_sha256=digest,
                    reason=result.reason,
                )
            )
            outbox.add(
                EventType.MANDATE_VERIFICATION_FAILED,
                partial(rejected_event, digest, result, verifying.issuers[index], now),
                now,
            )
        outcomes.append(outcome)
    await record_bulk(service.session, audit)
    await outbox.flush(now)
    counts: Counter[tuple[str, Disposition]] = Counter()
    for outcome in outcomes:
        if outcome.created:
            disposition = Disposition.STORED
        else:
            disposition = Disposition.REJECTED if outcome.mandate is None else Disposition.DUPLICATE
        counts[outcome.result.code.value, disposition] += 1
    for (code, disposition), count in counts.items():
        count_ingested(code, disposition, count)
    return outcomes


async def ingest_many(
    service: MandateService, items: Sequence[MandateCreate], pool: VerifierPool | None = None
) -> list[IngestOutcome]:
    """Each item as `service.ingest` would answer it, verified and written together."""
    return await store_verified(service, await start_verifying(service, items, pool))
