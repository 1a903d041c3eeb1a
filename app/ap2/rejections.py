"""Stored refusals: a genuine chain (stages A-C passed) that stage D refused is kept
verbatim with its verdict, request context and parsed fields, searchable like the
mandates an investigator compares it with. Malformed or unverifiable input (stages
A-C) and dry runs store nothing, so a stranger cannot fill the table."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.ap2.repository import RejectionRepository
from app.ap2.schemas import RejectionList, RejectionRead, ViolationRead
from app.ap2.states import state_document
from app.ap2.verification import Decision, LedgerState, VerifiedChain
from app.audit.service import record
from app.core.actor import Actor
from app.core.errors import NotFound, Unprocessable
from app.models import Ap2Rejection

MAX_INDEXED_CHARS = 255  # longer identifiers stay in the verbatim chain only


def _indexed(value: str | None) -> str | None:
    return value if value is not None and len(value) <= MAX_INDEXED_CHARS else None


def rejection_row(
    chain: VerifiedChain,
    decision: Decision,
    before: LedgerState,
    receipt: str | None,
    token_sha256: str,
    now: datetime,
) -> Ap2Rejection:
    """The row for a stage-D refusal (its tenant is set by the repository)."""
    context = chain.context
    return Ap2Rejection(
        id=uuid.uuid4(),
        sd_jwt=chain.sd_jwt,
        token_sha256=token_sha256,
        code=(decision.code.value if decision.code is not None else "invalid_mandate"),
        reason=decision.first_reason or "",
        violations=[v.as_dict() for v in decision.violations],
        mandate_type=chain.family.value,
        issuer_did=chain.root_issuer_did,
        open_mandate_hash=chain.open_mandate_hash,
        transaction_id=_indexed(chain.transaction_id),
        reference=chain.reference,
        reference_sdk=chain.reference_sdk,
        amount_minor=chain.amount,
        currency=chain.currency,
        merchant_id=_indexed(chain.merchant_ids[0] if chain.merchant_ids else None),
        details={
            "context": {
                "audience": context.audience,
                "nonce": context.nonce,
                "checkout_jwt_hash": context.checkout_jwt_hash,
                "open_checkout_hash": context.open_checkout_hash,
            },
            "root_kid": chain.root_kid,
            "root_jwk": chain.root_jwk,
            "ledger_before": state_document(before),
            "leaf_jwt_hash": chain.leaf_jwt_hash,
            "hops": len(chain.hops),
        },
        receipt=receipt,
        created_at=now,
    )


def rejection_read(row: Ap2Rejection, include_token: bool = False) -> RejectionRead:
    details = row.details or {}
    return RejectionRead(
        id=row.id,
        created_at=row.created_at,
        code=row.code,
        reason=row.reason,
        violations=[ViolationRead(**v) for v in row.violations],
        mandate_type=row.mandate_type,
        issuer_did=row.issuer_did,
        open_mandate_hash=row.open_mandate_hash,
        transaction_id=row.transaction_id,
        reference=row.reference,
        reference_sdk=row.reference_sdk,
        amount=row.amount_minor,
        currency=row.currency,
        merchant_id=row.merchant_id,
        context=details.get("context", {}),
        ledger_before=details.get("ledger_before"),
        receipt=row.receipt,
        sd_jwt=row.sd_jwt if include_token else None,
    )


def _cursor(row: Ap2Rejection) -> str:
    text = f"{row.created_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, row_id = text.partition("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unprocessable(
            "the cursor is not one this API gave", code="invalid_cursor", field="cursor"
        ) from None


class RejectionService:
    """Reading the stored refusals of one tenant."""

    def __init__(
        self, session: AsyncSession, tenant_id: uuid.UUID, actor: Actor | None = None
    ) -> None:
        self.session, self.tenant_id, self.actor = session, tenant_id, actor
        self.repo = RejectionRepository(session, tenant_id)

    async def search(
        self, *, limit: int, cursor: str | None, **filters: str | None
    ) -> RejectionList:
        after = _after(cursor) if cursor else None
        rows = await self.repo.search(limit=limit + 1, after=after, **filters)
        page = rows[:limit]
        more = len(rows) > limit
        return RejectionList(
            items=[rejection_read(row) for row in page],
            next_cursor=_cursor(page[-1]) if more and page else None,
        )

    async def get(self, rejection_id: uuid.UUID, include_token: bool) -> RejectionRead:
        row = await self.repo.get(rejection_id)
        if row is None:
            raise NotFound("no stored rejection with this id", code="rejection_not_found")
        if include_token and self.actor is not None:
            await record(
                self.session,
                tenant_id=self.tenant_id,
                actor=self.actor,
                action="ap2.rejection.token_read",
                resource_type="ap2_rejection",
                resource_id=row.id,
            )
        return rejection_read(row, include_token)

    async def add(self, row: Ap2Rejection) -> Ap2Rejection:
        return await self.repo.add(row)
