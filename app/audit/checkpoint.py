"""Signed checkpoints: the vault key's statement of a chain's head at a moment.

A checkpoint covers the rows sealed since the previous one (seq `first_seq`
to `seq`) and signs, as a compact JWS (typ CHECKPOINT_TYP) over the RFC 8785
JSON of

    {"v": 1, "chain": ..., "seq": head seq, "row_hash": head row_hash,
     "first_seq": ..., "prev_seq": previous checkpoint's seq or null,
     "root": Merkle root (RFC 6962) over the batch's row hashes, "time": ...}

The head row_hash commits to the whole chain before it; the root lets an
evidence pack prove one row with log2(batch) hashes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from app.audit.canonical import canonical_json
from app.audit.chain import MAX_SEQ, format_time
from app.audit.merkle import MerkleBuilder
from app.signing import JwsErrorCode, JwsInvalid, Keyring, KeySet, verify_jws

CHECKPOINT_TYP = "audit-checkpoint+jws"
CHECKPOINT_VERSION = 1
MAX_CHECKPOINT_BYTES = 4096
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_MEMBERS = frozenset({"v", "chain", "seq", "row_hash", "first_seq", "prev_seq", "root", "time"})


class CheckpointErrorCode(StrEnum):
    UNREADABLE = "unreadable"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"


class CheckpointInvalid(ValueError):
    """A stored checkpoint that does not verify or does not parse."""

    def __init__(self, code: CheckpointErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What one checkpoint states; `time` is in the records' textual form."""

    chain_id: str
    seq: int
    row_hash: str
    first_seq: int
    root: str
    time: str

    @property
    def prev_seq(self) -> int | None:
        """The previous checkpoint's seq: the batch starts right after it."""
        return self.first_seq - 1 if self.first_seq > 1 else None

    @property
    def size(self) -> int:
        """Rows in the batch (the Merkle tree's leaves)."""
        return self.seq - self.first_seq + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "v": CHECKPOINT_VERSION,
            "chain": self.chain_id,
            "seq": self.seq,
            "row_hash": self.row_hash,
            "first_seq": self.first_seq,
            "prev_seq": self.prev_seq,
            "root": self.root,
            "time": self.time,
        }

    def payload(self) -> bytes:
        """The exact bytes a checkpoint JWS signs."""
        return canonical_json(self.to_json())


def batch_root(row_hashes: Sequence[str]) -> str:
    """hex Merkle root over hex row hashes (each leaf is the 32 raw bytes)."""
    builder = MerkleBuilder()
    for row_hash in row_hashes:
        builder.add(bytes.fromhex(row_hash))
    return builder.root().hex()


def build_checkpoint(
    chain_id: str, first_seq: int, row_hashes: Sequence[str], time: datetime
) -> Checkpoint:
    """The checkpoint over the batch `row_hashes` (seq first_seq, first_seq + 1, ...)."""
    if not row_hashes:
        raise ValueError("a checkpoint covers at least one row")
    if first_seq < 1 or first_seq + len(row_hashes) - 1 > MAX_SEQ:
        raise ValueError("batch seqs outside 1..2**53 - 1")
    for row_hash in row_hashes:
        if not _HEX64.fullmatch(row_hash):
            raise ValueError("row hashes must be 64 lowercase hex characters")
    return Checkpoint(
        chain_id=chain_id,
        seq=first_seq + len(row_hashes) - 1,
        row_hash=row_hashes[-1],
        first_seq=first_seq,
        root=batch_root(row_hashes),
        time=format_time(time),
    )


def sign_checkpoint(checkpoint: Checkpoint, keyring: Keyring) -> str:
    """The checkpoint's compact JWS with the vault's current key."""
    return keyring.sign(checkpoint.payload(), typ=CHECKPOINT_TYP)


def _int(value: Any, low: int) -> int | None:
    return value if type(value) is int and low <= value <= MAX_SEQ else None


def parse_checkpoint_payload(payload: bytes) -> Checkpoint:
    """The checkpoint a (verified) payload states; CheckpointInvalid(UNREADABLE) otherwise."""

    def bad(reason: str) -> CheckpointInvalid:
        return CheckpointInvalid(CheckpointErrorCode.UNREADABLE, f"checkpoint payload {reason}")

    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise bad("is not JSON") from None
    if type(data) is not dict or set(data) != _MEMBERS:
        raise bad("does not have exactly the checkpoint members")
    if data["v"] != CHECKPOINT_VERSION or type(data["v"]) is not int:
        raise bad(f"has an unknown version {data['v']!r}")
    chain, seq, first = data["chain"], _int(data["seq"], 1), _int(data["first_seq"], 1)
    if type(chain) is not str or not 0 < len(chain) <= 64:
        raise bad("has no usable chain id")
    if seq is None or first is None or first > seq:
        raise bad("has seq / first_seq outside 1..2**53 - 1 or out of order")
    prev = data["prev_seq"]
    if not (prev is None or type(prev) is int) or prev != (first - 1 if first > 1 else None):
        raise bad("prev_seq does not end right before first_seq")
    for name in ("row_hash", "root"):
        if type(data[name]) is not str or not _HEX64.fullmatch(data[name]):
            raise bad(f"{name} is not 64 lowercase hex characters")
    if type(data["time"]) is not str or not _TIME.fullmatch(data["time"]):
        raise bad("time is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return Checkpoint(chain, seq, data["row_hash"], first, data["root"], data["time"])


_JWS_CODES = {
    JwsErrorCode.UNKNOWN_KEY: CheckpointErrorCode.UNKNOWN_KEY,
    JwsErrorCode.BAD_SIGNATURE: CheckpointErrorCode.BAD_SIGNATURE,
}


def read_checkpoint(jws: Any, keys: KeySet) -> Checkpoint:
    """Verify a checkpoint JWS against the vault's published keys and parse it.

    Raises CheckpointInvalid: UNKNOWN_KEY (signed by a key that is not published),
    BAD_SIGNATURE, or UNREADABLE (not a checkpoint JWS at all).
    """
    try:
        verified = verify_jws(jws, keys, typ=CHECKPOINT_TYP, max_bytes=MAX_CHECKPOINT_BYTES)
    except JwsInvalid as exc:
        code = _JWS_CODES.get(exc.code, CheckpointErrorCode.UNREADABLE)
        raise CheckpointInvalid(code, f"checkpoint JWS: {exc.message}") from None
    return parse_checkpoint_payload(verified.payload)
