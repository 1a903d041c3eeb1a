"""Pure steps of the dispute check over stored chains (the chain step re-runs verify/evaluate).

The caller re-runs `verify_chain` and `evaluate` with the stored request context,
`verified_at`, root key (`RootKeyIndex([RootKey(did, key_from_jwk(root_jwk))])`) and
the ledger state stored before the approval; the steps below need only the chains.
"""

from __future__ import annotations

from typing import NamedTuple

from app.ap2.verification.chain import VerifiedChain
from app.ap2.verification.wire import digest


class StepResult(NamedTuple):
    """One dispute step: its name, whether it holds, and why not."""

    step: str
    ok: bool
    reason: str | None = None


def checkout_hash_step(checkout: VerifiedChain) -> StepResult:
    """`checkout_hash`: H(checkout_jwt) recomputed equals the closed checkout's checkout_hash."""
    if checkout.checkout_jwt is None or checkout.checkout_hash is None:
        return StepResult("checkout_hash", False, "not a checkout mandate")
    if digest(checkout.checkout_jwt) != checkout.checkout_hash:
        return StepResult("checkout_hash", False, "checkout_hash is not H(checkout_jwt)")
    return StepResult("checkout_hash", True)


def payment_reference_step(payment: VerifiedChain, checkout: VerifiedChain) -> StepResult:
    """`payment_reference`: each conditional_transaction_id is H of an open hop of the checkout."""
    open_hops = set(checkout.open_hop_hashes)
    for reference in payment.conditional_transaction_ids:
        if reference not in open_hops:
            return StepResult(
                "payment_reference",
                False,
                "a conditional_transaction_id matches no open hop of the checkout chain",
            )
    return StepResult("payment_reference", True)
