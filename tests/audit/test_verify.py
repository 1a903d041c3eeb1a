"""The chain verifier: every kind of tampering is found at the right position."""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.chain import AuditRow, ChainHead, entry_hash, seal_entries
from app.audit.checkpoint import Checkpoint, build_checkpoint, sign_checkpoint
from app.audit.report import ChainStatus, Problem
from app.audit.verify import ChainAnchor, ChainVerifier, StoredCheckpoint, verify_chain
from app.signing import Keyring, generate_signing_key
from tests.audit.chains import START, Chain, entry, make_chain

ROWS = 64  # checkpoints every 8 rows: at 8, 16, ..., 64


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring.of(generate_signing_key())


@pytest.fixture
def chain(keyring: Keyring) -> Chain:
    return make_chain(ROWS, checkpoint_every=8, keyring=keyring)


def run(chain: Chain, rows=None, checkpoints=None, **options):
    return verify_chain(
        chain.chain_id,
        chain.rows if rows is None else rows,
        chain.checkpoints if checkpoints is None else checkpoints,
        chain.keyset,
        **options,
    )


def broken_at(report, problem: Problem, seq: int) -> None:
    assert report.broken is not None, report.summary()
    assert (report.broken.problem, report.broken.seq) == (problem, seq), report.broken
    assert report.status is ChainStatus.BROKEN


def rehash_from(rows: list[AuditRow], index: int) -> list[AuditRow]:
    """What an attacker without the vault key can do: recompute every hash from `index` on."""
    out = list(rows[:index])
    prev = rows[index - 1].row_hash if index else None
    for row in rows[index:]:
        link = prev if prev is not None else row.prev_hash
        fixed = row._replace(prev_hash=link)
        fixed = fixed._replace(row_hash=entry_hash(fixed, fixed.seq, link))
        out.append(fixed)
        prev = fixed.row_hash
    return out


# --- intact --------------------------------------------------------------------------------


def test_an_intact_chain_verifies(chain: Chain) -> None:
    report = run(chain, expected_head=chain.head)
    assert report.ok, report.summary()
    assert report.status is ChainStatus.INTACT
    assert (report.rows_checked, report.checkpoints_checked) == (ROWS, 8)
    assert (report.first_seq, report.last_seq, report.last_checkpoint_seq) == (1, ROWS, ROWS)
    assert report.unattested_rows == 0
    assert report.roots_unchecked == 0
    assert report.to_json()["status"] == "intact"


def test_rows_after_the_last_checkpoint_are_counted_as_unattested(keyring: Keyring) -> None:
    chain = make_chain(68, checkpoint_every=8, keyring=keyring)
    report = run(chain)
    assert report.ok
    assert report.unattested_rows == 4
    assert "4 newest rows not yet under a checkpoint" in report.summary()


def test_a_chain_without_checkpoints_still_checks_every_link(keyring: Keyring) -> None:
    chain = make_chain(20, checkpoint_every=None, keyring=keyring)
    assert run(chain).ok
    rows = list(chain.rows)
    rows[7] = rows[7]._replace(outcome="FORGED")
    broken_at(run(chain, rows), Problem.ROW_EDITED, 8)


# --- rows ----------------------------------------------------------------------------------

EDITS = {
    "action": "mandate.purged",
    "actor_id": "someone-else",
    "actor_type": "system",
    "actor_role": "admin",
    "resource_id": "m-999",
    "resource_type": "issuer",
    "outcome": "SIG_INVALID",
    "request_id": None,
    "ip_address": "198.51.100.1",
    "details": {"n": 20, "status": "revoked", "labels": {"team": "travel"}},
    "timestamp": START + timedelta(days=1),
}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_one_edited_field_is_found_at_its_row(chain: Chain, field: str) -> None:
    rows = list(chain.rows)
    rows[20] = rows[20]._replace(**{field: EDITS[field]})
    report = run(chain, rows)
    broken_at(report, Problem.ROW_EDITED, 21)
    assert report.rows_checked == 20


def test_an_edited_row_with_a_recomputed_hash_is_found_by_its_successor(chain: Chain) -> None:
    rows = list(chain.rows)
    edited = rows[20]._replace(action="mandate.purged")
    rows[20] = edited._replace(row_hash=entry_hash(edited, 21, edited.prev_hash))
    broken_at(run(chain, rows), Problem.ROW_REWRITTEN, 21)


