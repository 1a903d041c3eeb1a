"""Ledger semantics through sequences of presentations to one tenant (in-memory ledger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.ap2.verification import (
    EMPTY_LEDGER,
    LedgerState,
    RequestContext,
    ResultCode,
    VerifiedChain,
    evaluate,
)
from tests.ap2.memory_ledger import MemoryLedger
from tests.ap2.minting import H, Hop, kb_hop, party, root_hop
from tests.ap2.scenarios import (
    AUD,
    NONCE,
    NOW,
    NOW_TS,
    OPEN_CHECKOUT_HASH,
    PROVIDER,
    ROOT_KEYS,
    SHOE,
    Scenario,
    amount_range,
    budget,
    checkout,
    checkout_jwt,
    closed_checkout,
    closed_payment,
    lines,
    merchants,
    open_payment,
    payment,
    recurrence,
    reference,
)

IM = ResultCode.INVALID_MANDATE
REF = reference(OPEN_CHECKOUT_HASH)


def _present(ledger: MemoryLedger, s: Scenario, when: datetime = NOW, dry_run: bool = False) -> Any:
    return ledger.present(s.sd_jwt, s.context, when, dry_run)


def _reissue(root: Hop, agent: Any, when: datetime, **kw: Any) -> Scenario:
    """A new closed payment under the same root, key-bound at `when`."""

    cj = checkout_jwt([(SHOE, 1)], id=f"chk_{when.timestamp()}_{kw.get('amount', 0)}")
    leaf = kb_hop(root, closed_payment(cj, **kw), agent, iat=int(when.timestamp()))
    return Scenario([root, leaf], RequestContext(AUD, NONCE, H(cj), OPEN_CHECKOUT_HASH), agent, cj)


def _recurring_root(cons: list[Any]) -> tuple[Hop, Any]:
    agent = party()
    return root_hop(open_payment(agent, cons), PROVIDER), agent


def test_replay_of_an_approved_leaf() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    s = checkout()
    assert _present(ledger, s).code is None
    again = _present(ledger, s)
    assert again.code is IM
    assert "replay" in again.violations[0].reason


def test_replay_whatever_disclosures_come_with_it() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    allowed = ({"id": "merchant_1", "name": "x"}, {"id": "m9", "name": "y"})
    s = checkout(
        cons=[lines(("l", 1, [SHOE])), merchants(*allowed)],
        leaf_kw={"binding": "issuer_jwt_hash"},  # lets the root be shown with fewer disclosures
    )
    assert _present(ledger, s).code is None
    fewer_root = s.root.without(
        lambda d: len(d) == 2 and isinstance(d[1], dict) and d[1].get("id") == "m9"
    )
    assert len(fewer_root.disclosures) == len(s.root.disclosures) - 1
    replay = _present(ledger, Scenario([fewer_root, s.leaf], s.context, s.agent, s.cj))
    assert replay.code is IM
    assert "replay" in replay.violations[0].reason
    fresh = MemoryLedger(ROOT_KEYS)
    assert _present(fresh, Scenario([fewer_root, s.leaf], s.context, s.agent, s.cj)).code is None


def test_checkout_mandates_are_not_consumed() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    agent = party()
    first = checkout(agent=agent)
    root = first.root
    assert _present(ledger, first).code is None

    for n in range(3):
        cj = checkout_jwt([(SHOE, 1)], id=f"chk_{n}")
        leaf = kb_hop(root, closed_checkout(cj), agent, iat=NOW_TS)
        answer = _present(
            ledger, Scenario([root, leaf], RequestContext(AUD, NONCE, H(cj)), agent, cj)
        )
        assert answer.code is None
        assert answer.ledger.occurrences == n + 2


def test_payment_single_use() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    root, agent = _recurring_root([amount_range(20000), REF])
    assert _present(ledger, _reissue(root, agent, NOW)).code is None
    second = _present(ledger, _reissue(root, agent, NOW, amount=100))
    assert second.code is IM
    assert second.violations[0].constraint is None
    assert second.ledger.occurrences == 1  # a rejection changes nothing


def test_rejections_and_dry_runs_change_nothing() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    root, agent = _recurring_root([amount_range(20000), REF])
    over = _present(ledger, _reissue(root, agent, NOW, amount=30000))
    assert over.code is IM
    dry = _present(ledger, _reissue(root, agent, NOW), dry_run=True)
    assert dry.code is None
    assert ledger.rows == {}
    assert ledger.approved_leaves == set()
    assert _present(ledger, _reissue(root, agent, NOW)).code is None  # the real first use


def test_budget_across_approvals() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    root, agent = _recurring_root([budget(50000), recurrence("ON_DEMAND"), REF])
    for amount in (20000, 20000, 10000):
        assert _present(ledger, _reissue(root, agent, NOW, amount=amount)).code is None
    over = _present(ledger, _reissue(root, agent, NOW, amount=1))
    assert over.code is IM
    assert over.violations[0].constraint == "payment.budget"
    row = next(iter(ledger.rows.values()))
    assert (row.occurrences, dict(row.spent)) == (3, {"USD": 50000})


def test_spent_is_kept_per_currency() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    root, agent = _recurring_root([recurrence("ON_DEMAND"), amount_range(10**6, cur="EUR"), REF])
    assert _present(ledger, _reissue(root, agent, NOW, amount=500, currency="EUR")).code is None
    row = next(iter(ledger.rows.values()))
    assert dict(row.spent) == {"EUR": 500}


def test_max_occurrences() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    root, agent = _recurring_root([recurrence("ON_DEMAND", 3), REF])
    for _ in range(3):
        assert _present(ledger, _reissue(root, agent, NOW)).code is None
    fourth = _present(ledger, _reissue(root, agent, NOW))
    assert fourth.code is IM
    assert fourth.violations[0].constraint == "payment.agent_recurrence"


@pytest.mark.parametrize(
    ("frequency", "first", "too_soon", "on_time"),
    [
        (
            "DAILY",
            datetime(2026, 5, 1, 12, tzinfo=UTC),
            timedelta(hours=23, minutes=59),
            timedelta(hours=24),
        ),
        (
            "WEEKLY",
            datetime(2026, 5, 1, 12, tzinfo=UTC),
            timedelta(days=6, hours=23),
            timedelta(days=7),
        ),
        ("BIWEEKLY", datetime(2026, 5, 1, 12, tzinfo=UTC), timedelta(days=13), timedelta(days=14)),
        (
            "MONTHLY",
            datetime(2027, 1, 31, 9, tzinfo=UTC),
            timedelta(days=27, hours=23),
            timedelta(days=28),
        ),
        (
            "MONTHLY",
            datetime(2028, 1, 31, 9, tzinfo=UTC),
            timedelta(days=28, hours=23),
            timedelta(days=29),
        ),
        (
            "QUARTERLY",
            datetime(2026, 11, 30, 9, tzinfo=UTC),
            timedelta(days=89),
            timedelta(days=90),
        ),
        (
            "ANNUALLY",
            datetime(2028, 2, 29, 9, tzinfo=UTC),
            timedelta(days=364, hours=23),
            timedelta(days=365),
        ),
    ],
)
def test_recurrence_spacing(
    frequency: str, first: datetime, too_soon: timedelta, on_time: timedelta
) -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    root, agent = _recurring_root([recurrence(frequency), REF])
    assert _present(ledger, _reissue(root, agent, first), first).code is None
    early = first + too_soon
    answer = _present(ledger, _reissue(root, agent, early), early)
    assert answer.code is IM
    assert answer.violations[0].constraint == "payment.agent_recurrence"
    later = first + on_time
    assert _present(ledger, _reissue(root, agent, later), later).code is None


def test_recurrence_in_every_open_content_lifts_single_use_only_then() -> None:
    agent, sub = party(), party()

    root = root_hop(open_payment(agent, [recurrence("ON_DEMAND"), REF]), PROVIDER)
    mid = kb_hop(root, open_payment(sub, [REF]), agent, iat=NOW_TS, final=False)  # no recurrence
    ledger = MemoryLedger(ROOT_KEYS)
    answers = []
    for n in range(2):
        cj = checkout_jwt([(SHOE, 1)], id=f"c{n}")
        leaf = kb_hop(mid, closed_payment(cj), sub, iat=NOW_TS)
        s = Scenario(
            [root, mid, leaf], RequestContext(AUD, NONCE, H(cj), OPEN_CHECKOUT_HASH), sub, cj
        )
        answers.append(_present(ledger, s).code)
    assert answers == [None, IM]


def test_one_ledger_per_root_whatever_the_leaf() -> None:
    ledger = MemoryLedger(ROOT_KEYS)
    root, agent = _recurring_root([recurrence("ON_DEMAND"), REF])
    for n in range(3):
        _present(ledger, _reissue(root, agent, NOW, amount=100 + n))
    assert len(ledger.rows) == 1
    assert next(iter(ledger.rows.values())).occurrences == 3
    assert len(ledger.approved_leaves) == 3


def test_state_after_and_change_values() -> None:
    s = payment()
    verified = s.verify()

    assert isinstance(verified, VerifiedChain)
    before = LedgerState({"USD": 100, "EUR": 5}, 0, None)
    decision = evaluate(verified, before, NOW)
    change = decision.ledger_change
    assert change is not None
    assert change.open_mandate_hash == verified.open_mandate_hash
    assert change.leaf_jwt_hash == verified.leaf_jwt_hash
    after = change.state_after()
    assert (
        dict(after.spent),
        after.occurrences,
        after.last_approval,
        after.leaf_already_approved,
    ) == (
        {"USD": 20000, "EUR": 5},
        1,
        NOW,
        True,
    )
    assert dict(before.spent) == {"USD": 100, "EUR": 5}  # the input is not changed
    assert EMPTY_LEDGER.has_approval is False
