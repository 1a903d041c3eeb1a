"""What a chain verification reports: typed, with the first broken position."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Problem(StrEnum):
    """What is wrong at the first broken position (stable values for JSON output)."""

    ROW_EDITED = "row_edited"  # the row's fields no longer give its row_hash
    ROW_REWRITTEN = "row_rewritten"  # the row was re-hashed; the next row names the original
    ROW_MISSING = "row_missing"  # a gap in the sequence after the oldest row kept
    ROWS_SWAPPED = "rows_swapped"  # two rows' contents traded places
    ROW_INSERTED = "row_inserted"  # a forged row, the rows after it renumbered
    ROW_DUPLICATE = "row_duplicate"  # a seq seen again (or going backwards)
    ROW_UNREADABLE = "row_unreadable"  # fields with no canonical form
    LINK_BROKEN = "link_broken"  # prev_hash does not name the previous row
    ANCHOR_MISMATCH = "anchor_mismatch"  # the first kept row does not follow the anchor
    CHAIN_START_MISMATCH = "chain_start_mismatch"  # row 1 does not start from this genesis
    TAIL_TRUNCATED = "tail_truncated"  # a checkpoint (or the head) names rows that are gone
    HEAD_MISMATCH = "head_mismatch"  # the recorded chain head is not the last row
    CHECKPOINT_UNREADABLE = "checkpoint_unreadable"
    CHECKPOINT_UNKNOWN_KEY = "checkpoint_unknown_key"
    CHECKPOINT_BAD_SIGNATURE = "checkpoint_bad_signature"
    CHECKPOINT_WRONG_CHAIN = "checkpoint_wrong_chain"
    CHECKPOINT_MISPLACED = "checkpoint_misplaced"  # stored at a seq it does not sign
    CHECKPOINT_MISSING = "checkpoint_missing"  # a checkpoint between two others is gone
    CHECKPOINT_HEAD_MISMATCH = "checkpoint_head_mismatch"  # signed head != stored row
    CHECKPOINT_ROOT_MISMATCH = "checkpoint_root_mismatch"  # signed root != batch's rows


class ChainStatus(StrEnum):
    INTACT = "intact"
    RETENTION_CUT = "intact_after_retention_cut"  # intact, with a warning
    BROKEN = "broken"


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken position: `seq` is the row (or checkpoint) where it shows."""

    problem: Problem
    seq: int
    message: str
    other_seq: int | None = None  # the swap partner
    checkpoint_seq: int | None = None  # the checkpoint involved, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem.value,
            "seq": self.seq,
            "message": self.message,
            "other_seq": self.other_seq,
            "checkpoint_seq": self.checkpoint_seq,
        }


@dataclass(frozen=True, slots=True)
class RetentionCut:
    """The oldest rows are gone without an anchor: a warning, not tampering."""

    first_missing_seq: int
    last_missing_seq: int  # the prefix: first_missing_seq..last_missing_seq
    oldest_kept_seq: int | None  # None when no row is left
    ragged_missing: int = 0  # rows gone just after the oldest kept one (a cut by time)

    @property
    def rows_missing(self) -> int:
        return self.last_missing_seq - self.first_missing_seq + 1 + self.ragged_missing

    def to_json(self) -> dict[str, Any]:
        return {
            "first_missing_seq": self.first_missing_seq,
            "last_missing_seq": self.last_missing_seq,
            "rows_missing": self.rows_missing,
            "ragged_missing": self.ragged_missing,
            "oldest_kept_seq": self.oldest_kept_seq,
        }


@dataclass(frozen=True, slots=True)
class ChainReport:
    """One chain's verification."""

    chain_id: str
    rows_checked: int
    checkpoints_checked: int
    first_seq: int | None  # oldest row checked
    last_seq: int | None  # newest row checked
    last_checkpoint_seq: int | None
    unattested_rows: int  # rows after the last checkpoint: linked, not yet signed
    roots_unchecked: int  # batches cut by retention: head checked, root not
    anchor_seq: int | None  # verification started after this anchored seq
    broken: Break | None
    retention_cut: RetentionCut | None
    complete: bool  # False when the caller stopped early (a bounded run)

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def status(self) -> ChainStatus:
        if self.broken is not None:
            return ChainStatus.BROKEN
        return ChainStatus.RETENTION_CUT if self.retention_cut else ChainStatus.INTACT

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain_id,
            "status": self.status.value,
            "rows_checked": self.rows_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "last_checkpoint_seq": self.last_checkpoint_seq,
            "unattested_rows": self.unattested_rows,
            "roots_unchecked": self.roots_unchecked,
            "anchor_seq": self.anchor_seq,
            "complete": self.complete,
            "broken": self.broken.to_json() if self.broken else None,
            "retention_cut": self.retention_cut.to_json() if self.retention_cut else None,
        }

    def summary(self) -> str:
        """One line for a terminal."""
        head = f"chain {self.chain_id}: {self.rows_checked:,} rows"
        head += f", {self.checkpoints_checked:,} checkpoints"
        if self.broken is not None:
            return f"{head}: BROKEN at seq {self.broken.seq}: {self.broken.message}"
        line = f"{head}: intact"
        if self.retention_cut is not None:
            cut = self.retention_cut
            line += (
                f" (warning: retention cut of {cut.rows_missing:,} oldest rows without an "
                f"anchor, seq {cut.first_missing_seq}..{cut.last_missing_seq}"
                + (f" and {cut.ragged_missing:,} at its ragged edge" if cut.ragged_missing else "")
                + f"; oldest kept {cut.oldest_kept_seq})"
            )
        if self.unattested_rows:
            line += f"; {self.unattested_rows:,} newest rows not yet under a checkpoint"
        if not self.complete:
            line += "; stopped early (bounded run)"
        return line
