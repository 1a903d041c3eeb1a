"""AP2 v0.2 use cases: presentations against the spend ledger, the ledger view and its
revocation, incoming receipts. The pure engine (`app.ap2.verification`) decides; this
module loads the truststore, locks the ledger row, records, audits and signs.

Services flush, never commit: the request's unit of work commits the approval, its
ledger update, its audit row and its events together (or none of them).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.ap2.disputes import DisputeService
from app.ap2.events import emit_approved, emit_receipt, emit_rejected, emit_revoked
from app.ap2.rejections import RejectionService, rejection_row
from app.ap2.repository import (
    Ap2MandateRepository,
    ApprovalRepository,
    LedgerRepository,
    ReceiptRepository,
    RootIssuerRepository,
)
from app.ap2.schemas import (
    ApprovalRead,
    DisputeResult,
    LedgerRead,
    LedgerSummary,
    PresentationAnswer,
    PresentationRequest,
    ReceiptRead,
    ViolationRead,
)
from app.ap2.signer import KeyringSigner
from app.ap2.states import state_document
from app.ap2.verification import (
    Decision,
    Family,
    LedgerState,
    ReceiptRejection,
    Rejection,
    RequestContext,
    ResultCode,
    RootKeyIndex,
    VerifiedChain,
    Violation,
    decision_receipt,
    evaluate,
    header_kid,
    public_jwk,
    reference_form,
    rejection_receipt,
    root_kid,
    verify_chain,
    verify_receipt,
)
from app.ap2.verification.recurrence import next_allowed
from app.ap2.verification.shapes import AgentRecurrence, Budget, Frequency
from app.audit.service import record
from app.core.actor import Actor
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Settings
from app.core.errors import NotFound, Unprocessable
from app.issuers.trust import TrustLoader, prefer_own
from app.keys import InvalidKeyMaterial, b64url_encode
from app.mandates.verification.amounts import currency_scale
from app.models import Ap2Approval, Ap2Ledger, Ap2Receipt, Mandate
from app.models.mandate import DEFAULT_RETENTION_DAYS, MandateFormat

FORMAT = MandateFormat.AP2_V02.value
# v0.2 contents need not expire; a stored chain without any `exp` stays active.
NO_EXPIRY = datetime(9999, 12, 31, tzinfo=UTC)
REJECTED_TITLE = "AP2 presentation rejected"
LEDGER_HASH_CHARS = 43  # H(s): unpadded base64url of a SHA-256 digest
MAX_TRANSACTION_ID_CHARS = 64  # the indexed mandates.transaction_id column
# amount_limit is NUMERIC(20, 4) on PostgreSQL and 1/10,000 units in a BIGINT on SQLite.
MAX_AMOUNT_LIMIT = Decimal(10) ** 14


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class PresentationOutcome:
    """What POST /ap2/presentations answers: 200 with the answer, or 422 with it as a problem."""

    status: int
    answer: PresentationAnswer
    detail: str | None

    def body(self) -> dict[str, Any]:
        body = self.answer.model_dump(mode="json")
        if self.status == 200:
            return body
        code = self.answer.code or "invalid_mandate"
        return {
            "type": f"urn:mandate-vault:problem:{code}",
            "title": REJECTED_TITLE,
            "status": self.status,
            "detail": self.detail or code,
            **body,
        }


def _did_jwk(jwk: Mapping[str, Any]) -> str:
    text = json.dumps(dict(jwk), separators=(",", ":"), sort_keys=True)
    return "did:jwk:" + b64url_encode(text.encode())


def _ints(claims: Mapping[str, Any], name: str) -> list[int]:
    value = claims.get(name)
    return [value] if type(value) is int else []


def _expiry(chain: VerifiedChain) -> datetime:
    found = [
        exp
        for hop in chain.hops
        for claims in (hop.payload, hop.content)
        for exp in _ints(claims, "exp")
    ]
    if not found:
        return NO_EXPIRY
    try:
        return datetime.fromtimestamp(min(found), UTC)
    except (OverflowError, OSError, ValueError):
        return NO_EXPIRY


def _issued_at(chain: VerifiedChain) -> datetime | None:
    iat = _ints(chain.hops[-1].payload, "iat")
    try:
        return datetime.fromtimestamp(iat[0], UTC) if iat else None
    except (OverflowError, OSError, ValueError):
        return None


def _terms(chain: VerifiedChain) -> dict[str, Any]:
    """The stateful terms of the chain (what the ledger view reports against)."""
    budgets, recurrences, single_use = [], [], False
    for content in chain.open_contents:
        has_recurrence = False
        for constraint in content.constraints:
            if isinstance(constraint, Budget):
                budgets.append({"max": constraint.max, "currency": constraint.currency})
            elif isinstance(constraint, AgentRecurrence):
                has_recurrence = True
                recurrences.append(
                    {
                        "frequency": constraint.frequency.value,
                        "max_occurrences": constraint.max_occurrences,
                    }
                )
        if chain.family is Family.PAYMENT and not has_recurrence:
            single_use = True
    return {"budgets": budgets, "recurrences": recurrences, "single_use": single_use}


def _merchant_dict(merchant: Any) -> dict[str, Any] | None:
    if merchant is None:
        return None
    return {k: v for k, v in merchant._asdict().items() if v is not None}


def _state(ledger: Ap2Ledger | None, leaf_approved: bool) -> LedgerState:
    if ledger is None:
        return LedgerState(leaf_already_approved=leaf_approved)
    return LedgerState(
        dict(ledger.spent or {}), ledger.occurrences, ledger.last_approval_at, leaf_approved
    )


class Ap2Service:
    def __init__(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        actor: Actor,
        trust: TrustLoader,
        settings: Settings,
        clock: Clock = SYSTEM_CLOCK,
        signer: KeyringSigner | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.actor = actor
        self.trust = trust
        self.settings = settings
        self.clock = clock
        self.signer = signer
        self.issuers = RootIssuerRepository(session, tenant_id)
        self.ledgers = LedgerRepository(session, tenant_id)
        self.approvals = ApprovalRepository(session, tenant_id)
        self.receipts = ReceiptRepository(session, tenant_id)
        self.mandates = Ap2MandateRepository(session, tenant_id)

    # ---------------------------------------------------------------- helpers

    async def root_keys(self) -> RootKeyIndex:
        """The tenant's (and the global) active issuers' JWKS keys, by `kid`."""
        rows = prefer_own(await self.issuers.active_records())
        return RootKeyIndex.from_issuers(self.trust.prepare(row) for row in rows.values())

    async def resolve_keys(self, kid: str | None) -> None:
        """Fetch jwks_url keys the header `kid` may need (stale, or lacking it) before this
        unit of work holds a connection; inside one, in the background (as v0.1 ingest)."""
        if kid is None:
            return
        inside = self.session.in_transaction()
        await self.trust.resolve_kid(self.tenant_id, kid, self.issuers if inside else None)

    def _sign(self, payload: dict[str, Any] | None) -> str | None:
        if payload is None or self.signer is None:
            return None
        return self.signer.sign(payload)

    async def _audit(
        self, action: str, resource_id: Any, outcome: str | None, **details: Any
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

    # ---------------------------------------------------------------- presentations

    async def present(self, request: PresentationRequest) -> PresentationOutcome:
        """Stages A-C outside the lock, then D and E under the ledger row's lock."""
        now = self.clock.now()
        context = RequestContext(
            request.audience, request.nonce, request.checkout_jwt_hash, request.open_checkout_hash
        )
        await self.resolve_keys(root_kid(request.sd_jwt))  # before the first query
        chain = verify_chain(request.sd_jwt, context, await self.root_keys(), now)
        if isinstance(chain, Rejection):
            return await self._refused_early(chain, request, now)
        created = False
        if request.dry_run:
            ledger = await self.ledgers.find(chain.open_mandate_hash)
        else:
            ledger, created = await self.ledgers.lock(
                chain.open_mandate_hash, chain.family.value, now
            )
        # A leaf JWT fixes its chain up to the root (each hop binds the one before by
        # hash), so its approval can only sit under this ledger: a ledger that did not
        # exist, or was made just now, holds none (the unique leaf index stays the
        # backstop). Saves the replay query for every first use of an open mandate.
        leaf_approved = (
            False
            if ledger is None or created
            else await self.approvals.leaf_approved(chain.leaf_jwt_hash)
        )
        before = _state(ledger, leaf_approved)
        decision = evaluate(chain, before, now)
        if ledger is not None and ledger.revoked_at is not None:
            decision = Decision(
                ResultCode.INVALID_MANDATE,
                (Violation(None, "the open mandate was revoked"), *decision.violations),
                None,
                decision.reference,
            )
        if not decision.approved:
            if created and ledger is not None:
                await self.ledgers.forget(ledger)  # a refusal leaves no ledger behind
            return await self._refused(chain, decision, before, request, now)
        if request.dry_run:
            return self._outcome(chain, decision, before, None, None)
        return await self._record(chain, decision, before, ledger, now)

    def _summary(self, chain: VerifiedChain, state: LedgerState) -> LedgerSummary:
        payment = chain.family is Family.PAYMENT
        currency = chain.currency if payment else None
        return LedgerSummary(
            open_mandate_hash=chain.open_mandate_hash,
            spent=state.spent.get(currency, 0) if currency is not None else None,
            currency=currency,
            occurrences=state.occurrences,
        )

    def _outcome(
        self,
        chain: VerifiedChain,
        decision: Decision,
        state: LedgerState,
        mandate_id: uuid.UUID | None,
        receipt: str | None,
        dry_run: bool = False,
    ) -> PresentationOutcome:
        answer = PresentationAnswer(
            result="approved" if decision.approved else "rejected",
            code=decision.code.value if decision.code is not None else None,
            violations=[ViolationRead(**v.as_dict()) for v in decision.violations],
            mandate_id=mandate_id,
            ledger=self._summary(chain, state),
            receipt=receipt,
            dry_run=dry_run,
        )
        return PresentationOutcome(200 if decision.approved else 422, answer, decision.first_reason)

    async def _refused_early(
        self, rejection: Rejection, request: PresentationRequest, now: datetime
    ) -> PresentationOutcome:
        receipt = None
        if not request.dry_run:
            receipt = self._sign(
                rejection_receipt(rejection, issuer=self.settings.ap2_receipt_issuer, issued_at=now)
            )
            await self._audit(
                "mandate.rejected",
                None,
                rejection.code.value,
                format=FORMAT,
                stage=rejection.stage.value,
                reason=rejection.reason[:500],
                reference=rejection.reference,
            )
            await emit_rejected(
                self.session,
                tenant_id=self.tenant_id,
                code=rejection.code.value,
                chain=None,
                constraints=(),
                now=now,
            )
        answer = PresentationAnswer(
            result="rejected",
            code=rejection.code.value,
            violations=[ViolationRead(**v.as_dict()) for v in rejection.violations],
            mandate_id=None,
            ledger=None,
            receipt=receipt,
            dry_run=request.dry_run,
        )
        return PresentationOutcome(422, answer, rejection.reason)

    async def _refused(
        self,
        chain: VerifiedChain,
        decision: Decision,
        before: LedgerState,
        request: PresentationRequest,
        now: datetime,
    ) -> PresentationOutcome:
        if request.dry_run:
            return self._outcome(chain, decision, before, None, None, dry_run=True)
        receipt = self._sign(
            decision_receipt(
                chain, decision, issuer=self.settings.ap2_receipt_issuer, issued_at=now
            )
        )
        code = decision.code.value if decision.code is not None else None
        token_sha256 = sha256_hex(chain.sd_jwt)
        stored = await RejectionService(self.session, self.tenant_id).add(
            rejection_row(chain, decision, before, receipt, token_sha256, now)
        )
        await self._audit(
            "mandate.rejected",
            None,
            code,
            format=FORMAT,
            stage="D",
            reason=(decision.first_reason or "")[:500],
            reference=chain.reference,
            open_mandate_hash=chain.open_mandate_hash,
            constraints=sorted({v.constraint for v in decision.violations if v.constraint}),
            rejection_id=str(stored.id),
            token_sha256=token_sha256,
        )
        await emit_rejected(
            self.session,
            tenant_id=self.tenant_id,
            code=code or ResultCode.INVALID_MANDATE.value,
            chain=chain,
            constraints=[v.constraint for v in decision.violations if v.constraint],
            now=now,
            rejection_id=stored.id,
        )
        outcome = self._outcome(chain, decision, before, None, receipt)
        outcome.answer.rejection_id = stored.id
        return outcome

    def _mandate_values(
        self,
        chain: VerifiedChain,
        mandate_id: uuid.UUID,
        before: LedgerState,
        receipt: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        amount, currency = chain.amount, chain.currency
        limit = None
        if amount is not None and currency is not None:
            limit = Decimal(amount).scaleb(-currency_scale(currency))
            if limit >= MAX_AMOUNT_LIMIT:  # past the money column; amount_minor keeps it
                limit = None
        closed = chain.closed
        details: dict[str, Any] = {
            "format": FORMAT,
            "family": chain.family.value,
            "hops": len(chain.hops),
            "checkout_hash": chain.checkout_hash,
            "payee": _merchant_dict(chain.payee),
            "checkout_merchant": _merchant_dict(chain.checkout_merchant),
            "transaction_id": chain.transaction_id,
            "conditional_transaction_ids": list(chain.conditional_transaction_ids),
            **_terms(chain),
        }
        instrument = closed.members.get("payment_instrument")
        if isinstance(instrument, dict):
            details["payment_instrument"] = {
                k: instrument[k] for k in ("id", "type") if isinstance(instrument.get(k), str)
            }
        try:
            subject = _did_jwk(public_jwk(chain.hops[-1].key))
        except InvalidKeyMaterial:  # pragma: no cover - every hop key is EC P-256
            subject = "did:jwk:unknown"
        return {
            "id": mandate_id,
            "tenant_id": self.tenant_id,
            "vc_jwt": chain.sd_jwt,
            "token_sha256": sha256_hex(chain.sd_jwt),
            "mandate_type": chain.family.value,
            "issuer_did": chain.root_issuer_did,
            "subject_did": subject,
            "jti": None,
            "scope": None,
            "amount_limit": limit,
            "currency": currency,
            "merchants": list(chain.merchant_ids),
            "labels": {},
            "details": {k: v for k, v in details.items() if v is not None},
            "issued_at": _issued_at(chain),
            "not_before": None,
            "expires_at": _expiry(chain),
            "status": "active",
            "verification_status": "VALID",
            "verification_reason": "AP2 v0.2 presentation approved",
            "verification_details": {
                "format": FORMAT,
                "context": {
                    "audience": chain.context.audience,
                    "nonce": chain.context.nonce,
                    "checkout_jwt_hash": chain.context.checkout_jwt_hash,
                    "open_checkout_hash": chain.context.open_checkout_hash,
                },
                "root_issuer_did": chain.root_issuer_did,
                "root_kid": chain.root_kid,
                "root_jwk": chain.root_jwk,
                "ledger_before": state_document(before),
                "leaf_jwt_hash": chain.leaf_jwt_hash,
                "receipt": receipt,
            },
            "verified_at": now,
            "retention_days": DEFAULT_RETENTION_DAYS,
            "created_at": now,
            "updated_at": now,
            "format": FORMAT,
            "open_mandate_hash": chain.open_mandate_hash,
            # Indexed when it fits (any H() does); `details` and the chain keep it whole.
            "transaction_id": chain.transaction_id
            if len(chain.transaction_id) <= MAX_TRANSACTION_ID_CHARS
            else None,
            "reference": chain.reference,
            "reference_sdk": chain.reference_sdk,
            "amount_minor": amount,
        }

    async def _record(
        self,
        chain: VerifiedChain,
        decision: Decision,
        before: LedgerState,
        ledger: Ap2Ledger | None,
        now: datetime,
    ) -> PresentationOutcome:
        """Stage E: the mandate, the approval and the ledger update, under the row lock."""
        change = decision.ledger_change
        if change is None or ledger is None:  # pragma: no cover - approved and locked above
            raise RuntimeError("an approval without its ledger change")
        mandate_id = uuid.uuid4()
        receipt = self._sign(
            decision_receipt(
                chain,
                decision,
                issuer=self.settings.ap2_receipt_issuer,
                issued_at=now,
                mandate_id=str(mandate_id),
            )
        )
        values = self._mandate_values(chain, mandate_id, before, receipt, now)
        if not await self.mandates.insert_new(values):
            # The same chain string approved before: the replay check above saw its leaf,
            # so this is only reached when the approval was removed by hand.
            raise Unprocessable("this exact presentation is stored already", code="invalid_mandate")
        await self.approvals.add(
            Ap2Approval(
                ledger_id=ledger.id,
                mandate_id=mandate_id,
                leaf_jwt_hash=chain.leaf_jwt_hash,
                amount=chain.amount,
                currency=chain.currency,
                approved_at=now,
            )
        )
        await self.ledgers.record(
            ledger,
            occurrences=change.occurrences,
            spent=dict(change.spent),
            approved_at=now,
            family=chain.family.value,
        )
        await self._audit(
            "mandate.created",
            mandate_id,
            "approved",
            format=FORMAT,
            token_sha256=values["token_sha256"],
            open_mandate_hash=chain.open_mandate_hash,
            reference=chain.reference,
            amount=chain.amount,
            currency=chain.currency,
        )
        await emit_approved(
            self.session,
            tenant_id=self.tenant_id,
            chain=chain,
            mandate_id=mandate_id,
            occurrences=change.occurrences,
            now=now,
        )
        return self._outcome(chain, decision, change.state_after(), mandate_id, receipt)

    # ---------------------------------------------------------------- ledger

    async def ledger(self, open_mandate_hash: str) -> LedgerRead:
        row = await self.ledgers.find(open_mandate_hash)
        if row is None:
            raise NotFound("no ledger under this open mandate hash", code="ledger_not_found")
        return await self._ledger_read(row)

    async def _ledger_read(self, row: Ap2Ledger) -> LedgerRead:
        approvals = await self.approvals.of_ledger(row.id)
        latest = await self.mandates.latest_of_ledger(row.open_mandate_hash)
        details = latest.details if latest is not None else {}
        spent = {str(k): int(v) for k, v in (row.spent or {}).items()}
        remaining: dict[str, int] = {}
        for budget in details.get("budgets", []):
            currency, left = budget["currency"], budget["max"] - spent.get(budget["currency"], 0)
            remaining[currency] = min(remaining.get(currency, left), left)
        caps = [
            r["max_occurrences"]
            for r in details.get("recurrences", [])
            if r.get("max_occurrences") is not None
        ]
        next_at: datetime | None = None
        if row.last_approval_at is not None:
            for recurrence in details.get("recurrences", []):
                candidate = next_allowed(row.last_approval_at, Frequency(recurrence["frequency"]))
                if candidate is not None and (next_at is None or candidate > next_at):
                    next_at = candidate
        return LedgerRead(
            open_mandate_hash=row.open_mandate_hash,
            family=row.family,
            occurrences=row.occurrences,
            spent=spent,
            remaining=remaining,
            max_occurrences=min(caps) if caps else None,
            last_approval_at=row.last_approval_at,
            next_allowed_at=next_at,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            approvals=[
                ApprovalRead(
                    mandate_id=a.mandate_id,
                    amount=a.amount,
                    currency=a.currency,
                    approved_at=a.approved_at,
                )
                for a in approvals
            ],
        )

    async def revoke_ledger(self, open_mandate_hash: str, reason: str) -> LedgerRead:
        """Revoke an open mandate: every later presentation under its root is refused.

        The open mandate need not have been presented yet: its ledger row (keyed by
        H(root JWT), which the issuer or the user can compute from the root they hold)
        is made revoked, so its first presentation is already refused.
        """
        now = self.clock.now()
        if len(open_mandate_hash) != LEDGER_HASH_CHARS:
            # Not H(...) of anything: no root can ever reach this ledger.
            raise NotFound("no ledger under this open mandate hash", code="ledger_not_found")
        row, created = await self.ledgers.lock(open_mandate_hash, None, now)
        if row.revoked_at is None:
            presented = not created and row.occurrences > 0
            await self.ledgers.revoke(row, reason, now)
            await record(
                self.session,
                tenant_id=self.tenant_id,
                actor=self.actor,
                action="ap2.open_mandate.revoked",
                resource_type="ap2_ledger",
                resource_id=row.id,
                details={
                    "open_mandate_hash": open_mandate_hash,
                    "reason": reason,
                    "presented": presented,
                },
            )
            await emit_revoked(
                self.session,
                tenant_id=self.tenant_id,
                open_mandate_hash=open_mandate_hash,
                reason=reason,
                presented=presented,
                now=now,
            )
            row = await self.ledgers.find(open_mandate_hash) or row
        return await self._ledger_read(row)

    # ---------------------------------------------------------------- receipts

    async def store_receipt(self, jwt: str) -> tuple[int, ReceiptRead]:
        """Verify a merchant / processor receipt and link it by `reference`."""
        now = self.clock.now()
        await self.resolve_keys(header_kid(jwt))  # before the first query
        keys = await self.root_keys()
        verified = verify_receipt(jwt, keys, now)
        if isinstance(verified, ReceiptRejection):
            raise Unprocessable(verified.reason, code=verified.code)
        digest = sha256_hex(jwt)
        existing = await self.receipts.by_sha(digest)
        if existing is not None:
            return 200, receipt_read(existing)
        mandate = await self.mandates.by_reference(verified.reference)
        if mandate is None or mandate.reference is None or mandate.reference_sdk is None:
            raise NotFound(
                "no stored closed mandate has this receipt's reference", code="mandate_not_found"
            )
        kind = Family(mandate.mandate_type)
        problem = verified.check_kind(kind)
        if problem is not None:
            raise Unprocessable(problem.reason, code=problem.code)
        form = reference_form(verified.reference, mandate.reference, mandate.reference_sdk)
        signer_key = next(
            root.key
            for root in keys.candidates(verified.kid)
            if root.issuer_did == verified.issuer_did
        )
        row = Ap2Receipt(
            mandate_id=mandate.id,
            receipt_jwt=jwt,
            jwt_sha256=digest,
            kind=kind.value,
            status=verified.status.value,
            issuer_did=verified.issuer_did,
            kid=verified.kid,
            issuer_jwk=public_jwk(signer_key),
            reference=verified.reference,
            reference_form=(form.value if form is not None else "spec"),
            payload=verified.payload,
            created_at=now,
        )
        try:
            async with self.session.begin_nested():
                await self.receipts.add(row)
        except IntegrityError:
            again = await self.receipts.by_sha(digest)
            if again is None:  # pragma: no cover - the conflicting row vanished
                raise
            return 200, receipt_read(again)
        await self._audit(
            "ap2.receipt.stored",
            mandate.id,
            verified.status.value,
            receipt_id=str(row.id),
            issuer_did=verified.issuer_did,
            kind=kind.value,
            reference_form=row.reference_form,
        )
        await emit_receipt(self.session, tenant_id=self.tenant_id, now=now, receipt=row)
        return 201, receipt_read(row)

    async def dispute_check(self, mandate_id: uuid.UUID) -> DisputeResult:
        """The dispute procedure on the stored artifacts; the result goes into the audit trail
        (and so into the mandate's evidence pack)."""
        result = await DisputeService(self.mandates, self.receipts).check(mandate_id)
        await self._audit(
            "mandate.dispute_checked",
            mandate_id,
            result.result,
            steps=[step.model_dump() for step in result.steps],
        )
        return result

    async def mandate_receipts(self, mandate: Mandate) -> list[ReceiptRead]:
        return [receipt_read(r) for r in await self.receipts.of_mandate(mandate.id)]


def receipt_read(row: Ap2Receipt) -> ReceiptRead:
    return ReceiptRead.model_validate(
        {
            "id": row.id,
            "mandate_id": row.mandate_id,
            "kind": row.kind,
            "status": row.status,
            "issuer_did": row.issuer_did,
            "reference_form": row.reference_form,
        }
    )