def test_rewriting_everything_after_an_edit_is_found_by_the_checkpoint(chain: Chain) -> None:
    rows = list(chain.rows)
    rows[20] = rows[20]._replace(details={"n": 20, "status": "revoked"})
    report = run(chain, rehash_from(rows, 20))
    broken_at(report, Problem.CHECKPOINT_HEAD_MISMATCH, 24)
    assert report.broken is not None
    assert report.broken.checkpoint_seq == 24
    assert "rows 17..24" in report.broken.message


def test_a_deleted_middle_row_is_a_gap_at_its_seq(chain: Chain) -> None:
    rows = [r for r in chain.rows if r.seq != 30]
    report = run(chain, rows)
    broken_at(report, Problem.ROW_MISSING, 30)
    assert "row 30 is missing" in report.broken.message  # type: ignore[union-attr]
    rows = [r for r in chain.rows if not 30 <= r.seq <= 33]
    report = run(chain, rows)
    broken_at(report, Problem.ROW_MISSING, 30)
    assert "rows 30..33" in report.broken.message  # type: ignore[union-attr]


def test_a_deleted_row_with_its_successors_renumbered_is_found(chain: Chain) -> None:
    rows = [r for r in chain.rows if r.seq != 30]
    rows = [r._replace(seq=r.seq - 1) if r.seq > 30 else r for r in rows]
    broken_at(run(chain, rows), Problem.ROW_MISSING, 30)


def test_deleting_the_newest_rows_is_found_against_the_last_checkpoint(chain: Chain) -> None:
    report = run(chain, chain.rows[:50])
    broken_at(report, Problem.TAIL_TRUNCATED, 51)
    assert report.broken.checkpoint_seq == 56  # type: ignore[union-attr]
    assert "chain ends at 50" in report.broken.message  # type: ignore[union-attr]


def test_deleting_rows_past_the_last_checkpoint_needs_the_recorded_head(keyring: Keyring) -> None:
    chain = make_chain(68, checkpoint_every=8, keyring=keyring)
    assert run(chain, chain.rows[:64]).ok  # nothing signed names rows 65..68 yet
    broken_at(run(chain, chain.rows[:64], expected_head=chain.head), Problem.TAIL_TRUNCATED, 65)


@pytest.mark.parametrize(("first", "second"), [(20, 45), (20, 21), (3, 64)])
def test_two_rows_with_swapped_contents_are_named(chain: Chain, first: int, second: int) -> None:
    rows = list(chain.rows)
    a, b = rows[first - 1], rows[second - 1]
    links = ("seq", "prev_hash", "row_hash")
    rows[first - 1] = b._replace(**{k: getattr(a, k) for k in links})
    rows[second - 1] = a._replace(**{k: getattr(b, k) for k in links})
    report = run(chain, rows)
    broken_at(report, Problem.ROWS_SWAPPED, first)
    assert report.broken.other_seq == second  # type: ignore[union-attr]


def test_two_rows_swapped_with_their_hashes_are_named(chain: Chain) -> None:
    rows = list(chain.rows)
    a, b = rows[19], rows[44]
    rows[19], rows[44] = b._replace(seq=20), a._replace(seq=45)
    report = run(chain, rows)
    broken_at(report, Problem.ROWS_SWAPPED, 20)
    assert report.broken.other_seq == 45  # type: ignore[union-attr]


def _forged(chain: Chain, seq: int) -> AuditRow:
    return entry(chain.chain_id, 9999, action="mandate.created", resource_id="m-forged")._replace(
        seq=seq
    )


def test_a_forged_row_inserted_with_the_rest_renumbered_is_named(chain: Chain) -> None:
    rows = list(chain.rows)
    forged = _forged(chain, 25)._replace(prev_hash=rows[23].row_hash, row_hash="00" * 32)
    tampered = [*rows[:24], forged, *(r._replace(seq=r.seq + 1) for r in rows[24:])]
    broken_at(run(chain, tampered), Problem.ROW_INSERTED, 25)


