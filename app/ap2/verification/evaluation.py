"""Stage D: `evaluate(chain, ledger, now)`, every finding collected, then the result code.

Run it under the ledger lock with the ledger row read in the same transaction that
records the approval (stage E). D1 pre-set claims, D2 the checkout hash binding, D3
every constraint in hop then array order, D4 replay and payment single use. Any
finding not marked unresolved gives `invalid_mandate`; only unresolved ones give
`unresolved_constraint`; none approves, with the ledger change to write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from app.ap2.verification.chain import VerifiedChain
from app.ap2.verification.codes import Family, ResultCode, Violation
from app.ap2.verification.constraints import Subject, check
from app.ap2.verification.contents import ClosedCheckout, ClosedPayment
from app.ap2.verification.ledger import LedgerChange, LedgerState, approval_change
from app.ap2.verification.shapes import AgentRecurrence
from app.ap2.verification.wire import digest


class Decision(NamedTuple):
    """The outcome of stage D; `ledger_change` is set only on approval."""

    code: ResultCode | None
    violations: tuple[Violation, ...]
    ledger_change: LedgerChange | None
    reference: str  # spec-form receipt reference of the chain

    @property
    def approved(self) -> bool:
        return self.code is None

    @property
    def first_reason(self) -> str | None:
        return self.violations[0].reason if self.violations else None


def same_value(a: Any, b: Any) -> bool:
    """Deep equality of JSON values: objects by member, arrays in order, numbers by value,
    booleans never equal to numbers."""
    kind_a, kind_b = type(a), type(b)
    if kind_a is bool or kind_b is bool:
        return kind_a is kind_b and a == b
    if kind_a in (int, float) and kind_b in (int, float):
        return bool(a == b)
    if kind_a is not kind_b:
        return False
    if kind_a is dict:
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if kind_a is list:
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _presets(chain: VerifiedChain) -> list[Violation]:
    closed = chain.closed.members
    found = []
    for content in chain.open_contents:
        for name, value in content.presets.items():
            if name not in closed:
                found.append(Violation(None, f"pre-set claim {name[:64]!r} is missing"))
            elif not same_value(value, closed[name]):
                found.append(Violation(None, f"pre-set claim {name[:64]!r} was changed"))
    return found


def _binding(chain: VerifiedChain) -> list[Violation]:
    closed, expected = chain.closed, chain.context.checkout_jwt_hash
    found = []
    if isinstance(closed, ClosedCheckout):
        if closed.checkout_hash != digest(closed.checkout_jwt.text):
            found.append(Violation(None, "checkout_hash is not H(checkout_jwt)"))
        if expected is not None and closed.checkout_hash != expected:
            found.append(Violation(None, "checkout_hash is not the request's checkout_jwt_hash"))
    elif isinstance(closed, ClosedPayment):
        if expected is None:
            found.append(Violation(None, "the request has no checkout_jwt_hash", True))
        elif closed.transaction_id != expected:
            found.append(Violation(None, "transaction_id is not the request's checkout_jwt_hash"))
    return found


def _ledger(chain: VerifiedChain, ledger: LedgerState) -> list[Violation]:
    found = []
    if ledger.leaf_already_approved:
        found.append(Violation(None, "this closed mandate was already approved (replay)"))
    if chain.family is Family.PAYMENT and ledger.has_approval:
        single_use = any(
            not any(isinstance(c, AgentRecurrence) for c in content.constraints)
            for content in chain.open_contents
        )
        if single_use:
            found.append(
                Violation(None, "the open payment mandate allows one use and was already used")
            )
    return found


def evaluate(chain: VerifiedChain, ledger: LedgerState, now: datetime) -> Decision:
    """Stage D against the ledger of the chain's root, as of `now` (never raises)."""
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    subject = Subject(chain.closed, chain.context, ledger, now)
    violations = _presets(chain)
    violations += _binding(chain)
    for content in chain.open_contents:
        for constraint in content.constraints:
            violation = check(constraint, subject)
            if violation is not None:
                violations.append(violation)
    violations += _ledger(chain, ledger)
    if not violations:
        change = approval_change(
            ledger,
            chain.open_mandate_hash,
            chain.leaf_jwt_hash,
            now,
            chain.currency,
            chain.amount or 0,
        )
        return Decision(None, (), change, chain.reference)
    code = (
        ResultCode.UNRESOLVED_CONSTRAINT
        if all(v.unresolved for v in violations)
        else ResultCode.INVALID_MANDATE
    )
    return Decision(code, tuple(violations), None, chain.reference)
