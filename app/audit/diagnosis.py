"""What the first failed row of a chain is: an edit, a rewrite, a swap or an insertion.

A row fails when its fields do not give its row_hash, or when its prev_hash
does not name the previous row. Some cases are settled by the row alone (a
row that hashes correctly one seq lower was renumbered after an insertion);
the others by the rows after it, read by a bounded look-ahead (`Suspect`).
"""

from __future__ import annotations

from app.audit.chain import SealedEntry, UnhashableRow, entry_hash
from app.audit.report import Break, Problem


def belongs(row: SealedEntry, seq: int, prev_hash: str, row_hash: str) -> bool:
    """Whether `row`'s fields, sealed at `seq` after `prev_hash`, give `row_hash`."""
    try:
        return entry_hash(row, seq, prev_hash) == row_hash
    except UnhashableRow:
        return False


class Suspect:
    """The first failed row, and what the rows after it say about it."""

    __slots__ = ("candidates", "default", "expected_prev", "kind", "looked", "row", "seq")

    def __init__(self, kind: str, row: SealedEntry, expected_prev: str, default: Break) -> None:
        self.kind = kind  # "link": re-hashed row or forged one; "content": edit, swap, insert
        self.row = row
        self.seq = row.seq
        self.expected_prev = expected_prev
        self.default = default  # the verdict when the look-ahead settles nothing
        # Hashes the row at seq should have: its own stored one, and (once seen) the
        # prev_hash of the row after it.
        self.candidates = {row.row_hash}
        self.looked = 0

    def look(self, other: SealedEntry) -> Break | None:
        """A verdict once `other` (a later row) settles the question, else None."""
        self.looked += 1
        p, q = self.seq, other.seq
        if type(q) is not int:
            return self.default
        if q <= p:
            return Break(Problem.ROW_DUPLICATE, p, f"two rows carry seq {p}; one is forged")
        if self.kind == "link":
            if q == p + 1 and other.prev_hash == self.row.row_hash:
                return Break(
                    Problem.ROW_REWRITTEN,
                    p - 1,
                    f"row {p - 1} was changed and re-hashed: row {p} still names its original hash",
                )
            return Break(
                Problem.ROW_EDITED,
                p,
                f"row {p} was replaced: it links to neither row {p - 1} nor row {p + 1}",
            )
        if q == p + 1 and type(other.prev_hash) is str:
            self.candidates.add(other.prev_hash)
        # Does `other` hold the fields that belong at p?
        try:
            here = entry_hash(other, p, self.expected_prev)
        except UnhashableRow:
            return None
        if here == other.row_hash or here in self.candidates:
            row = self.row
            # ... and do p's fields belong at q (a swap), or nowhere (a forged row at p)?
            if belongs(row, q, other.prev_hash, other.row_hash) or belongs(
                row, q, row.prev_hash, row.row_hash
            ):
                return Break(
                    Problem.ROWS_SWAPPED, p, f"rows {p} and {q} traded contents", other_seq=q
                )
            if q == p + 1:
                return Break(
                    Problem.ROW_INSERTED,
                    p,
                    f"row {p} is forged: the row after it was sealed as {p} and renumbered",
                )
        return None


def first_failure(
    row: SealedEntry,
    *,
    hash_ok: bool,
    link_ok: bool,
    expected_prev: str | None,
    first_in_window: bool,
    anchor_seq: int | None,
) -> Break | Suspect:
    """The verdict on the first failed row, or a Suspect that needs the rows after it.

    `expected_prev` is the hash the row should link to (None after missing rows);
    `first_in_window` says no row was accepted before it.
    """
    seq = row.seq
    prev = expected_prev if expected_prev is not None else row.prev_hash
    if hash_ok:  # and not link_ok: the row is whole but follows something else
        if first_in_window:
            if anchor_seq is not None:
                message = f"row {seq} does not follow the anchor at seq {anchor_seq}"
                return Break(Problem.ANCHOR_MISMATCH, seq, message)
            message = f"row {seq} does not start from this chain's genesis hash"
            return Break(Problem.CHAIN_START_MISMATCH, seq, message)
        default = Break(
            Problem.LINK_BROKEN,
            seq,
            f"row {seq} does not link to row {seq - 1} "
            f"(re-hashed row {seq - 1}, or forged row {seq})",
        )
        return Suspect("link", row, prev, default)
    row_hash, prev_hash = row.row_hash, row.prev_hash
    if seq > 1 and belongs(row, seq - 1, prev_hash, row_hash):
        message = f"row {seq - 1} is forged: the rows after it were renumbered"
        return Break(Problem.ROW_INSERTED, seq - 1, message)
    if belongs(row, seq + 1, prev_hash, row_hash):
        message = f"row {seq} was deleted and the rows after it renumbered"
        return Break(Problem.ROW_MISSING, seq, message)
    message = (
        f"row {seq}'s fields do not give its row_hash (edited)"
        if link_ok
        else f"row {seq} matches neither its row_hash nor row {seq - 1} (edited or forged)"
    )
    return Suspect("content", row, prev, Break(Problem.ROW_EDITED, seq, message))