def test_a_well_forged_row_inserted_with_the_rest_renumbered_is_named(chain: Chain) -> None:
    rows = list(chain.rows)
    forged = _forged(chain, 25)._replace(prev_hash=rows[23].row_hash)
    forged = forged._replace(row_hash=entry_hash(forged, 25, forged.prev_hash))
    tampered = [*rows[:24], forged, *(r._replace(seq=r.seq + 1) for r in rows[24:])]
    broken_at(run(chain, tampered), Problem.ROW_INSERTED, 25)


@pytest.mark.parametrize("forged_first", [False, True])
def test_a_forged_row_sharing_a_seq_is_a_duplicate(chain: Chain, forged_first: bool) -> None:
    rows = list(chain.rows)
    forged = _forged(chain, 25)._replace(prev_hash=rows[23].row_hash, row_hash="11" * 32)
    pair = [forged, rows[24]] if forged_first else [rows[24], forged]
    broken_at(run(chain, [*rows[:24], *pair, *rows[25:]]), Problem.ROW_DUPLICATE, 25)


def test_a_forged_row_appended_after_the_head(chain: Chain) -> None:
    garbage = _forged(chain, 65)._replace(prev_hash=chain.rows[-1].row_hash, row_hash="22" * 32)
    broken_at(run(chain, [*chain.rows, garbage]), Problem.ROW_EDITED, 65)
    clean = garbage._replace(row_hash=entry_hash(garbage, 65, garbage.prev_hash))
    # A correctly hashed append is only visible against the recorded head (or the next checkpoint).
    assert run(chain, [*chain.rows, clean]).ok
    broken_at(run(chain, [*chain.rows, clean], expected_head=chain.head), Problem.HEAD_MISMATCH, 65)


def test_a_first_row_that_does_not_start_from_the_genesis(chain: Chain) -> None:
    rows = list(chain.rows)
    moved = rows[0]._replace(prev_hash="33" * 32)
    rows[0] = moved._replace(row_hash=entry_hash(moved, 1, moved.prev_hash))
    broken_at(run(chain, rows, checkpoints=[]), Problem.CHAIN_START_MISMATCH, 1)


def test_rows_of_another_chain_do_not_verify_here(chain: Chain, keyring: Keyring) -> None:
    other = make_chain(16, checkpoint_every=8, keyring=keyring)
    relabelled = [r._replace(chain_id=chain.chain_id) for r in other.rows]
    broken_at(run(chain, relabelled, checkpoints=[]), Problem.ROW_EDITED, 1)


def test_unreadable_rows(chain: Chain) -> None:
    rows = list(chain.rows)
    rows[4] = rows[4]._replace(details={"x": float("nan")})
    broken_at(run(chain, rows), Problem.ROW_UNREADABLE, 5)
    rows = list(chain.rows)
    rows[4] = rows[4]._replace(seq="5")  # type: ignore[arg-type]
    broken_at(run(chain, rows), Problem.ROW_UNREADABLE, 5)


# --- checkpoints ---------------------------------------------------------------------------


def _replace_checkpoint(chain: Chain, seq: int, jws: str) -> list[StoredCheckpoint]:
    return [StoredCheckpoint(c.seq, jws) if c.seq == seq else c for c in chain.checkpoints]


def _checkpoint(chain: Chain, end: int) -> Checkpoint:
    batch = [r.row_hash for r in chain.rows[end - 8 : end]]
    return build_checkpoint(chain.chain_id, end - 7, batch, START)


def test_a_checkpoint_signed_by_another_key_is_unknown(chain: Chain) -> None:
    stranger = Keyring.of(generate_signing_key())
    jws = sign_checkpoint(_checkpoint(chain, 32), stranger)
    broken_at(
        run(chain, checkpoints=_replace_checkpoint(chain, 32, jws)),
        Problem.CHECKPOINT_UNKNOWN_KEY,
        32,
    )


def test_an_edited_checkpoint_fails_its_signature(chain: Chain) -> None:
    jws = chain.checkpoints[3].jws
    head, payload, signature = jws.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    report = run(chain, checkpoints=_replace_checkpoint(chain, 32, f"{head}.{flipped}.{signature}"))
    assert report.broken is not None
    assert report.broken.seq == 32
    assert report.broken.problem in {
        Problem.CHECKPOINT_BAD_SIGNATURE,
        Problem.CHECKPOINT_UNREADABLE,
    }
    report = run(chain, checkpoints=_replace_checkpoint(chain, 32, "garbage"))
    broken_at(report, Problem.CHECKPOINT_UNREADABLE, 32)


