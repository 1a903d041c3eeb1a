"""Constraint vocabulary and shapes: each known constraint parsed into a typed value.

An open checkout's vocabulary is the two `checkout.*` types, an open payment's the
eight `payment.*` types; any other `type` there becomes `UnknownConstraint` (it fails
as unresolved in stage D). A known constraint of the wrong shape is a SchemaError
(stage C). Arrays that may carry disclosures arrive here with only the revealed
elements, which is all that counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any, ClassVar

from app.ap2.verification.codes import Family
from app.ap2.verification.dates import clock_instant, parse_instant
from app.ap2.verification.schemas import (
    Merchant,
    PaymentInstrument,
    Pisp,
    SchemaError,
    array,
    currency,
    date,
    integer,
    merchant,
    obj,
    payment_instrument,
    pisp,
    required,
    string,
)


class ConstraintType(StrEnum):
    """The ten constraint types of the contract."""

    ALLOWED_MERCHANTS = "checkout.allowed_merchants"
    LINE_ITEMS = "checkout.line_items"
    AMOUNT_RANGE = "payment.amount_range"
    BUDGET = "payment.budget"
    AGENT_RECURRENCE = "payment.agent_recurrence"
    ALLOWED_PAYEES = "payment.allowed_payees"
    ALLOWED_PAYMENT_INSTRUMENTS = "payment.allowed_payment_instruments"
    ALLOWED_PISPS = "payment.allowed_pisps"
    EXECUTION_DATE = "payment.execution_date"
    REFERENCE = "payment.reference"


class Frequency(StrEnum):
    """`payment.agent_recurrence` frequencies."""

    ON_DEMAND = "ON_DEMAND"
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    BIWEEKLY = "BIWEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    ANNUALLY = "ANNUALLY"


@dataclass(frozen=True, slots=True)
class AllowedMerchants:
    allowed: tuple[Merchant, ...]
    type: ClassVar[str] = ConstraintType.ALLOWED_MERCHANTS


@dataclass(frozen=True, slots=True)
class AcceptableItem:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class LineItemEntry:
    id: str
    acceptable_items: tuple[AcceptableItem, ...]
    quantity: int


@dataclass(frozen=True, slots=True)
class LineItems:
    items: tuple[LineItemEntry, ...]
    type: ClassVar[str] = ConstraintType.LINE_ITEMS


@dataclass(frozen=True, slots=True)
class AmountRange:
    currency: str
    max: int
    min: int | None
    type: ClassVar[str] = ConstraintType.AMOUNT_RANGE


@dataclass(frozen=True, slots=True)
class Budget:
    max: int
    currency: str
    type: ClassVar[str] = ConstraintType.BUDGET


@dataclass(frozen=True, slots=True)
class AgentRecurrence:
    frequency: Frequency
    max_occurrences: int | None
    type: ClassVar[str] = ConstraintType.AGENT_RECURRENCE


@dataclass(frozen=True, slots=True)
class AllowedPayees:
    allowed: tuple[Merchant, ...]
    type: ClassVar[str] = ConstraintType.ALLOWED_PAYEES


@dataclass(frozen=True, slots=True)
class AllowedPaymentInstruments:
    allowed: tuple[PaymentInstrument, ...]
    type: ClassVar[str] = ConstraintType.ALLOWED_PAYMENT_INSTRUMENTS


@dataclass(frozen=True, slots=True)
class AllowedPisps:
    allowed: tuple[Pisp, ...]
    type: ClassVar[str] = ConstraintType.ALLOWED_PISPS


@dataclass(frozen=True, slots=True)
class ExecutionDate:
    not_before: Fraction | None  # epoch seconds, exact
    not_after: Fraction | None
    type: ClassVar[str] = ConstraintType.EXECUTION_DATE


@dataclass(frozen=True, slots=True)
class PaymentReference:
    conditional_transaction_id: str
    type: ClassVar[str] = ConstraintType.REFERENCE


@dataclass(frozen=True, slots=True)
class UnknownConstraint:
    """A `type` outside the content's vocabulary; kept so stage D can name it."""

    type: str


Constraint = (
    AllowedMerchants
    | LineItems
    | AmountRange
    | Budget
    | AgentRecurrence
    | AllowedPayees
    | AllowedPaymentInstruments
    | AllowedPisps
    | ExecutionDate
    | PaymentReference
    | UnknownConstraint
)


def _allowed(c: dict[str, Any], what: str) -> list[Any]:
    return array(required(c, "allowed", what), f"{what}.allowed")


def _merchants(c: dict[str, Any], what: str) -> tuple[Merchant, ...]:
    return tuple(merchant(m, f"{what}.allowed[{i}]") for i, m in enumerate(_allowed(c, what)))


