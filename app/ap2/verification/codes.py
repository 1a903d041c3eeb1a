"""Result codes, stages and the small values every part of the engine shares."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class ResultCode(StrEnum):
    """The contract's result codes; an approval has no code (`None`)."""

    INVALID_CREDENTIAL = "invalid_credential"
    MANDATES_NOT_SUPPORTED = "mandates_not_supported"
    INVALID_MANDATE = "invalid_mandate"
    UNRESOLVED_CONSTRAINT = "unresolved_constraint"


class Stage(StrEnum):
    """Verification stages A-D of the contract (E, recording, belongs to the caller)."""

    SHAPE = "A"
    CREDENTIAL = "B"
    SCHEMA = "C"
    EVALUATION = "D"


class Family(StrEnum):
    """Mandate family, fixed by the closed (final) content's `vct`."""

    CHECKOUT = "checkout"
    PAYMENT = "payment"


class HopRole(StrEnum):
    """Position of a hop in the chain, which decides its `typ`, key and members."""

    ROOT = "root"
    INTERMEDIATE = "intermediate"
    FINAL = "final"


class Violation(NamedTuple):
    """One finding: the constraint `type` it concerns (or None) and why it fails."""

    constraint: str | None
    reason: str
    unresolved: bool = False

    def as_dict(self) -> dict[str, str | None]:
        """The answer's `{"constraint", "reason"}` form."""
        return {"constraint": self.constraint, "reason": self.reason}


class Refusal(Exception):
    """Raised inside stages A-C to stop at the first failure; never escapes the engine."""

    __slots__ = ("code", "reason", "stage")

    def __init__(self, code: ResultCode, stage: Stage, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.stage = stage
        self.reason = reason


def credential(reason: str, stage: Stage = Stage.CREDENTIAL) -> Refusal:
    """An `invalid_credential` refusal (stage B unless told)."""
    return Refusal(ResultCode.INVALID_CREDENTIAL, stage, reason)
