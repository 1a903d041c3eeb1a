"""Shared objects of mandate contents: Merchant, Amount, PaymentInstrument, PISP, integers.

Parsers return typed values or raise SchemaError. Integers are JSON integer literals
(`type(v) is int`, so no float, no boolean); amounts and bounds are >= 0. Merchant,
Amount and PISP are closed (a member outside their schema is refused); a
PaymentInstrument may carry other members, which are ignored.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from app.ap2.verification.dates import InvalidDate, parse_instant

_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)


class SchemaError(ValueError):
    """A content member of the wrong shape or type."""


MERCHANT_MEMBERS = frozenset({"id", "name", "website"})
AMOUNT_MEMBERS = frozenset({"amount", "currency"})
PISP_MEMBERS = frozenset({"legal_name", "brand_name", "domain_name"})


def closed_members(value: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    """Refuse members of `value` outside `allowed` (a schema that closes its object)."""
    if not allowed.issuperset(value):
        extra = sorted(name[:64] for name in value if name not in allowed)[:4]
        raise SchemaError(f"{what} has members its schema does not allow: {extra}")


class Merchant(NamedTuple):
    """`{id, name, website?}`; `id` is None only where the contract lets it be missing."""

    id: str | None
    name: str
    website: str | None


class Amount(NamedTuple):
    """An amount in ISO 4217 minor units."""

    amount: int
    currency: str


class PaymentInstrument(NamedTuple):
    """`{id, type, description?}`; other members are ignored."""

    id: str
    type: str
    description: str | None


class Pisp(NamedTuple):
    """A Payment Initiation Service Provider."""

    legal_name: str
    brand_name: str
    domain_name: str


# I-JSON (RFC 7493): integers past 2^53 - 1 are not exact for every receiver; amounts,
# bounds and counts beyond it are refused rather than stored or forwarded inexactly.
MAX_INTEGER = 2**53 - 1


def integer(value: Any, what: str, minimum: int | None = None) -> int:
    """A JSON integer literal, at least `minimum` when given, at most MAX_INTEGER."""
    if type(value) is not int:
        raise SchemaError(f"{what} must be an integer")
    if value > MAX_INTEGER:
        raise SchemaError(f"{what} must be at most {MAX_INTEGER}")
    if minimum is not None and value < minimum:
        raise SchemaError(f"{what} must be at least {minimum}")
    return value


def string(value: Any, what: str) -> str:
    """A JSON string."""
    if type(value) is not str:
        raise SchemaError(f"{what} must be a string")
    return value


def optional_string(container: dict[str, Any], name: str, what: str) -> str | None:
    """A member that, when present, is a string."""
    if name not in container:
        return None
    value = container[name]
    if type(value) is not str:
        raise SchemaError(f"{what} {name} must be a string")
    return value


def obj(value: Any, what: str) -> dict[str, Any]:
    """A JSON object."""
    if type(value) is not dict:
        raise SchemaError(f"{what} must be an object")
    return value


def array(value: Any, what: str) -> list[Any]:
    """A JSON array."""
    if type(value) is not list:
        raise SchemaError(f"{what} must be an array")
    return value


def required(container: dict[str, Any], name: str, what: str) -> Any:
    """A member that must be present."""
    if name not in container:
        raise SchemaError(f"{what} has no '{name}'")
    return container[name]


def currency(value: Any, what: str) -> str:
    """An ISO 4217 alphabetic code (three capital letters)."""
    if type(value) is not str or not _CURRENCY.fullmatch(value):
        raise SchemaError(f"{what} must be three capital letters")
    return value


def _in(what: str, exc: SchemaError) -> SchemaError:
    """The error with its location: inner checks name the member, callers the place."""
    return SchemaError(f"{what}: {exc}")


def merchant(value: Any, what: str, id_required: bool = True, closed: bool = True) -> Merchant:
    """A Merchant; `id_required=False` for the checkout's merchant, whose id may be missing,
    and `closed=False` for that UCP object, which may carry other members."""
    if type(value) is dict:  # the usual, well-formed case, without a call per member
        given, label, site = value.get("id"), value.get("name"), value.get("website")
        if (
            type(label) is str
            and (type(given) is str or (given is None and "id" not in value and not id_required))
            and (type(site) is str or "website" not in value)
            and (not closed or MERCHANT_MEMBERS.issuperset(value))
        ):
            return Merchant(given, label, site)
    try:
        member = obj(value, "merchant")
        if closed:
            closed_members(member, MERCHANT_MEMBERS, "merchant")
        if id_required:
            ident: str | None = string(required(member, "id", "merchant"), "id")
        else:
            ident = optional_string(member, "id", "merchant")
        name = string(required(member, "name", "merchant"), "name")
        return Merchant(ident, name, optional_string(member, "website", "merchant"))
    except SchemaError as exc:
        raise _in(what, exc) from None


def amount(value: Any, what: str) -> Amount:
    """An Amount: non-negative integer minor units and a currency code."""
    if type(value) is dict:
        minor, code = value.get("amount"), value.get("currency")
        if (
            type(minor) is int
            and 0 <= minor <= MAX_INTEGER
            and type(code) is str
            and _CURRENCY.fullmatch(code)
            and len(value) == 2
        ):
            return Amount(minor, code)
    try:
        member = obj(value, "amount object")
        closed_members(member, AMOUNT_MEMBERS, "amount object")
        return Amount(
            integer(required(member, "amount", "amount object"), "amount", 0),
            currency(required(member, "currency", "amount object"), "currency"),
        )
    except SchemaError as exc:
        raise _in(what, exc) from None


def payment_instrument(value: Any, what: str) -> PaymentInstrument:
    """A PaymentInstrument."""
    if type(value) is dict:
        ident, kind, text = value.get("id"), value.get("type"), value.get("description")
        if (
            type(ident) is str
            and type(kind) is str
            and (type(text) is str or "description" not in value)
        ):
            return PaymentInstrument(ident, kind, text)
    try:
        member = obj(value, "payment instrument")
        return PaymentInstrument(
            string(required(member, "id", "payment instrument"), "id"),
            string(required(member, "type", "payment instrument"), "type"),
            optional_string(member, "description", "payment instrument"),
        )
    except SchemaError as exc:
        raise _in(what, exc) from None


def pisp(value: Any, what: str) -> Pisp:
    """A PISP: all three names required."""
    try:
        member = obj(value, "pisp")
        closed_members(member, PISP_MEMBERS, "pisp")
        return Pisp(
            string(required(member, "legal_name", "pisp"), "legal_name"),
            string(required(member, "brand_name", "pisp"), "brand_name"),
            string(required(member, "domain_name", "pisp"), "domain_name"),
        )
    except SchemaError as exc:
        raise _in(what, exc) from None


def date(value: Any, what: str) -> str:
    """A contract date (returned as given; `parse_instant` turns it into an instant)."""
    try:
        parse_instant(value)
    except InvalidDate as exc:
        raise SchemaError(f"{what}: {exc}") from None
    return value
