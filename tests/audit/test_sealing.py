"""Sealing rows onto a chain and signing its checkpoints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from app.audit.chain import (
    ChainHead,
    ChainMismatch,
    UnhashableRow,
    entry_hash,
    genesis_hash,
    seal_entries,
)
from app.audit.checkpoint import (
    CHECKPOINT_TYP,
    CheckpointErrorCode,
    CheckpointInvalid,
    batch_root,
    build_checkpoint,
    parse_checkpoint_payload,
    read_checkpoint,
    sign_checkpoint,
)
from app.audit.merkle import merkle_root
from app.signing import Keyring, generate_signing_key
from tests.audit.chains import entry, seal

CHAIN = str(uuid.uuid4())
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_seals_continue_the_head_without_gaps() -> None:
    entries = [entry(CHAIN, i) for i in range(5)]
    seals, head = seal_entries(entries, ChainHead.genesis(CHAIN))
    assert [s.seq for s in seals] == [1, 2, 3, 4, 5]
    assert seals[0].prev_hash == genesis_hash(CHAIN)
    for before, after in zip(seals, seals[1:], strict=False):
        assert after.prev_hash == before.row_hash
    for e, s in zip(entries, seals, strict=True):
        assert entry_hash(e, s.seq, s.prev_hash) == s.row_hash
    assert head == ChainHead(CHAIN, 5, seals[-1].row_hash)


def test_sealing_in_passes_equals_sealing_at_once() -> None:
    entries = [entry(CHAIN, i) for i in range(9)]
    at_once, head = seal_entries(entries, ChainHead.genesis(CHAIN))
    first, middle = seal_entries(entries[:4], ChainHead.genesis(CHAIN))
    second, end = seal_entries(entries[4:], middle)
    assert first + second == at_once
    assert end == head


def test_sealing_refuses_another_chains_row_and_unhashable_rows() -> None:
    with pytest.raises(ChainMismatch):
        seal_entries([entry(str(uuid.uuid4()), 0)], ChainHead.genesis(CHAIN))
    with pytest.raises(UnhashableRow):
        seal_entries([entry(CHAIN, 0, details={"x": float("nan")})], ChainHead.genesis(CHAIN))


def test_the_same_row_on_two_chains_hashes_differently() -> None:
    other = str(uuid.uuid4())
    mine, _ = seal_entries([entry(CHAIN, 0)], ChainHead.genesis(CHAIN))
    theirs, _ = seal_entries([entry(CHAIN, 0)._replace(chain_id=other)], ChainHead.genesis(other))
    assert mine[0].row_hash != theirs[0].row_hash


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring.of(generate_signing_key())


def _batch(n: int = 6):
    rows, _ = seal([entry(CHAIN, i) for i in range(n)], ChainHead.genesis(CHAIN))
    return [r.row_hash for r in rows]


def test_checkpoint_states_head_batch_and_root(keyring: Keyring) -> None:
    hashes = _batch()
    checkpoint = build_checkpoint(CHAIN, 1, hashes, WHEN)
    assert (checkpoint.seq, checkpoint.first_seq, checkpoint.prev_seq) == (6, 1, None)
    assert checkpoint.row_hash == hashes[-1]
    assert checkpoint.root == merkle_root([bytes.fromhex(h) for h in hashes]).hex()
    assert checkpoint.time == "2026-03-01T12:00:00.000000Z"
    later = build_checkpoint(CHAIN, 7, hashes[:3], WHEN)
    assert (later.seq, later.prev_seq, later.size) == (9, 6, 3)
    payload = orjson.loads(checkpoint.payload())
    assert set(payload) == {
        "v",
        "chain",
        "seq",
        "row_hash",
        "first_seq",
        "prev_seq",
        "root",
        "time",
    }


def test_checkpoint_round_trip_through_its_jws(keyring: Keyring) -> None:
    checkpoint = build_checkpoint(CHAIN, 1, _batch(), WHEN)
    jws = sign_checkpoint(checkpoint, keyring)
    assert read_checkpoint(jws, keyring.keyset()) == checkpoint
    # Still readable after the vault key is rotated.
    assert read_checkpoint(jws, keyring.rotated().keyset()) == checkpoint


def test_checkpoint_signed_elsewhere_or_edited_is_refused(keyring: Keyring) -> None:
    checkpoint = build_checkpoint(CHAIN, 1, _batch(), WHEN)
    stranger = Keyring.of(generate_signing_key())
    with pytest.raises(CheckpointInvalid) as caught:
        read_checkpoint(sign_checkpoint(checkpoint, stranger), keyring.keyset())
    assert caught.value.code is CheckpointErrorCode.UNKNOWN_KEY
    head, _payload, signature = sign_checkpoint(checkpoint, keyring).split(".")
    from app.keys import b64url_encode

    forged = b64url_encode(checkpoint.payload().replace(b'"seq":6', b'"seq":7'))
    with pytest.raises(CheckpointInvalid) as caught:
        read_checkpoint(f"{head}.{forged}.{signature}", keyring.keyset())
    assert caught.value.code is CheckpointErrorCode.BAD_SIGNATURE
    # A manifest-typed JWS is not a checkpoint, even if correctly signed.
    other = keyring.sign(checkpoint.payload(), typ="evidence-manifest+jws")
    with pytest.raises(CheckpointInvalid) as caught:
        read_checkpoint(other, keyring.keyset())
    assert caught.value.code is CheckpointErrorCode.UNREADABLE
    assert CHECKPOINT_TYP == "audit-checkpoint+jws"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"v":1}',
        b'{"v":2,"chain":"c","seq":1,"row_hash":"%s","first_seq":1,"prev_seq":null,"root":"%s","time":"2026-03-01T12:00:00.000000Z"}',
        b'{"v":1,"chain":"c","seq":1,"row_hash":"%s","first_seq":2,"prev_seq":1,"root":"%s","time":"2026-03-01T12:00:00.000000Z"}',
        b'{"v":1,"chain":"c","seq":5,"row_hash":"%s","first_seq":3,"prev_seq":1,"root":"%s","time":"2026-03-01T12:00:00.000000Z"}',
        b'{"v":1,"chain":"c","seq":5,"row_hash":"%s","first_seq":3,"prev_seq":2.0,"root":"%s","time":"2026-03-01T12:00:00.000000Z"}',
        b'{"v":1,"chain":"c","seq":true,"row_hash":"%s","first_seq":1,"prev_seq":null,"root":"%s","time":"2026-03-01T12:00:00.000000Z"}',
        b'{"v":1,"chain":"c","seq":1,"row_hash":"ABC","first_seq":1,"prev_seq":null,"root":"%s","time":"2026-03-01T12:00:00.000000Z"}',
        b'{"v":1,"chain":"c","seq":1,"row_hash":"%s","first_seq":1,"prev_seq":null,"root":"%s","time":"yesterday"}',
        b'{"v":1,"chain":"","seq":1,"row_hash":"%s","first_seq":1,"prev_seq":null,"root":"%s","time":"2026-03-01T12:00:00.000000Z"}',
        b'{"v":1,"chain":"c","seq":1,"row_hash":"%s","first_seq":1,"prev_seq":null,"root":"%s","time":"2026-03-01T12:00:00.000000Z","extra":1}',
    ],
)
def test_checkpoint_payloads_outside_the_format_are_unreadable(payload: bytes) -> None:
    payload = payload.replace(b"%s", b"ab" * 32)
    with pytest.raises(CheckpointInvalid) as caught:
        parse_checkpoint_payload(payload)
    assert caught.value.code is CheckpointErrorCode.UNREADABLE


def test_build_checkpoint_checks_its_input() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        build_checkpoint(CHAIN, 1, [], WHEN)
    with pytest.raises(ValueError, match="hex"):
        build_checkpoint(CHAIN, 1, ["XYZ"], WHEN)
    with pytest.raises(ValueError, match="seqs"):
        build_checkpoint(CHAIN, 0, _batch(1), WHEN)
    assert batch_root(_batch(1)) == merkle_root([bytes.fromhex(_batch(1)[0])]).hex()