def test_a_checkpoint_moved_from_another_place_or_chain(chain: Chain, keyring: Keyring) -> None:
    moved = _replace_checkpoint(chain, 32, chain.checkpoints[2].jws)  # the one signed for 24
    broken_at(run(chain, checkpoints=moved), Problem.CHECKPOINT_MISPLACED, 32)
    other = make_chain(32, checkpoint_every=8, keyring=keyring)
    foreign = _replace_checkpoint(chain, 32, other.checkpoints[3].jws)
    broken_at(run(chain, checkpoints=foreign), Problem.CHECKPOINT_WRONG_CHAIN, 32)


def test_a_validly_signed_checkpoint_with_another_root(chain: Chain) -> None:
    honest = _checkpoint(chain, 32)
    lying = Checkpoint(honest.chain_id, 32, honest.row_hash, 25, "44" * 32, honest.time)
    jws = sign_checkpoint(lying, chain.keyring)
    broken_at(
        run(chain, checkpoints=_replace_checkpoint(chain, 32, jws)),
        Problem.CHECKPOINT_ROOT_MISMATCH,
        32,
    )


def test_a_deleted_checkpoint_is_missing_at_the_next_one(chain: Chain) -> None:
    without = [c for c in chain.checkpoints if c.seq != 32]
    report = run(chain, checkpoints=without)
    broken_at(report, Problem.CHECKPOINT_MISSING, 40)
    assert "seq 32" in report.broken.message  # type: ignore[union-attr]


def test_the_first_broken_position_wins(chain: Chain) -> None:
    rows = list(chain.rows)
    rows[9] = rows[9]._replace(action="mandate.purged")
    bad_checkpoint = _replace_checkpoint(chain, 32, "garbage")
    broken_at(run(chain, rows, bad_checkpoint), Problem.ROW_EDITED, 10)
    rows = list(chain.rows)
    rows[39] = rows[39]._replace(action="mandate.purged")
    early_checkpoint = _replace_checkpoint(chain, 16, "garbage")
    broken_at(run(chain, rows, early_checkpoint), Problem.CHECKPOINT_UNREADABLE, 16)


# --- retention -----------------------------------------------------------------------------


def test_a_prefix_cut_without_an_anchor_is_a_warning_with_its_extent(chain: Chain) -> None:
    report = run(chain, chain.rows[20:])
    assert report.ok, report.summary()
    assert report.status is ChainStatus.RETENTION_CUT
    cut = report.retention_cut
    assert cut is not None
    assert (cut.first_missing_seq, cut.last_missing_seq, cut.rows_missing) == (1, 20, 20)
    assert cut.oldest_kept_seq == 21
    assert report.rows_checked == ROWS - 20
    assert report.checkpoints_checked == 8  # 8 and 16 by signature only
    assert report.roots_unchecked == 1  # the batch 17..24 lost its first rows
    assert "retention cut of 20 oldest rows" in report.summary()


def test_a_prefix_cut_on_a_batch_boundary_leaves_every_root_checked(chain: Chain) -> None:
    report = run(chain, chain.rows[16:])
    assert report.ok
    assert report.roots_unchecked == 0


def test_a_cut_is_no_cover_for_a_later_gap(chain: Chain) -> None:
    # Rows are a second apart: row 40 is 19 s younger than the oldest kept row 21.
    rows = [r for r in chain.rows[20:] if r.seq != 40]
    broken_at(run(chain, rows, ragged_window=timedelta(seconds=10)), Problem.ROW_MISSING, 40)


def test_a_cut_by_timestamp_may_leave_a_ragged_edge(keyring: Keyring) -> None:
    # Row 23 was written (timestamped) before row 22 but committed, so sealed, after it:
    # `DELETE ... WHERE timestamp < cutoff` takes 1..21 and 23, and keeps 22.
    chain_id = str(uuid.uuid4())
    entries = [entry(chain_id, i) for i in range(40)]
    entries[22] = entries[22]._replace(timestamp=entries[20].timestamp + timedelta(microseconds=5))
    cutoff = entries[21].timestamp
    from tests.audit.chains import seal

    rows, _head = seal(entries, ChainHead.genesis(chain_id))
    kept = [r for r in rows if r.timestamp >= cutoff]
    assert [r.seq for r in kept][:3] == [22, 24, 25]
    report = verify_chain(chain_id, kept, [], keyring.keyset())
    assert report.ok, report.summary()
    cut = report.retention_cut
    assert cut is not None
    assert (cut.last_missing_seq, cut.oldest_kept_seq, cut.ragged_missing) == (21, 22, 1)
    assert cut.rows_missing == 22
    assert "1 at its ragged edge" in report.summary()
    # The same gap far from the edge is tampering.
    strict = verify_chain(chain_id, kept, [], keyring.keyset(), ragged_window=timedelta(0))
    broken_at(strict, Problem.ROW_MISSING, 23)


