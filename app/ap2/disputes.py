"""The dispute check: the contract's steps re-run on the stored artifacts of a v0.2 mandate.

Everything is read back from the database (the chain verbatim, its request context,
the root key used, the ledger before the approval, the receipts verbatim with the key
that verified them), so altering any stored artifact makes the matching step fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from app.ap2.repository import Ap2MandateRepository, ReceiptRepository
from app.ap2.schemas import DisputeResult, DisputeStep
from app.ap2.states import state_from_document
from app.ap2.verification import (
    Family,
    ReceiptRejection,
    ReceiptStatus,
    Rejection,
    RequestContext,
    RootKey,
    RootKeyIndex,
    StepResult,
    VerifiedChain,
    checkout_hash_step,
    evaluate,
    payment_reference_step,
    reference_form,
    verify_chain,
    verify_receipt,
)
from app.core.errors import NotFound, Unprocessable
from app.keys import InvalidKeyMaterial, key_from_jwk
from app.models import Mandate
from app.models.mandate import MandateFormat


def _context(details: Mapping[str, Any]) -> RequestContext | None:
    context = details.get("context")
    if not isinstance(context, dict):
        return None
    audience, nonce = context.get("audience"), context.get("nonce")
    if not isinstance(audience, str) or not isinstance(nonce, str):
        return None
    return RequestContext(
        audience, nonce, context.get("checkout_jwt_hash"), context.get("open_checkout_hash")
    )


def _root_keys(details: Mapping[str, Any]) -> RootKeyIndex | None:
    did, jwk = details.get("root_issuer_did"), details.get("root_jwk")
    if not isinstance(did, str) or not isinstance(jwk, dict):
        return None
    try:
        return RootKeyIndex([RootKey(did, key_from_jwk(jwk))])
    except InvalidKeyMaterial:
        return None


def chain_step(mandate: Mandate) -> tuple[StepResult, VerifiedChain | None]:
    """Stages A-D on the stored chain at `verified_at`, with its stored context, key and ledger."""
    details = mandate.verification_details or {}
    context, keys = _context(details), _root_keys(details)
    if context is None or keys is None:
        return StepResult(
            "chain", False, "the stored request context or root key is unreadable"
        ), None
    ledger = details.get("ledger_before")
    try:
        before = state_from_document(ledger if isinstance(ledger, dict) else {})
    except (TypeError, ValueError, AttributeError):
        return StepResult("chain", False, "the stored ledger state is unreadable"), None
    chain = verify_chain(mandate.vc_jwt, context, keys, mandate.verified_at)
    if isinstance(chain, Rejection):
        return StepResult("chain", False, f"{chain.code.value}: {chain.reason}"), None
    decision = evaluate(chain, before, mandate.verified_at)
    if not decision.approved:
        return StepResult("chain", False, f"{decision.code}: {decision.first_reason}"), chain
    stored = {
        "open_mandate_hash": mandate.open_mandate_hash,
        "reference": mandate.reference,
        "reference_sdk": mandate.reference_sdk,
        # Too long for its indexed column, it is kept in the details only.
        "transaction_id": mandate.transaction_id
        if mandate.transaction_id is not None
        else (mandate.details or {}).get("transaction_id"),
        "mandate_type": mandate.mandate_type,
        "amount": mandate.amount_minor,
    }
    recomputed = {
        "open_mandate_hash": chain.open_mandate_hash,
        "reference": chain.reference,
        "reference_sdk": chain.reference_sdk,
        "transaction_id": chain.transaction_id,
        "mandate_type": chain.family.value,
        "amount": chain.amount,
    }
    for name, value in stored.items():
        if value != recomputed[name]:
            return StepResult("chain", False, f"the stored {name} is not the chain's"), chain
    return StepResult("chain", True), chain


class DisputeService:
    def __init__(self, mandates: Ap2MandateRepository, receipts: ReceiptRepository) -> None:
        self.mandates = mandates
        self.receipts = receipts

    async def receipt_step(self, mandate: Mandate) -> StepResult:
        """A linked Success receipt whose stored JWS still verifies with the key that signed it."""
        found = False
        for row in await self.receipts.of_mandate(mandate.id):
            try:
                keys = RootKeyIndex([RootKey(row.issuer_did, key_from_jwk(row.issuer_jwk))])
            except InvalidKeyMaterial:
                continue
            verified = verify_receipt(row.receipt_jwt, keys, row.created_at)
            if isinstance(verified, ReceiptRejection):
                continue
            if verified.status is not ReceiptStatus.SUCCESS:
                continue
            form = reference_form(
                verified.reference, mandate.reference or "", mandate.reference_sdk or ""
            )
            if form is None or verified.check_kind(Family(mandate.mandate_type)) is not None:
                continue
            found = True
            break
        if not found:
            return StepResult("receipt", False, "no linked Success receipt verifies")
        return StepResult("receipt", True)

    async def _checkout_steps(
        self, mandate: Mandate
    ) -> tuple[list[StepResult], VerifiedChain | None]:
        chain_result, chain = chain_step(mandate)
        steps = [chain_result]
        steps.append(
            checkout_hash_step(chain)
            if chain is not None
            else StepResult("checkout_hash", False, "the chain does not verify")
        )
        steps.append(await self.receipt_step(mandate))
        return steps, chain

    async def check(self, mandate_id: uuid.UUID) -> DisputeResult:
        mandate = await self.mandates.get(mandate_id)
        if mandate is None:
            raise NotFound("mandate not found")
        if mandate.format != MandateFormat.AP2_V02:
            raise Unprocessable(
                "the dispute check is defined for AP2 v0.2 mandates only",
                code="mandates_not_supported",
            )
        if mandate.mandate_type == Family.CHECKOUT:
            steps, _ = await self._checkout_steps(mandate)
        else:
            chain_result, chain = chain_step(mandate)
            steps = [chain_result, await self.receipt_step(mandate)]
            checkout = (
                await self.mandates.checkout_by_hash(mandate.transaction_id)
                if mandate.transaction_id
                else None
            )
            checkout_chain: VerifiedChain | None = None
            if checkout is None:
                steps.append(
                    StepResult(
                        "checkout_mandate", False, "no stored checkout has this transaction_id"
                    )
                )
            else:
                checkout_steps, checkout_chain = await self._checkout_steps(checkout)
                failed = [s for s in checkout_steps if not s.ok]
                steps.append(
                    StepResult(
                        "checkout_mandate",
                        not failed,
                        f"checkout {failed[0].step}: {failed[0].reason}" if failed else None,
                    )
                )
            if chain is None or checkout_chain is None:
                steps.append(StepResult("payment_reference", False, "a chain does not verify"))
            else:
                steps.append(payment_reference_step(chain, checkout_chain))
        ok = all(step.ok for step in steps)
        return DisputeResult(
            mandate_id=mandate.id,
            result="consistent" if ok else "inconsistent",
            steps=[DisputeStep(step=s.step, ok=s.ok, reason=s.reason) for s in steps],
        )
