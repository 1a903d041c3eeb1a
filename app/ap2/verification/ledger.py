"""Ledger values: the state stage D reads under the ledger lock, and the change an approval makes.

One ledger per tenant and root (`open_mandate_hash`). Only approvals that are not
dry runs change it: occurrences + 1, last approval = now, spent[currency] + amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What the ledger row (and the replay index) says before this request."""

    spent: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    occurrences: int = 0
    last_approval: datetime | None = None
    leaf_already_approved: bool = False  # the leaf JWT's hash is in the tenant's replay index

    @property
    def has_approval(self) -> bool:
        return self.occurrences > 0 or self.last_approval is not None


EMPTY_LEDGER = LedgerState()


class LedgerChange(NamedTuple):
    """What an approval writes: the new row values, and the delta they come from."""

    open_mandate_hash: str
    leaf_jwt_hash: str  # insert into the (tenant, leaf hash) unique index
    approved_at: datetime  # the new last approval
    occurrences: int  # after: before + 1
    currency: str | None  # payment: the closed mandate's currency; checkout: None
    amount: int  # payment: added to spent[currency]; checkout: 0
    spent: Mapping[str, int]  # after

    def state_after(self) -> LedgerState:
        """The ledger as this approval leaves it (the leaf now approved)."""
        return LedgerState(self.spent, self.occurrences, self.approved_at, True)


def approval_change(
    before: LedgerState,
    open_mandate_hash: str,
    leaf_jwt_hash: str,
    now: datetime,
    currency: str | None,
    amount: int,
) -> LedgerChange:
    """The change of one approval applied to `before`."""
    spent = dict(before.spent)
    if currency is not None:
        spent[currency] = spent.get(currency, 0) + amount
    return LedgerChange(
        open_mandate_hash,
        leaf_jwt_hash,
        now,
        before.occurrences + 1,
        currency,
        amount,
        MappingProxyType(spent),
    )
