"""Stage C: `vct` and family, each content's row of the contract, typed.

Open contents (every hop but the last) carry constraints and pre-set claims; the
closed content (the leaf) is a closed checkout or a closed payment. Everything here
raises SchemaError, which the chain turns into `invalid_mandate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from app.ap2.verification.codes import Family
from app.ap2.verification.schemas import (
    Amount,
    Merchant,
    PaymentInstrument,
    Pisp,
    SchemaError,
    amount,
    date,
    merchant,
    obj,
    payment_instrument,
    pisp,
    required,
    string,
)
from app.ap2.verification.shapes import Constraint, parse_constraints
from app.ap2.verification.wire import WireError, load_object, split_jws

OPEN_VCT = {Family.CHECKOUT: "mandate.checkout.open.1", Family.PAYMENT: "mandate.payment.open.1"}
CLOSED_VCT = {"mandate.checkout.1": Family.CHECKOUT, "mandate.payment.1": Family.PAYMENT}
# Members of an open content that are not pre-set claims.
NOT_PRESET = frozenset({"vct", "constraints", "cnf", "iat", "exp"})


class CheckoutJwt(NamedTuple):
    """The merchant's compact JWS of a UCP Checkout (its signature is not verified)."""

    text: str
    header: dict[str, Any]
    payload: dict[str, Any]


class OpenContent(NamedTuple):
    """An open mandate content: its constraints and its pre-set claims."""

    hop: int
    family: Family
    constraints: tuple[Constraint, ...]
    presets: dict[str, Any]
    members: dict[str, Any]


class ClosedCheckout(NamedTuple):
    """A closed checkout mandate."""

    checkout_jwt: CheckoutJwt
    checkout_hash: str
    members: dict[str, Any]
    family: Family = Family.CHECKOUT


class ClosedPayment(NamedTuple):
    """A closed payment mandate."""

    transaction_id: str
    payee: Merchant
    payment_amount: Amount
    payment_instrument: PaymentInstrument
    pisp: Pisp | None
    execution_date: str | None  # as given; None means "now"
    risk_data: dict[str, Any] | None
    members: dict[str, Any]
    family: Family = Family.PAYMENT


Closed = ClosedCheckout | ClosedPayment


def _checkout_jwt(value: Any) -> CheckoutJwt:
    text = string(value, "checkout_jwt")
    try:
        jws = split_jws(text, "checkout_jwt")
        header = load_object(jws.header_raw, "checkout_jwt header")
        payload = load_object(jws.payload_raw, "checkout_jwt payload")
    except WireError as exc:
        raise SchemaError(str(exc)) from None
    return CheckoutJwt(text, header, payload)


def _closed_checkout(content: dict[str, Any]) -> ClosedCheckout:
    return ClosedCheckout(
        _checkout_jwt(required(content, "checkout_jwt", "closed checkout")),
        string(required(content, "checkout_hash", "closed checkout"), "checkout_hash"),
        content,
    )


def _risk_data(content: dict[str, Any]) -> dict[str, Any] | None:
    return obj(content["risk_data"], "risk_data") if "risk_data" in content else None


def _closed_payment(content: dict[str, Any]) -> ClosedPayment:
    what = "closed payment"
    return ClosedPayment(
        string(required(content, "transaction_id", what), "transaction_id"),
        merchant(required(content, "payee", what), "payee"),
        amount(required(content, "payment_amount", what), "payment_amount"),
        payment_instrument(required(content, "payment_instrument", what), "payment_instrument"),
        pisp(content["pisp"], "pisp") if "pisp" in content else None,
        date(content["execution_date"], "execution_date") if "execution_date" in content else None,
        _risk_data(content),
        content,
    )


# Pre-set claims of an open payment are typed as in the closed mandate.
_PAYMENT_PRESETS: dict[str, Callable[[Any, str], object]] = {
    "payee": merchant,
    "payment_amount": amount,
    "payment_instrument": payment_instrument,
    "pisp": pisp,
    "execution_date": date,
    "risk_data": obj,
}


def _open(hop: int, content: dict[str, Any], family: Family) -> OpenContent:
    if "constraints" not in content:
        raise SchemaError(f"hop {hop} content has no 'constraints'")
    constraints = parse_constraints(content["constraints"], family, f"hop {hop} constraints")
    presets = {name: value for name, value in content.items() if name not in NOT_PRESET}
    if family is Family.PAYMENT:
        for name, check in _PAYMENT_PRESETS.items():
            if name in presets:
                check(presets[name], f"hop {hop} pre-set {name}")
    return OpenContent(hop, family, constraints, presets, content)


def family_of(contents: Sequence[Mapping[str, Any]]) -> Family:
    """C1: the leaf's closed `vct` fixes the family; earlier contents carry its open `vct`."""
    vct = contents[-1].get("vct")
    family = CLOSED_VCT.get(vct) if type(vct) is str else None
    if family is None:
        raise SchemaError("the final content's vct is not a closed mandate vct")
    for hop, content in enumerate(contents[:-1]):
        if content.get("vct") != OPEN_VCT[family]:
            raise SchemaError(f"hop {hop} content's vct is not {OPEN_VCT[family]}")
    return family


def parse_contents(
    contents: Sequence[dict[str, Any]],
) -> tuple[Family, tuple[OpenContent, ...], Closed]:
    """Stage C over the chain's contents in hop order; raises SchemaError."""
    family = family_of(contents)
    opened = tuple(_open(hop, content, family) for hop, content in enumerate(contents[:-1]))
    leaf = contents[-1]
    closed: Closed = _closed_checkout(leaf) if family is Family.CHECKOUT else _closed_payment(leaf)
    return family, opened, closed
