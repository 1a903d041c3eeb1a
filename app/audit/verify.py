"""Streaming verification of one chain: rows and checkpoints in seq order, memory flat.

The caller (a database layer, async or not) pushes what it reads:

    verifier = ChainVerifier(chain_id, keyset, anchor=newest_anchor)
    verifier.add_checkpoint(StoredCheckpoint(seq, jws))   # each before the row it names
    verifier.add_row(row)                                  # False: nothing more is needed
    report = verifier.finish()

or calls `verify_chain` with two iterables. Each row is checked against its
own row_hash (recomputed), its predecessor (prev_hash) and its place (seq with
no gap); each checkpoint's signature, chain, position, head row_hash and
Merkle root are checked when the row it names arrives. The report names the
FIRST broken position; after a failure a bounded look-ahead (DIAGNOSE_ROWS)
tells an edited row from two swapped rows or a forged insertion.

A missing prefix (the oldest rows deleted without an anchor, as a cron job of
raw SQL does) is a warning with its extent, not tampering; every other gap is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from app.audit.chain import (
    ChainHead,
    SealedEntry,
    UnhashableRow,
    entry_hash,
    format_time,
    genesis_hash,
)
from app.audit.checkpoint import (
    Checkpoint,
    CheckpointErrorCode,
    CheckpointInvalid,
    read_checkpoint,
)
from app.audit.diagnosis import Suspect, first_failure
from app.audit.merkle import MerkleBuilder
from app.audit.report import Break, ChainReport, Problem, RetentionCut
from app.signing import KeySet

DIAGNOSE_ROWS = 4096
# How far past the oldest kept row a timestamp cut's ragged edge may reach.
RAGGED_WINDOW = timedelta(minutes=5)
_CHECKPOINT_PROBLEMS = {
    CheckpointErrorCode.UNREADABLE: Problem.CHECKPOINT_UNREADABLE,
    CheckpointErrorCode.UNKNOWN_KEY: Problem.CHECKPOINT_UNKNOWN_KEY,
    CheckpointErrorCode.BAD_SIGNATURE: Problem.CHECKPOINT_BAD_SIGNATURE,
}


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """The newest row retention removed: verification starts right after it."""

    last_seq: int
    last_row_hash: str | None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored: the seq it is filed under and its JWS."""

    seq: int
    jws: str


@dataclass(slots=True)
class _Pending:
    seq: int
    checkpoint: Checkpoint | None
    error: Break | None