def test_verification_starts_at_the_anchor(chain: Chain) -> None:
    anchor = ChainAnchor(20, chain.rows[19].row_hash)
    report = run(chain, chain.rows[20:], anchor=anchor)
    assert report.ok
    assert report.status is ChainStatus.INTACT
    assert report.anchor_seq == 20
    # Rows the anchor says were removed but are still there are not re-verified.
    assert run(chain, chain.rows, anchor=anchor).rows_checked == ROWS - 20


def test_an_anchor_the_first_kept_row_does_not_follow(chain: Chain) -> None:
    anchor = ChainAnchor(20, "55" * 32)
    broken_at(run(chain, chain.rows[20:], anchor=anchor), Problem.ANCHOR_MISMATCH, 21)


def test_a_raw_sql_cut_after_an_anchored_one(chain: Chain) -> None:
    anchor = ChainAnchor(20, chain.rows[19].row_hash)
    report = run(chain, chain.rows[25:], anchor=anchor)
    assert report.ok
    assert report.retention_cut is not None
    assert (report.retention_cut.first_missing_seq, report.retention_cut.oldest_kept_seq) == (
        21,
        26,
    )


def test_every_row_gone_is_truncation_unless_older_than_the_horizon(chain: Chain) -> None:
    broken_at(run(chain, []), Problem.TAIL_TRUNCATED, 1)
    newest = START + timedelta(seconds=ROWS)  # the chains helper stamps checkpoints so
    later = run(chain, [], retention_horizon=newest + timedelta(days=1))
    assert later.ok
    assert later.retention_cut is not None
    assert (later.retention_cut.rows_missing, later.retention_cut.oldest_kept_seq) == (ROWS, None)
    broken_at(
        run(chain, [], retention_horizon=newest - timedelta(seconds=1)), Problem.TAIL_TRUNCATED, 1
    )


# --- the push interface --------------------------------------------------------------------


def test_push_interface_with_checkpoints_fed_just_in_time(chain: Chain) -> None:
    verifier = ChainVerifier(chain.chain_id, chain.keyset)
    checkpoints = {c.seq: c for c in chain.checkpoints}
    for row in chain.rows:
        if row.seq in checkpoints:
            verifier.add_checkpoint(checkpoints[row.seq])
        assert verifier.add_row(row)
    report = verifier.finish()
    assert report.ok
    assert report.checkpoints_checked == 8
    assert report.roots_unchecked == 0


def test_a_bounded_run_reports_what_it_saw(chain: Chain) -> None:
    verifier = ChainVerifier(chain.chain_id, chain.keyset)
    for checkpoint in chain.checkpoints:
        verifier.add_checkpoint(checkpoint)
    for row in chain.rows[:30]:
        verifier.add_row(row)
    partial = verifier.finish(complete=False)
    assert partial.ok
    assert not partial.complete
    assert partial.rows_checked == 30
    assert "stopped early" in partial.summary()


def test_feeding_a_checkpoint_after_its_row_is_a_caller_error(chain: Chain) -> None:
    verifier = ChainVerifier(chain.chain_id, chain.keyset)
    for row in chain.rows[:10]:
        verifier.add_row(row)
    with pytest.raises(ValueError, match="feed checkpoints first"):
        verifier.add_checkpoint(chain.checkpoints[0])


def test_a_broken_verifier_wants_no_more_rows(chain: Chain) -> None:
    verifier = ChainVerifier(chain.chain_id, chain.keyset)
    rows = list(chain.rows)
    rows[2] = rows[2]._replace(seq=2)
    verifier.add_row(rows[0])
    verifier.add_row(rows[1])
    assert not verifier.add_row(rows[2])
    assert verifier.done
    assert not verifier.add_row(rows[3])


