"""An in-memory stand-in for the ledger storage: what the integration must do, in a few lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.ap2.verification import (
    EMPTY_LEDGER,
    LedgerState,
    Rejection,
    RequestContext,
    ResultCode,
    RootKeys,
    Violation,
    evaluate,
    verify_chain,
)


@dataclass
class Answer:
    code: ResultCode | None
    violations: tuple[Violation, ...]
    ledger: LedgerState | None


@dataclass
class MemoryLedger:
    """One tenant: ledgers by open_mandate_hash and the set of approved leaf JWT hashes."""

    root_keys: RootKeys
    rows: dict[str, LedgerState] = field(default_factory=dict)
    approved_leaves: set[str] = field(default_factory=set)

    def present(
        self, sd_jwt: Any, context: RequestContext, now: datetime, dry_run: bool = False
    ) -> Answer:
        chain = verify_chain(sd_jwt, context, self.root_keys, now)  # A-C, outside the lock
        if isinstance(chain, Rejection):
            return Answer(chain.code, chain.violations, None)
        # "lock" the row, read the state, run D, write E
        row = self.rows.get(chain.open_mandate_hash, EMPTY_LEDGER)
        state = LedgerState(
            row.spent,
            row.occurrences,
            row.last_approval,
            chain.leaf_jwt_hash in self.approved_leaves,
        )
        decision = evaluate(chain, state, now)
        if decision.ledger_change is not None and not dry_run:
            self.rows[chain.open_mandate_hash] = decision.ledger_change.state_after()
            self.approved_leaves.add(decision.ledger_change.leaf_jwt_hash)
        return Answer(
            decision.code, decision.violations, self.rows.get(chain.open_mandate_hash, row)
        )
