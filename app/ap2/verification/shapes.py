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
from enum import StrEnum
from fractions import Fraction
from typing import Any, ClassVar

from app.ap2.verification.codes import Family
from app.ap2.verification.dates import parse_instant
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


def _allowed(c: dict[str, Any]) -> list[Any]:
    return array(required(c, "allowed", "constraint"), "allowed")


def _each(values: list[Any], parse: Callable[[Any, str], Any], what: str) -> tuple[Any, ...]:
    parsed = []
    for i, value in enumerate(values):
        try:
            parsed.append(parse(value, what))
        except SchemaError as exc:
            raise SchemaError(f"[{i}] {exc}") from None
    return tuple(parsed)


def _acceptable(value: Any, what: str) -> AcceptableItem:
    item = obj(value, what)
    return AcceptableItem(
        string(required(item, "id", what), "acceptable item id"),
        string(required(item, "title", what), "acceptable item title"),
    )


def _entry(value: Any, what: str) -> LineItemEntry:
    entry = obj(value, what)
    acceptable = array(required(entry, "acceptable_items", what), "acceptable_items")
    return LineItemEntry(
        string(required(entry, "id", what), "entry id"),
        _each(acceptable, _acceptable, "acceptable item"),
        integer(required(entry, "quantity", what), "entry quantity", 1),
    )


def _line_items(c: dict[str, Any]) -> LineItems:
    items = array(required(c, "items", "constraint"), "items")
    if not items:
        raise SchemaError("items must have at least one entry")
    return LineItems(_each(items, _entry, "line item entry"))


def _amount_range(c: dict[str, Any]) -> AmountRange:
    return AmountRange(
        currency(required(c, "currency", "constraint"), "currency"),
        integer(required(c, "max", "constraint"), "max", 0),
        None if "min" not in c else integer(c["min"], "min", 0),
    )


def _budget(c: dict[str, Any]) -> Budget:
    return Budget(
        integer(required(c, "max", "constraint"), "max", 0),
        currency(required(c, "currency", "constraint"), "currency"),
    )


_FREQUENCIES = frozenset(Frequency)


def _recurrence(c: dict[str, Any]) -> AgentRecurrence:
    frequency = required(c, "frequency", "constraint")
    if type(frequency) is not str or frequency not in _FREQUENCIES:
        raise SchemaError(f"frequency must be one of {', '.join(Frequency)}")
    most = None
    if "max_occurrences" in c:
        most = integer(c["max_occurrences"], "max_occurrences", 1)
    return AgentRecurrence(Frequency(frequency), most)


def _bound(c: dict[str, Any], name: str) -> Fraction | None:
    if name not in c:
        return None
    return parse_instant(date(c[name], name))


def _execution_date(c: dict[str, Any]) -> ExecutionDate:
    return ExecutionDate(_bound(c, "not_before"), _bound(c, "not_after"))


def _reference(c: dict[str, Any]) -> PaymentReference:
    value = required(c, "conditional_transaction_id", "constraint")
    return PaymentReference(string(value, "conditional_transaction_id"))


_Parser = Callable[[dict[str, Any]], Constraint]
_VOCABULARY: dict[Family, dict[str, _Parser]] = {
    Family.CHECKOUT: {
        ConstraintType.ALLOWED_MERCHANTS: lambda c: AllowedMerchants(
            _each(_allowed(c), merchant, "merchant")
        ),
        ConstraintType.LINE_ITEMS: _line_items,
    },
    Family.PAYMENT: {
        ConstraintType.AMOUNT_RANGE: _amount_range,
        ConstraintType.BUDGET: _budget,
        ConstraintType.AGENT_RECURRENCE: _recurrence,
        ConstraintType.ALLOWED_PAYEES: lambda c: AllowedPayees(
            _each(_allowed(c), merchant, "payee")
        ),
        ConstraintType.ALLOWED_PAYMENT_INSTRUMENTS: lambda c: AllowedPaymentInstruments(
            _each(_allowed(c), payment_instrument, "instrument")
        ),
        ConstraintType.ALLOWED_PISPS: lambda c: AllowedPisps(_each(_allowed(c), pisp, "pisp")),
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
    """Parse an open content's `constraints`; raises SchemaError naming the place."""
    vocabulary = _VOCABULARY[family]
    parsed: list[Constraint] = []
    for i, raw in enumerate(array(value, what)):
        if type(raw) is not dict or type(raw.get("type")) is not str:
            raise SchemaError(f"{what}[{i}] is not an object with a string type")
        kind = raw["type"]
        parser = vocabulary.get(kind)
        if parser is None:
            parsed.append(UnknownConstraint(kind))
            continue
        try:
            parsed.append(parser(raw))
        except SchemaError as exc:
            raise SchemaError(f"{what}[{i}] ({kind[:64]}): {exc}") from None
    required_class, required_name = REQUIRED_CONSTRAINT[family]
    if not any(isinstance(c, required_class) for c in parsed):
        raise SchemaError(f"{what} has no {required_name}")
    return tuple(parsed)