def test_recorded_head_with_another_hash(chain: Chain) -> None:
    wrong = ChainHead(chain.chain_id, ROWS, "66" * 32)
    broken_at(run(chain, expected_head=wrong), Problem.HEAD_MISMATCH, ROWS)


# --- properties ----------------------------------------------------------------------------

_PROPERTY_CHAIN = make_chain(24, checkpoint_every=8)
_FIELDS = [*sorted(EDITS), "prev_hash", "row_hash", "chain_id"]


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, 23),
    field=st.sampled_from(_FIELDS),
    value=st.one_of(
        st.none(),
        st.text(max_size=20),
        st.integers(-1000, 1000),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    ),
)
def test_no_single_edit_ever_verifies(index: int, field: str, value: object) -> None:
    chain = _PROPERTY_CHAIN
    row = chain.rows[index]
    if field == "timestamp":
        value = START + timedelta(microseconds=hash(str(value)) % 10**9 + 1)
    if field in ("prev_hash", "row_hash") and isinstance(value, str):
        value = (value.encode().hex() + "0" * 64)[:64]
    if getattr(row, field) == value or (field == "details" and value == row.details):
        return
    rows = list(chain.rows)
    rows[index] = row._replace(**{field: value})
    report = verify_chain(chain.chain_id, rows, chain.checkpoints, chain.keyset)
    assert not report.ok
    assert report.broken is not None
    assert abs(report.broken.seq - row.seq) <= 1, report.broken


def _streamed(chain_id: str, count: int) -> Iterator[AuditRow]:
    """Rows sealed on the fly: nothing but the generator's state is kept."""
    from tests.audit.chains import seal

    head = ChainHead.genesis(chain_id)
    for i in range(count):
        rows, head = seal([entry(chain_id, i)], head)
        yield rows[0]


def _peak_verifying(count: int, keyring: Keyring) -> int:
    chain_id = str(uuid.uuid4())
    tracemalloc.start()
    try:
        report = verify_chain(chain_id, _streamed(chain_id, count), [], keyring.keyset())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok
    assert report.rows_checked == count
    return peak


def test_memory_stays_flat_whatever_the_chain_length(keyring: Keyring) -> None:
    small = _peak_verifying(1_000, keyring)
    large = _peak_verifying(10_000, keyring)
    assert large < small * 1.5 + 16_384, (small, large)


def test_sealed_batches_and_seal_entries_agree(keyring: Keyring) -> None:
    chain_id = str(uuid.uuid4())
    seals, _ = seal_entries([entry(chain_id, i) for i in range(3)], ChainHead.genesis(chain_id))
    rows = list(_streamed(chain_id, 3))
    assert [r.row_hash for r in rows] == [s.row_hash for s in seals]


def test_checkpoints_out_of_order_are_misplaced_not_a_crash(chain: Chain) -> None:
    swapped = [chain.checkpoints[1], chain.checkpoints[0], *chain.checkpoints[2:]]
    broken_at(run(chain, checkpoints=swapped), Problem.CHECKPOINT_MISPLACED, 8)
    doubled = [chain.checkpoints[0], chain.checkpoints[0], *chain.checkpoints[1:]]
    broken_at(run(chain, checkpoints=doubled), Problem.CHECKPOINT_MISPLACED, 8)


def test_rows_with_a_seq_below_one_are_unreadable(chain: Chain) -> None:
    rows = list(chain.rows)
    rows[0] = rows[0]._replace(seq=0)
    broken_at(run(chain, rows), Problem.ROW_UNREADABLE, 1)


hostile = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.floats(),
)


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, 23),
    values=st.dictionaries(st.sampled_from([*_FIELDS, "seq"]), hostile, min_size=1, max_size=4),
)
def test_hostile_row_values_never_raise(index: int, values: dict[str, object]) -> None:
    chain = _PROPERTY_CHAIN
    rows = list(chain.rows)
    rows[index] = rows[index]._replace(**values)
    report = verify_chain(chain.chain_id, rows, chain.checkpoints, chain.keyset)
    report.to_json()
    report.summary()
    if any(getattr(chain.rows[index], k) != v for k, v in values.items()):
        assert not report.ok
