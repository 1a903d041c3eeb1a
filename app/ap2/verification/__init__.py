"""Pure AP2 v0.2 verification engine: Delegate SD-JWT chains, constraints, ledger rules, receipts.

Use: `root_kid(sd_jwt)` -> load candidate keys -> `verify_chain(...)` (stages A-C,
outside any lock) -> lock the ledger row -> `evaluate(chain, ledger, now)` (stage D)
-> record the `Decision.ledger_change` when approved. No I/O, no clock, no globals.
"""

from app.ap2.verification.chain import Rejection, VerifiedChain, verify_chain
from app.ap2.verification.codes import Family, HopRole, ResultCode, Stage, Violation
from app.ap2.verification.constraints import merchants_match
from app.ap2.verification.contents import (
    CheckoutJwt,
    ClosedCheckout,
    ClosedPayment,
    OpenContent,
)
from app.ap2.verification.context import RequestContext
from app.ap2.verification.dispute import StepResult, checkout_hash_step, payment_reference_step
from app.ap2.verification.evaluation import Decision, evaluate, same_value
from app.ap2.verification.hops import VerifiedHop
from app.ap2.verification.incoming import (
    IncomingReceipt,
    ReceiptRejection,
    ReferenceForm,
    reference_form,
    verify_receipt,
)
from app.ap2.verification.keys import RootKey, RootKeyIndex, RootKeys, public_jwk
from app.ap2.verification.ledger import EMPTY_LEDGER, LedgerChange, LedgerState
from app.ap2.verification.presentation import MAX_PRESENTATION_CHARS, header_kid, root_kid
from app.ap2.verification.receipts import (
    ReceiptStatus,
    Signer,
    decision_receipt,
    receipt_payload,
    rejection_receipt,
    sign_receipt,
)
from app.ap2.verification.shapes import ConstraintType, Frequency
from app.ap2.verification.wire import digest

__all__ = [
    "EMPTY_LEDGER",
    "MAX_PRESENTATION_CHARS",
    "CheckoutJwt",
    "ClosedCheckout",
    "ClosedPayment",
    "ConstraintType",
    "Decision",
    "Family",
    "Frequency",
    "HopRole",
    "IncomingReceipt",
    "LedgerChange",
    "LedgerState",
    "OpenContent",
    "ReceiptRejection",
    "ReceiptStatus",
    "ReferenceForm",
    "Rejection",
    "RequestContext",
    "ResultCode",
    "RootKey",
    "RootKeyIndex",
    "RootKeys",
    "Signer",
    "Stage",
    "StepResult",
    "VerifiedChain",
    "VerifiedHop",
    "Violation",
    "checkout_hash_step",
    "digest",
    "evaluate",
    "header_kid",
    "merchants_match",
    "payment_reference_step",
    "public_jwk",
    "decision_receipt",
    "receipt_payload",
    "reference_form",
    "rejection_receipt",
    "root_kid",
    "same_value",
    "sign_receipt",
    "verify_chain",
    "verify_receipt",
]
