"""Dispute re-runs: the same pure functions with a stored instant, root key and ledger state."""

from __future__ import annotations

from datetime import timedelta

from app.ap2.verification import (
    EMPTY_LEDGER,
    Decision,
    Rejection,
    RootKey,
    RootKeyIndex,
    VerifiedChain,
    checkout_hash_step,
    evaluate,
    payment_reference_step,
    verify_chain,
)
from app.keys import key_from_jwk
from tests.ap2.minting import H
from tests.ap2.scenarios import M1, NOW, amount_range, checkout, payees, payment, reference


def _verified(result: object) -> VerifiedChain:
    assert isinstance(result, VerifiedChain), result
    return result


def test_chain_step_reruns_at_the_stored_instant_with_the_stored_key() -> None:
    s = payment()
    chain = _verified(s.verify())
    stored = {
        "sd_jwt": chain.sd_jwt,
        "context": chain.context,
        "verified_at": NOW,
        "root": (chain.root_issuer_did, chain.root_jwk),
        "ledger_before": EMPTY_LEDGER,
    }
    # Months later, with the issuer's key rotated out of the truststore:
    did, jwk = stored["root"]
    keys = RootKeyIndex([RootKey(did, key_from_jwk(jwk))])
    again = _verified(
        verify_chain(stored["sd_jwt"], stored["context"], keys, stored["verified_at"])
    )
    decision = evaluate(again, stored["ledger_before"], stored["verified_at"])
    assert isinstance(decision, Decision)
    assert decision.approved
    # ...while a re-run "now" would fail the key-binding age, as it should
    later = verify_chain(stored["sd_jwt"], stored["context"], keys, NOW + timedelta(days=90))
    assert isinstance(later, Rejection)
    assert "300" in later.reason


def test_checkout_hash_step() -> None:
    chain = _verified(checkout().verify())
    assert checkout_hash_step(chain).ok
    payment_chain = _verified(payment().verify())
    step = checkout_hash_step(payment_chain)
    assert (step.step, step.ok) == ("checkout_hash", False)


def test_payment_reference_step() -> None:
    open_checkout = checkout()
    checkout_chain = _verified(open_checkout.verify())
    issued_open_hop = H(open_checkout.root.text)
    assert checkout_chain.open_hop_hashes == (issued_open_hop,)
    s = payment(
        cons=[amount_range(20000), payees(M1), reference(issued_open_hop)],
        open_checkout_hash=issued_open_hop,
    )
    payment_chain = _verified(s.verify())
    assert payment_chain.conditional_transaction_ids == (issued_open_hop,)
    assert payment_reference_step(payment_chain, checkout_chain).ok
    other = _verified(payment().verify())
    step = payment_reference_step(other, checkout_chain)
    assert (step.step, step.ok) == ("payment_reference", False)
    assert step.reason
