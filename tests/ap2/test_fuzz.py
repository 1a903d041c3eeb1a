"""Hostile input: never an exception, never an approval of a tampered chain."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ap2.verification import (
    EMPTY_LEDGER,
    Decision,
    IncomingReceipt,
    ReceiptRejection,
    Rejection,
    VerifiedChain,
    evaluate,
    root_kid,
    verify_chain,
    verify_receipt,
)
from tests.ap2.minting import (
    Hop,
    Sd,
    b64,
    b64d,
    chain,
    disclosure,
    enc,
    issue,
    kb_hop,
    party,
    root_hop,
    sign,
)
from tests.ap2.scenarios import (
    M1,
    M2,
    MERCHANT_KEY,
    NOW,
    NOW_TS,
    PROVIDER,
    ROOT_KEYS,
    SHOE,
    SHOE10,
    Scenario,
    checkout,
    closed_checkout,
    lines,
    merchants,
    open_checkout,
    payment,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
B64 = string.ascii_letters + string.digits + "-_"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)

# Built once: hypothesis then varies what is done to them.
CHECKOUT = checkout(cons=[lines(("l", 1, [SHOE, SHOE10])), merchants(M1, M2)])
PAYMENT = payment()
AGENT, SUB = party(), party()
_ROOT = root_hop(
    open_checkout(AGENT, [lines(("l", 1, [SHOE, SHOE10])), merchants(M1, M2)]), PROVIDER
)
_MID = kb_hop(
    _ROOT,
    open_checkout(SUB, [lines(("l", 1, [SHOE])), merchants(M1)]),
    AGENT,
    iat=NOW_TS,
    final=False,
)
_LEAF = kb_hop(_MID, closed_checkout(CHECKOUT.cj), SUB, iat=NOW_TS)
THREE = Scenario([_ROOT, _MID, _LEAF], CHECKOUT.context, SUB, CHECKOUT.cj)
VALID = (CHECKOUT, PAYMENT, THREE)


def _outcome(s: Scenario, sd_jwt: Any) -> Rejection | Decision:
    verified = verify_chain(sd_jwt, s.context, ROOT_KEYS, NOW)
    if isinstance(verified, Rejection):
        return verified
    assert isinstance(verified, VerifiedChain)
    return evaluate(verified, EMPTY_LEDGER, NOW)


def test_the_untouched_chains_are_approved() -> None:
    for s in VALID:
        outcome = _outcome(s, s.sd_jwt)
        assert isinstance(outcome, Decision)
        assert outcome.approved, outcome.violations


@SETTINGS
@given(st.text(max_size=400) | st.binary(max_size=400))
def test_random_text_and_bytes(value: Any) -> None:
    result = verify_chain(value, CHECKOUT.context, ROOT_KEYS, NOW)
    assert isinstance(result, Rejection)
    kid = root_kid(value)
    assert kid is None or (isinstance(kid, str) and kid)
    assert isinstance(verify_receipt(value, ROOT_KEYS, NOW), ReceiptRejection)


@SETTINGS
@given(st.lists(st.text(alphabet=B64 + ".~=+/", max_size=60), min_size=1, max_size=8))
def test_random_tilde_and_dot_structures(parts: list[str]) -> None:
    assert isinstance(verify_chain("~".join(parts), CHECKOUT.context, ROOT_KEYS, NOW), Rejection)


@SETTINGS
@given(st.sampled_from(VALID), st.data())
def test_one_character_changed_anywhere(s: Scenario, data: Any) -> None:
    text = s.sd_jwt
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(B64 + ".~").filter(lambda c: c != text[position]))
    outcome = _outcome(s, text[:position] + replacement + text[position + 1 :])
    assert not (isinstance(outcome, Decision) and outcome.approved)


@SETTINGS
@given(st.sampled_from(VALID), st.data())
def test_bit_flips_in_any_decoded_segment(s: Scenario, data: Any) -> None:
    # Flip one bit of the bytes a segment encodes, and encode it back (so it stays base64url).
    hop_index = data.draw(st.integers(0, len(s.hops) - 1))
    hop = s.hops[hop_index]
    segments = [*hop.jwt.split("."), *hop.disclosures]
    which = data.draw(st.integers(0, len(segments) - 1))
    raw = bytearray(b64d(segments[which]))
    if not raw:
        return
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    segments[which] = b64(bytes(raw))
    flipped = Hop(".".join(segments[:3]), segments[3:])
    hops = list(s.hops)
    hops[hop_index] = flipped
    outcome = _outcome(s, chain(*hops))
    assert not (isinstance(outcome, Decision) and outcome.approved)


@SETTINGS
@given(st.sampled_from(VALID), st.data())
def test_truncated_chains(s: Scenario, data: Any) -> None:
    cut = data.draw(st.integers(0, len(s.sd_jwt) - 1))
    outcome = _outcome(s, s.sd_jwt[:cut])
    assert isinstance(outcome, Rejection)


@SETTINGS
@given(st.sampled_from(VALID), st.data())
def test_hops_dropped_duplicated_or_swapped(s: Scenario, data: Any) -> None:
    hops = data.draw(st.lists(st.sampled_from(s.hops), min_size=1, max_size=4))
    if hops == s.hops:
        return
    outcome = _outcome(s, chain(*hops))
    assert not (isinstance(outcome, Decision) and outcome.approved)


# Issuer-JWT binding lets the root travel with any subset and order of its disclosures.
LOOSE = checkout(
    cons=[lines(("l", 1, [SHOE, SHOE10])), merchants(M1, M2)],
    leaf_kw={"binding": "issuer_jwt_hash"},
)


def _kind(d: list[Any]) -> str:
    value = d[-1]
    if isinstance(value, dict) and "vct" in value:
        return "content"
    if value == {"id": SHOE["id"], "title": SHOE["title"]}:
        return "shoe"
    if value == M1:
        return "m1"
    return "other"


@SETTINGS
@given(st.data())
def test_random_disclosure_subsets_and_orders_of_the_root(data: Any) -> None:
    root = LOOSE.root
    discs = data.draw(st.permutations(root.disclosures))
    keep = data.draw(st.lists(st.booleans(), min_size=len(discs), max_size=len(discs)))
    kept = [d for d, k in zip(discs, keep, strict=True) if k]
    hop = Hop(root.jwt, kept)
    kinds = {_kind(d) for d in hop.decoded()}
    outcome = _outcome(LOOSE, chain(hop, LOOSE.leaf))
    if "content" not in kinds:
        assert isinstance(outcome, Rejection)
        assert outcome.code == "invalid_credential"
    else:
        assert isinstance(outcome, Decision)
        # The checkout holds the shoe from merchant_1: both must be revealed to pass.
        assert outcome.approved is ({"shoe", "m1"} <= kinds), outcome.violations


@SETTINGS
@given(st.data())
def test_sd_hash_binds_the_exact_disclosures_and_order(data: Any) -> None:
    root = CHECKOUT.root
    discs = data.draw(st.permutations(root.disclosures))
    keep = data.draw(st.lists(st.booleans(), min_size=len(discs), max_size=len(discs)))
    kept = [d for d, k in zip(discs, keep, strict=True) if k]
    if kept == root.disclosures:
        return
    outcome = _outcome(CHECKOUT, chain(Hop(root.jwt, kept), CHECKOUT.leaf))
    assert isinstance(outcome, Rejection)


@SETTINGS
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=8))
def test_signed_junk_leaf_content(content: dict[str, Any]) -> None:
    s = CHECKOUT
    leaf = kb_hop(s.root, content, s.agent, iat=NOW_TS)
    outcome = _outcome(s, chain(s.root, leaf))
    assert isinstance(outcome, Rejection | Decision)


@SETTINGS
@given(
    st.dictionaries(st.text(max_size=10), json_values, max_size=8),
    st.lists(json_values, max_size=4),
)
def test_signed_junk_root_and_disclosures(claims: dict[str, Any], extra: list[Any]) -> None:
    agent = party()
    root = issue(
        {**claims, "delegate_payload": [Sd(open_checkout(agent) | {"x": claims})]},
        PROVIDER.key,
        {"alg": "ES256", "kid": "ap-1"},
    )
    junk = [enc(value) for value in extra] + [disclosure(value) for value in extra]
    root = Hop(root.jwt, root.disclosures + junk)
    leaf = kb_hop(root, closed_checkout(CHECKOUT.cj), agent, iat=NOW_TS)
    outcome = _outcome(CHECKOUT, chain(root, leaf))
    assert isinstance(outcome, Rejection | Decision)
    if junk:
        assert isinstance(outcome, Rejection)  # none of them is referenced


@SETTINGS
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "allowed",
                    "items",
                    "max",
                    "min",
                    "currency",
                    "frequency",
                    "not_before",
                    "conditional_transaction_id",
                    "max_occurrences",
                ]
            ),
            json_values,
            max_size=5,
        ),
        max_size=5,
    )
)
def test_signed_junk_constraints(constraints: list[dict[str, Any]]) -> None:
    for s in (CHECKOUT, PAYMENT):
        agent = party()
        content = (
            open_checkout(agent, constraints)
            if s is CHECKOUT
            else dict(open_checkout(agent, constraints), vct="mandate.payment.open.1")
        )
        root = root_hop(content, PROVIDER)
        closed = closed_checkout(s.cj) if s is CHECKOUT else s.leaf.decoded()[0][-1]
        leaf = kb_hop(root, closed, agent, iat=NOW_TS)
        outcome = _outcome(s, chain(root, leaf))
        assert isinstance(outcome, Rejection | Decision)


@SETTINGS
@given(json_values, json_values)
def test_signed_junk_receipts(header_extra: Any, payload: Any) -> None:
    header = {"alg": "ES256", "kid": "m-1"} | ({"x": header_extra})
    body = payload if isinstance(payload, dict) else {"value": payload}
    result = verify_receipt(sign(header, body, MERCHANT_KEY.key), ROOT_KEYS, NOW)
    assert isinstance(result, IncomingReceipt | ReceiptRejection)
