"""AP2 v0.2 webhook events through the transactional outbox (dry runs send nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.ap2.verification import VerifiedChain
from app.events.outbox import emit
from app.models import Ap2Receipt
from app.webhooks.catalogue import EventType
from app.webhooks.event_data import (
    Ap2OpenMandateRevoked,
    Ap2PresentationApproved,
    Ap2PresentationRejected,
    Ap2ReceiptStored,
)


async def emit_approved(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    chain: VerifiedChain,
    mandate_id: uuid.UUID,
    occurrences: int,
    now: datetime,
) -> None:
    data = Ap2PresentationApproved(
        mandate_id=mandate_id,
        mandate_type=chain.family.value,
        issuer_did=chain.root_issuer_did,
        open_mandate_hash=chain.open_mandate_hash,
        transaction_id=chain.transaction_id if 0 < len(chain.transaction_id) <= 255 else None,
        amount=chain.amount,
        currency=chain.currency,
        occurrences=occurrences,
        approved_at=now,
    )
    await emit(
        session,
        tenant_id=tenant_id,
        event_type=EventType.AP2_PRESENTATION_APPROVED,
        data=data,
        now=now,
    )


async def emit_rejected(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    code: str,
    chain: VerifiedChain | None,
    constraints: Iterable[str],
    now: datetime,
    rejection_id: uuid.UUID | None = None,
) -> None:
    data = Ap2PresentationRejected.model_validate(
        {
            "rejection_id": rejection_id,
            "code": code,
            "issuer_did": chain.root_issuer_did if chain is not None else None,
            "open_mandate_hash": chain.open_mandate_hash if chain is not None else None,
            "constraints": sorted({c[:128] for c in constraints})[:64],
            "rejected_at": now,
        }
    )
    await emit(
        session,
        tenant_id=tenant_id,
        event_type=EventType.AP2_PRESENTATION_REJECTED,
        data=data,
        now=now,
    )


async def emit_receipt(
    session: AsyncSession, *, tenant_id: uuid.UUID, receipt: Ap2Receipt, now: datetime
) -> None:
    data = Ap2ReceiptStored.model_validate(
        {
            "receipt_id": receipt.id,
            "mandate_id": receipt.mandate_id,
            "kind": receipt.kind,
            "status": receipt.status,
            "issuer_did": receipt.issuer_did,
            "reference_form": receipt.reference_form,
            "stored_at": now,
        }
    )
    await emit(
        session, tenant_id=tenant_id, event_type=EventType.AP2_RECEIPT_STORED, data=data, now=now
    )


async def emit_revoked(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    open_mandate_hash: str,
    reason: str,
    presented: bool,
    now: datetime,
) -> None:
    data = Ap2OpenMandateRevoked(
        open_mandate_hash=open_mandate_hash,
        reason=reason[:1000],
        presented=presented,
        revoked_at=now,
    )
    await emit(
        session,
        tenant_id=tenant_id,
        event_type=EventType.AP2_OPEN_MANDATE_REVOKED,
        data=data,
        now=now,
    )
