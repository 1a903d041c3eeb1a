"""The ledger state stored with each approval (what a dispute re-run evaluates against)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.ap2.verification import LedgerState


def state_document(state: LedgerState) -> dict[str, Any]:
    """The ledger before an approval, as stored with the mandate for dispute re-runs."""
    last = state.last_approval
    return {
        "spent": dict(state.spent),
        "occurrences": state.occurrences,
        "last_approval": last.isoformat() if last is not None else None,
    }


def state_from_document(document: Mapping[str, Any]) -> LedgerState:
    last = document.get("last_approval")
    spent = document.get("spent") or {}
    return LedgerState(
        {str(k): int(v) for k, v in spent.items()},
        int(document.get("occurrences") or 0),
        datetime.fromisoformat(last) if isinstance(last, str) else None,
        False,
    )