class ChainVerifier:
    """Push-style verifier of one chain; see the module docstring for the protocol."""

    def __init__(
        self,
        chain_id: str,
        keys: KeySet,
        *,
        anchor: ChainAnchor | None = None,
        expected_head: ChainHead | None = None,
        retention_horizon: datetime | None = None,
        diagnose_rows: int = DIAGNOSE_ROWS,
        ragged_window: timedelta = RAGGED_WINDOW,
    ) -> None:
        self.chain_id = chain_id
        self._ragged_window = ragged_window
        self._ragged_until: datetime | None = None
        self._keys = keys
        self._anchor = anchor
        self._head = expected_head
        self._horizon = format_time(retention_horizon) if retention_horizon else None
        self._diagnose_rows = diagnose_rows
        self._start = anchor.last_seq if anchor is not None else 0
        self._expected = self._start + 1
        if anchor is None:
            self._prev_hash: str | None = genesis_hash(chain_id)
        else:
            self._prev_hash = anchor.last_row_hash
        self._pending: deque[_Pending] = deque()
        self._last_fed_checkpoint: int | None = None
        self._last_signed_checkpoint: int | None = None
        self._builder = MerkleBuilder()
        self._builder_start: int | None = None
        self._suspect: Suspect | None = None
        self._broken: Break | None = None
        self._cut: RetentionCut | None = None
        self.rows_checked = 0
        self.checkpoints_checked = 0
        self._roots_unchecked = 0
        self._first_seq: int | None = None
        self._last_seq: int | None = None
        self._last_checkpoint_seq: int | None = None

    @property
    def done(self) -> bool:
        """True once the verdict is in: further rows are not needed."""
        return self._broken is not None

    # --- checkpoints ----------------------------------------------------------------------

    def add_checkpoint(self, stored: StoredCheckpoint) -> None:
        """Feed a checkpoint, in seq order, before the row it names."""
        if self._broken is not None or self._suspect is not None:
            return
        seq = stored.seq
        if type(seq) is not int or seq < 1:
            message = "a checkpoint is filed without a positive integer seq"
            self._fail(Break(Problem.CHECKPOINT_MISPLACED, self._expected, message))
            return
        previous = self._last_fed_checkpoint
        if previous is not None and seq <= previous:
            message = f"checkpoint filed at seq {seq} comes after one at {previous}"
            self._fail(Break(Problem.CHECKPOINT_MISPLACED, seq, message, checkpoint_seq=seq))
            return
        if self._last_seq is not None and seq <= self._last_seq:
            raise ValueError(f"checkpoint {seq} fed after its row; feed checkpoints first")
        self._last_fed_checkpoint = seq
        checkpoint: Checkpoint | None = None
        error: Break | None
        try:
            checkpoint = read_checkpoint(stored.jws, self._keys)
        except CheckpointInvalid as exc:
            problem = _CHECKPOINT_PROBLEMS[exc.code]
            error = Break(problem, seq, f"checkpoint at seq {seq}: {exc.message}", None, seq)
        else:
            error = self._placement(checkpoint, seq)
        if seq <= self._start:
            # Wholly before the anchor: only its signature and place can be checked.
            if error is not None:
                self._fail(error)
            else:
                self._count_checkpoint(seq)
            return
        self._pending.append(_Pending(seq, checkpoint, error))

    def _placement(self, checkpoint: Checkpoint, seq: int) -> Break | None:
        def problem(kind: Problem, message: str) -> Break:
            return Break(kind, seq, f"checkpoint at seq {seq}: {message}", checkpoint_seq=seq)

        if checkpoint.chain_id != self.chain_id:
            return problem(Problem.CHECKPOINT_WRONG_CHAIN, "it signs another chain's head")
        if checkpoint.seq != seq:
            return problem(Problem.CHECKPOINT_MISPLACED, f"it signs seq {checkpoint.seq}")
        previous, prev_seq = self._last_signed_checkpoint, checkpoint.prev_seq
        if previous is not None and prev_seq != previous:
            if (prev_seq or 0) > previous:
                return problem(
                    Problem.CHECKPOINT_MISSING,
                    f"the checkpoint at seq {prev_seq} it follows is missing",
                )
            return problem(Problem.CHECKPOINT_MISPLACED, f"it overlaps checkpoint {previous}")
        if previous is None and prev_seq is not None and prev_seq > self._start:
            return problem(
                Problem.CHECKPOINT_MISSING,
                f"the checkpoint at seq {prev_seq} it follows is missing",
            )
        self._last_signed_checkpoint = checkpoint.seq
        return None

    def _count_checkpoint(self, seq: int) -> None:
        self.checkpoints_checked += 1
        self._last_checkpoint_seq = seq

    def _close_checkpoint(self, pending: _Pending, row_hash: str) -> None:
        checkpoint = pending.checkpoint
        if pending.error is not None or checkpoint is None:
            self._fail(pending.error or Break(Problem.CHECKPOINT_UNREADABLE, pending.seq, ""))
            return
        seq = checkpoint.seq
        if checkpoint.row_hash != row_hash:
            self._fail(
                Break(
                    Problem.CHECKPOINT_HEAD_MISMATCH,
                    seq,
                    f"checkpoint at seq {seq} signed another head: rows "
                    f"{checkpoint.first_seq}..{seq} were rewritten after signing",
                    checkpoint_seq=seq,
                )
            )
            return
        if self._builder_start == checkpoint.first_seq:
            if self._builder.root().hex() != checkpoint.root:
                self._fail(
                    Break(
                        Problem.CHECKPOINT_ROOT_MISMATCH,
                        seq,
                        f"checkpoint at seq {seq}: the Merkle root of rows "
                        f"{checkpoint.first_seq}..{seq} is not the signed one",
                        checkpoint_seq=seq,
                    )
                )
                return
        else:
            self._roots_unchecked += 1  # its batch starts before the oldest row kept
        self._count_checkpoint(seq)
        self._builder = MerkleBuilder()
        self._builder_start = None

    # --- rows -----------------------------------------------------------------------------

    def add_row(self, row: SealedEntry) -> bool:
        """Feed the next row (seq order); False once no further row is needed."""
        if self._broken is not None:
            return False
        if self._suspect is not None:
            self._look(row)
            return self._broken is None
        seq = row.seq
        if type(seq) is not int or seq < 1:
            message = "a row has no positive integer seq"
            self._fail(Break(Problem.ROW_UNREADABLE, self._expected, message))
            return False
        if seq <= self._start:
            return True  # before the anchor: retention's, not ours
        expected = self._expected
        if seq < expected:
            self._fail(Break(Problem.ROW_DUPLICATE, seq, f"seq {seq} appears twice (or backwards)"))
            return False
        if seq > expected:
            if not self.rows_checked:
                if not self._start_after_cut(seq, row):
                    return False
            elif not self._ragged_gap(seq, row):
                missing = (
                    f"rows {expected}..{seq - 1} are"
                    if seq - 1 > expected
                    else f"row {expected} is"
                )
                self._fail(Break(Problem.ROW_MISSING, expected, f"{missing} missing (deleted)"))
                return False
        prev_hash = row.prev_hash
        try:
            if type(row.row_hash) is not str:
                raise UnhashableRow("row_hash must be a string")
            computed = entry_hash(row, seq, prev_hash)
        except UnhashableRow as exc:
            self._fail(Break(Problem.ROW_UNREADABLE, seq, f"row {seq} cannot be hashed: {exc}"))
            return False
        hash_ok = computed == row.row_hash
        link_ok = self._prev_hash is None or prev_hash == self._prev_hash
        if hash_ok and link_ok:
            self._accept(row.row_hash, prev_hash, seq)
        else:
            self._suspect_row(row, seq, hash_ok, link_ok)
        return self._broken is None

    def _start_after_cut(self, seq: int, row: SealedEntry) -> bool:
        """The oldest kept row is past the expected start: a retention cut. False if broken."""
        self._cut = RetentionCut(self._expected, seq - 1, seq)
        moment = row.timestamp
        if isinstance(moment, datetime) and moment.utcoffset() is not None:
            self._ragged_until = moment + self._ragged_window
        return self._restart_at(seq)

    def _ragged_gap(self, seq: int, row: SealedEntry) -> bool:
        """A gap just after the oldest kept row, within the ragged window: part of the cut.

        A cut by timestamp (`DELETE ... WHERE timestamp < ...`) is a prefix in time, and
        seq order follows commit order, so near its edge a few rows sealed later than a
        kept row may be older than it, and gone with the cut.
        """
        cut, until, moment = self._cut, self._ragged_until, row.timestamp
        if cut is None or until is None or not isinstance(moment, datetime):
            return False
        if moment.utcoffset() is None or moment > until:
            return False
        self._cut = replace(cut, ragged_missing=cut.ragged_missing + seq - self._expected)
        self._builder_start = -1  # this batch lost rows: its root cannot be recomputed
        return self._restart_at(seq)

    def _restart_at(self, seq: int) -> bool:
        """Continue at `seq` after missing rows; checkpoints for those rows: signature only."""
        self._prev_hash = None  # the predecessor is gone: nothing to link to
        self._expected = seq
        pending = self._pending
        while pending and pending[0].seq < seq:
            cut = pending.popleft()
            if cut.error is not None:
                self._fail(cut.error)
                return False
            self._count_checkpoint(cut.seq)
        return True

    def _accept(self, row_hash: str, prev_hash: str, seq: int) -> None:
        if self._builder_start is None:
            self._builder_start = seq
        self._builder.add(bytes.fromhex(row_hash))
        self.rows_checked += 1
        if self._first_seq is None:
            self._first_seq = seq
        self._last_seq = seq
        self._prev_hash = row_hash
        self._expected = seq + 1
        pending = self._pending
        if pending and pending[0].seq == seq:
            self._close_checkpoint(pending.popleft(), row_hash)
            if pending and pending[0].seq <= seq:
                # A second checkpoint filed at the same seq (refused when it was fed).
                stale = pending.popleft()
                self._fail(stale.error or Break(Problem.CHECKPOINT_MISPLACED, stale.seq, ""))

    def _suspect_row(self, row: SealedEntry, seq: int, hash_ok: bool, link_ok: bool) -> None:
        outcome = first_failure(
            row,
            hash_ok=hash_ok,
            link_ok=link_ok,
            expected_prev=self._prev_hash,
            first_in_window=not self.rows_checked,
            anchor_seq=self._anchor.last_seq if self._anchor is not None else None,
        )
        if isinstance(outcome, Break):
            self._fail(outcome)
        else:
            self._suspect = outcome

    def _look(self, row: SealedEntry) -> None:
        suspect = self._suspect
        if suspect is None:
            return
        verdict = suspect.look(row)
        if verdict is None and suspect.looked >= self._diagnose_rows:
            verdict = suspect.default
        if verdict is not None:
            self._suspect = None
            self._fail(verdict)

    def _fail(self, problem: Break) -> None:
        if self._broken is None:
            self._broken = problem

    # --- the end --------------------------------------------------------------------------

    def _check_tail(self) -> None:
        pending = self._pending
        last = self._last_seq
        end = last if last is not None else self._start
        if pending:
            first = pending[0]
            if first.error is not None:
                self._fail(first.error)
                return
            newest = pending[-1].checkpoint
            if (
                last is None
                and self._horizon is not None
                and all(p.error is None for p in pending)
                and newest is not None
                and newest.time < self._horizon
            ):
                # Every row is gone, and so is everything the checkpoints name, all older
                # than the retention horizon: a cut of the whole chain.
                self._cut = RetentionCut(self._start + 1, newest.seq, None)
                for p in pending:
                    self._count_checkpoint(p.seq)
                pending.clear()
                return
            self._fail(
                Break(
                    Problem.TAIL_TRUNCATED,
                    end + 1,
                    f"checkpoint at seq {first.seq} signs rows up to {first.seq}, "
                    f"but the chain ends at {end or 'no row'}",
                    checkpoint_seq=first.seq,
                )
            )
            return
        head = self._head
        if head is None:
            return
        if head.seq > end:
            self._fail(
                Break(
                    Problem.TAIL_TRUNCATED,
                    end + 1,
                    f"the chain head records seq {head.seq}, but the chain ends at {end or 'no row'}",
                )
            )
        elif last is not None and head.seq < last:
            self._fail(
                Break(
                    Problem.HEAD_MISMATCH,
                    head.seq + 1,
                    f"rows {head.seq + 1}..{last} lie beyond the recorded chain head",
                )
            )
        elif last is not None and head.row_hash != self._prev_hash:
            self._fail(Break(Problem.HEAD_MISMATCH, last, f"the recorded head is not row {last}"))

    def finish(self, *, complete: bool = True) -> ChainReport:
        """The report; `complete=False` when the caller stopped feeding early (bounded run)."""
        if self._suspect is not None:
            verdict = self._suspect.default
            self._suspect = None
            self._fail(verdict)
        if self._broken is None and complete:
            self._check_tail()
        last_cp = self._last_checkpoint_seq
        unattested = 0
        if self._broken is None and self._last_seq is not None:
            unattested = self._last_seq - max(last_cp or 0, (self._first_seq or 1) - 1)
        return ChainReport(
            chain_id=self.chain_id,
            rows_checked=self.rows_checked,
            checkpoints_checked=self.checkpoints_checked,
            first_seq=self._first_seq,
            last_seq=self._last_seq,
            last_checkpoint_seq=last_cp,
            unattested_rows=unattested,
            roots_unchecked=self._roots_unchecked,
            anchor_seq=self._anchor.last_seq if self._anchor is not None else None,
            broken=self._broken,
            retention_cut=self._cut,
            complete=complete,
        )


def verify_chain(
    chain_id: str,
    rows: Iterable[SealedEntry],
    checkpoints: Iterable[StoredCheckpoint],
    keys: KeySet,
    *,
    anchor: ChainAnchor | None = None,
    expected_head: ChainHead | None = None,
    retention_horizon: datetime | None = None,
    ragged_window: timedelta = RAGGED_WINDOW,
) -> ChainReport:
    """Verify a chain from two seq-ordered iterables (consumed lazily, memory flat)."""
    verifier = ChainVerifier(
        chain_id,
        keys,
        anchor=anchor,
        expected_head=expected_head,
        retention_horizon=retention_horizon,
        ragged_window=ragged_window,
    )
    pending = iter(checkpoints)
    upcoming = next(pending, None)
    for row in rows:
        seq = row.seq
        while upcoming is not None and (
            type(seq) is not int or type(upcoming.seq) is not int or upcoming.seq <= seq
        ):
            verifier.add_checkpoint(upcoming)
            upcoming = next(pending, None)
        if not verifier.add_row(row):
            break
    else:
        while upcoming is not None:
            verifier.add_checkpoint(upcoming)
            upcoming = next(pending, None)
    return verifier.finish()