def _line_items(c: dict[str, Any], what: str) -> LineItems:
    items = array(required(c, "items", what), f"{what}.items")
    if not items:
        raise SchemaError(f"{what}.items must have at least one entry")
    entries = []
    for i, raw in enumerate(items):
        where = f"{what}.items[{i}]"
        entry = obj(raw, where)
        acceptable = array(required(entry, "acceptable_items", where), f"{where}.acceptable_items")
        goods = []
        for j, raw_item in enumerate(acceptable):
            spot = f"{where}.acceptable_items[{j}]"
            item = obj(raw_item, spot)
            goods.append(
                AcceptableItem(
                    string(required(item, "id", spot), f"{spot}.id"),
                    string(required(item, "title", spot), f"{spot}.title"),
                )
            )
        entries.append(
            LineItemEntry(
                string(required(entry, "id", where), f"{where}.id"),
                tuple(goods),
                integer(required(entry, "quantity", where), f"{where}.quantity", 1),
            )
        )
    return LineItems(tuple(entries))


def _amount_range(c: dict[str, Any], what: str) -> AmountRange:
    low = c.get("min")
    return AmountRange(
        currency(required(c, "currency", what), f"{what}.currency"),
        integer(required(c, "max", what), f"{what}.max", 0),
        None if "min" not in c else integer(low, f"{what}.min", 0),
    )


def _budget(c: dict[str, Any], what: str) -> Budget:
    return Budget(
        integer(required(c, "max", what), f"{what}.max", 0),
        currency(required(c, "currency", what), f"{what}.currency"),
    )


_FREQUENCIES = frozenset(Frequency)


def _recurrence(c: dict[str, Any], what: str) -> AgentRecurrence:
    frequency = required(c, "frequency", what)
    if type(frequency) is not str or frequency not in _FREQUENCIES:
        raise SchemaError(f"{what}.frequency must be one of {', '.join(Frequency)}")
    most = None
    if "max_occurrences" in c:
        most = integer(c["max_occurrences"], f"{what}.max_occurrences", 1)
    return AgentRecurrence(Frequency(frequency), most)


def _instruments(c: dict[str, Any], what: str) -> AllowedPaymentInstruments:
    allowed = _allowed(c, what)
    return AllowedPaymentInstruments(
        tuple(payment_instrument(p, f"{what}.allowed[{i}]") for i, p in enumerate(allowed))
    )


def _pisps(c: dict[str, Any], what: str) -> AllowedPisps:
    allowed = _allowed(c, what)
    return AllowedPisps(tuple(pisp(p, f"{what}.allowed[{i}]") for i, p in enumerate(allowed)))


def _bound(c: dict[str, Any], name: str, what: str) -> Fraction | None:
    if name not in c:
        return None
    return parse_instant(date(c[name], f"{what}.{name}"))


def _execution_date(c: dict[str, Any], what: str) -> ExecutionDate:
    return ExecutionDate(_bound(c, "not_before", what), _bound(c, "not_after", what))


def _reference(c: dict[str, Any], what: str) -> PaymentReference:
    value = required(c, "conditional_transaction_id", what)
    return PaymentReference(string(value, f"{what}.conditional_transaction_id"))


_Parser = Callable[[dict[str, Any], str], Constraint]
_VOCABULARY: dict[Family, dict[str, _Parser]] = {
    Family.CHECKOUT: {
        ConstraintType.ALLOWED_MERCHANTS: lambda c, w: AllowedMerchants(_merchants(c, w)),
        ConstraintType.LINE_ITEMS: _line_items,
    },
    Family.PAYMENT: {
        ConstraintType.AMOUNT_RANGE: _amount_range,
        ConstraintType.BUDGET: _budget,
        ConstraintType.AGENT_RECURRENCE: _recurrence,
        ConstraintType.ALLOWED_PAYEES: lambda c, w: AllowedPayees(_merchants(c, w)),
        ConstraintType.ALLOWED_PAYMENT_INSTRUMENTS: _instruments,
        ConstraintType.ALLOWED_PISPS: _pisps,
        ConstraintType.EXECUTION_DATE: _execution_date,
        ConstraintType.REFERENCE: _reference,
    },
}
# What each open content must contain (the schemas' `contains`).
REQUIRED_CONSTRAINT: dict[Family, tuple[type, str]] = {
    Family.CHECKOUT: (LineItems, ConstraintType.LINE_ITEMS),
    Family.PAYMENT: (PaymentReference, ConstraintType.REFERENCE),
}


def parse_constraints(value: Any, family: Family, what: str) -> tuple[Constraint, ...]:
    """Parse an open content's `constraints`; raises SchemaError."""
    vocabulary = _VOCABULARY[family]
    parsed: list[Constraint] = []
    for i, raw in enumerate(array(value, what)):
        where = f"{what}[{i}]"
        constraint = obj(raw, where)
        kind = string(required(constraint, "type", where), f"{where}.type")
        parser = vocabulary.get(kind)
        parsed.append(UnknownConstraint(kind) if parser is None else parser(constraint, where))
    required_class, required_name = REQUIRED_CONSTRAINT[family]
    if not any(isinstance(c, required_class) for c in parsed):
        raise SchemaError(f"{what} has no {required_name}")
    return tuple(parsed)


def execution_instant(value: str | None, now: datetime) -> Fraction:
    """E of `payment.execution_date`: the closed mandate's date, or the vault clock."""
    return clock_instant(now) if value is None else parse_instant(value)
