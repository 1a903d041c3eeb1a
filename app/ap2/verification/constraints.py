"""Stage D3: each constraint against the closed mandate, the request and the ledger.

`check(constraint, subject)` answers None when the constraint holds, else a
Violation naming its type (unresolved for an unknown type, or a missing request
value). What a constraint reads from the checkout that is missing or malformed
makes that constraint fail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from app.ap2.verification.codes import Violation
from app.ap2.verification.contents import Closed, ClosedCheckout, ClosedPayment
from app.ap2.verification.context import RequestContext
from app.ap2.verification.dates import clock_instant, parse_instant
from app.ap2.verification.ledger import LedgerState
from app.ap2.verification.lineitems import MalformedCheckout, checkout_counts, line_items_problem
from app.ap2.verification.recurrence import next_allowed
from app.ap2.verification.schemas import Merchant, SchemaError, merchant
from app.ap2.verification.shapes import (
    AgentRecurrence,
    AllowedMerchants,
    AllowedPayees,
    AllowedPaymentInstruments,
    AllowedPisps,
    AmountRange,
    Budget,
    Constraint,
    ExecutionDate,
    LineItems,
    PaymentReference,
    UnknownConstraint,
)


class Subject(NamedTuple):
    """What constraints are evaluated against."""

    closed: Closed
    context: RequestContext
    ledger: LedgerState
    now: datetime


def merchants_match(allowed: Merchant, actual: Merchant) -> bool:
    """Ids decide when both are non-empty; otherwise non-empty equal name and website."""
    if allowed.id and actual.id:
        return allowed.id == actual.id
    return (
        bool(allowed.name)
        and allowed.name == actual.name
        and bool(allowed.website)
        and allowed.website == actual.website
    )


def _payment(subject: Subject) -> ClosedPayment:
    closed = subject.closed
    if not isinstance(closed, ClosedPayment):
        raise TypeError("a payment constraint needs a closed payment")  # stage C prevents it
    return closed


def _checkout(subject: Subject) -> ClosedCheckout:
    closed = subject.closed
    if not isinstance(closed, ClosedCheckout):
        raise TypeError("a checkout constraint needs a closed checkout")  # stage C prevents it
    return closed


def _allowed_merchants(c: AllowedMerchants, subject: Subject) -> str | None:
    payload = _checkout(subject).checkout_jwt.payload
    try:
        actual = merchant(
            payload.get("merchant"), "checkout merchant", id_required=False, closed=False
        )
    except SchemaError as exc:
        return f"the checkout's merchant cannot be read: {exc}"
    if any(merchants_match(allowed, actual) for allowed in c.allowed):
        return None
    return "the checkout's merchant is not among the revealed allowed merchants"


def _line_items(c: LineItems, subject: Subject) -> str | None:
    try:
        counts = checkout_counts(_checkout(subject).checkout_jwt.payload)
    except MalformedCheckout as exc:
        return str(exc)
    return line_items_problem(c.items, counts)


def _amount_range(c: AmountRange, subject: Subject) -> str | None:
    paid = _payment(subject).payment_amount
    if paid.currency != c.currency:
        return f"payment currency {paid.currency} is not {c.currency}"
    if c.min is not None and paid.amount < c.min:
        return f"amount {paid.amount} is below the minimum {c.min}"
    if paid.amount > c.max:
        return f"amount {paid.amount} is above the maximum {c.max}"
    return None


def _budget(c: Budget, subject: Subject) -> str | None:
    paid = _payment(subject).payment_amount
    if paid.currency != c.currency:
        return f"payment currency {paid.currency} is not the budget's {c.currency}"
    spent = subject.ledger.spent.get(c.currency, 0)
    if spent + paid.amount > c.max:
        return f"{spent} already spent + {paid.amount} exceeds the budget {c.max}"
    return None


def _recurrence(c: AgentRecurrence, subject: Subject) -> str | None:
    ledger = subject.ledger
    if c.max_occurrences is not None and ledger.occurrences + 1 > c.max_occurrences:
        return f"{ledger.occurrences} approvals already reach max_occurrences {c.max_occurrences}"
    if ledger.last_approval is not None:
        earliest = next_allowed(ledger.last_approval, c.frequency)
        if earliest is not None and subject.now < earliest:
            return (
                f"{c.frequency} spacing: the next approval is allowed from {earliest.isoformat()}"
            )
    return None


def _allowed_payees(c: AllowedPayees, subject: Subject) -> str | None:
    payee = _payment(subject).payee
    if any(merchants_match(allowed, payee) for allowed in c.allowed):
        return None
    return "the payee is not among the revealed allowed payees"


def _allowed_instruments(c: AllowedPaymentInstruments, subject: Subject) -> str | None:
    used = _payment(subject).payment_instrument
    if any(p.id == used.id and p.type == used.type for p in c.allowed):
        return None
    return "the payment instrument is not among the revealed allowed instruments"


def _allowed_pisps(c: AllowedPisps, subject: Subject) -> str | None:
    used = _payment(subject).pisp
    if used is None:
        return "the payment mandate names no pisp"
    if used in c.allowed:  # Pisp is a tuple of its three names: equal in all three fields
        return None
    return "the pisp is not among the allowed pisps"


def _execution_date(c: ExecutionDate, subject: Subject) -> str | None:
    given = _payment(subject).execution_date
    when = clock_instant(subject.now) if given is None else parse_instant(given)
    if c.not_before is not None and when < c.not_before:
        return "the execution date is before not_before"
    if c.not_after is not None and when > c.not_after:
        return "the execution date is after not_after"
    return None


_CHECKS: dict[type, Callable[[Any, Subject], str | None]] = {
    AllowedMerchants: _allowed_merchants,
    LineItems: _line_items,
    AmountRange: _amount_range,
    Budget: _budget,
    AgentRecurrence: _recurrence,
    AllowedPayees: _allowed_payees,
    AllowedPaymentInstruments: _allowed_instruments,
    AllowedPisps: _allowed_pisps,
    ExecutionDate: _execution_date,
}


def check(constraint: Constraint, subject: Subject) -> Violation | None:
    """None when `constraint` holds for `subject`, else the Violation."""
    if isinstance(constraint, UnknownConstraint):
        return Violation(str(constraint.type), "unknown constraint type", unresolved=True)
    if isinstance(constraint, PaymentReference):
        expected = subject.context.open_checkout_hash
        if expected is None:
            return Violation(str(constraint.type), "the request has no open_checkout_hash", True)
        if constraint.conditional_transaction_id != expected:
            return Violation(
                str(constraint.type),
                "conditional_transaction_id is not the request's open_checkout_hash",
            )
        return None
    problem = _CHECKS[type(constraint)](constraint, subject)
    return None if problem is None else Violation(str(constraint.type), problem)
