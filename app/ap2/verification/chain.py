"""`verify_chain`: stages A-C of a Delegate SD-JWT presentation, stateless and pure.

The caller reads `root_kid(sd_jwt)`, loads the tenant's candidate root keys, and
calls `verify_chain` outside any lock; stage D (`evaluate`) then runs under the
ledger lock. `now` is passed in (the vault clock, or a stored instant for a dispute
re-run); nothing here reads a clock or global state.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from app.ap2.verification.codes import Family, Refusal, ResultCode, Stage, Violation
from app.ap2.verification.contents import (
    Closed,
    ClosedCheckout,
    ClosedPayment,
    OpenContent,
    parse_contents,
)
from app.ap2.verification.context import RequestContext
from app.ap2.verification.dates import micros
from app.ap2.verification.hops import VerifiedHop, verify_hops
from app.ap2.verification.keys import RootKey, RootKeys, public_jwk
from app.ap2.verification.presentation import RawHop, split_hops
from app.ap2.verification.schemas import Merchant, SchemaError, merchant
from app.ap2.verification.shapes import PaymentReference
from app.ap2.verification.wire import digest


class Rejection(NamedTuple):
    """A chain refused in stages A-C; `reference` (spec form) is None when stage A failed."""

    code: ResultCode
    stage: Stage
    reason: str
    reference: str | None

    @property
    def approved(self) -> bool:
        return False

    @property
    def violations(self) -> tuple[Violation, ...]:
        """The answer's violations: the one finding that stopped the chain."""
        return (Violation(None, self.reason),)


class VerifiedChain(NamedTuple):
    """A chain that passed stages A-C, with everything storage and stage D need."""

    sd_jwt: str
    context: RequestContext
    hops: tuple[VerifiedHop, ...]
    root: RootKey
    family: Family
    open_contents: tuple[OpenContent, ...]
    closed: Closed
    open_mandate_hash: str  # ledger key: H(root JWT), whatever disclosures are presented
    leaf_jwt_hash: str  # H(leaf JWT): the replay index key and the SDK-form receipt reference
    reference: str  # spec-form receipt reference: H(final hop as presented)

    @property
    def approved(self) -> bool:
        return True

    @property
    def root_issuer_did(self) -> str:
        return self.root.issuer_did

    @property
    def root_kid(self) -> str | None:
        return self.root.key.kid

    @property
    def root_jwk(self) -> dict[str, str]:
        """The public JWK of the root key that verified the chain (kept for re-runs)."""
        return public_jwk(self.root.key)

    @property
    def reference_sdk(self) -> str:
        return self.leaf_jwt_hash

    @property
    def hop_texts(self) -> tuple[str, ...]:
        """Each hop verbatim, `<jwt>~<disclosures>~`."""
        return tuple(hop.text for hop in self.hops)

    @property
    def open_hop_hashes(self) -> tuple[str, ...]:
        """H(`<jwt>~<disclosures>~`) of each open hop (the dispute payment_reference step)."""
        return tuple(hop.hash for hop in self.hops[:-1])

    @property
    def transaction_id(self) -> str:
        """Payment `transaction_id`; for checkout, `checkout_hash` (what storage indexes)."""
        closed = self.closed
        return closed.transaction_id if isinstance(closed, ClosedPayment) else closed.checkout_hash

    @property
    def checkout_hash(self) -> str | None:
        return self.closed.checkout_hash if isinstance(self.closed, ClosedCheckout) else None

    @property
    def checkout_jwt(self) -> str | None:
        closed = self.closed
        return closed.checkout_jwt.text if isinstance(closed, ClosedCheckout) else None

    @property
    def amount(self) -> int | None:
        closed = self.closed
        return closed.payment_amount.amount if isinstance(closed, ClosedPayment) else None

    @property
    def currency(self) -> str | None:
        closed = self.closed
        return closed.payment_amount.currency if isinstance(closed, ClosedPayment) else None

    @property
    def payee(self) -> Merchant | None:
        return self.closed.payee if isinstance(self.closed, ClosedPayment) else None

    @property
    def checkout_merchant(self) -> Merchant | None:
        """The checkout's `merchant` when it is well formed (checkout family), else None."""
        closed = self.closed
        if not isinstance(closed, ClosedCheckout):
            return None
        try:
            return merchant(
                closed.checkout_jwt.payload.get("merchant"), "merchant", False, closed=False
            )
        except SchemaError:
            return None

    @property
    def merchant_ids(self) -> tuple[str, ...]:
        """Payee id (payment) or checkout merchant id (checkout), for the `merchants` index."""
        found = self.payee if self.family is Family.PAYMENT else self.checkout_merchant
        return (found.id,) if found is not None and found.id else ()

    @property
    def conditional_transaction_ids(self) -> tuple[str, ...]:
        """Every revealed `payment.reference` of the chain, in hop then array order."""
        return tuple(
            c.conditional_transaction_id
            for content in self.open_contents
            for c in content.constraints
            if isinstance(c, PaymentReference)
        )


def _reference(hops: tuple[RawHop, ...]) -> str:
    return digest(hops[-1].text)


def verify_chain(
    sd_jwt: object, context: RequestContext, root_keys: RootKeys, now: datetime
) -> VerifiedChain | Rejection:
    """Stages A-C; never raises for any `sd_jwt` (ValueError only for a naive `now`)."""
    now_us = micros(now)
    if type(sd_jwt) is not str:
        return Rejection(
            ResultCode.INVALID_CREDENTIAL, Stage.SHAPE, "sd_jwt must be a string", None
        )
    try:
        raw = split_hops(sd_jwt)
    except Refusal as refusal:
        return Rejection(refusal.code, refusal.stage, refusal.reason, None)
    try:
        hops, root = verify_hops(raw, context, root_keys, now_us)
        try:
            family, opened, closed = parse_contents([hop.content for hop in hops])
        except SchemaError as exc:
            return Rejection(ResultCode.INVALID_MANDATE, Stage.SCHEMA, str(exc), _reference(raw))
    except Refusal as refusal:
        return Rejection(refusal.code, refusal.stage, refusal.reason, _reference(raw))
    return VerifiedChain(
        sd_jwt,
        context,
        hops,
        root,
        family,
        opened,
        closed,
        digest(hops[0].jwt),
        digest(hops[-1].jwt),
        digest(hops[-1].text),
    )
