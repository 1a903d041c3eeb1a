"""Synthetic sealed chains for the verifier tests: rows, checkpoints, a keyring."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.audit.chain import AuditRow, ChainHead, seal_entries
from app.audit.checkpoint import build_checkpoint, sign_checkpoint
from app.audit.verify import ChainAnchor, StoredCheckpoint
from app.signing import Keyring, generate_signing_key

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ACTIONS = ("mandate.created", "mandate.read", "mandate.verified", "mandate.revoked")


def entry(chain_id: str, index: int, **overrides: Any) -> AuditRow:
    """An unsealed row (seq 0, no hashes) with varied fields."""
    values: dict[str, Any] = {
        "chain_id": chain_id,
        "seq": 0,
        "timestamp": START + timedelta(seconds=index, microseconds=index * 7 % 1_000_000),
        "actor_type": "api_key" if index % 3 else "user",
        "actor_id": f"{index:08d}-0000-4000-8000-000000000000",
        "actor_role": "customer_user",
        "action": ACTIONS[index % len(ACTIONS)],
        "resource_type": "mandate",
        "resource_id": f"m-{index % 17}",
        "outcome": "VALID" if index % 5 else None,
        "request_id": f"req-{index}",
        "ip_address": "203.0.113.7",
        "details": {"n": index, "status": "active", "labels": {"team": "travel"}},
    }
    values.update(overrides)
    return AuditRow(**values)


def seal(entries: list[AuditRow], head: ChainHead) -> tuple[list[AuditRow], ChainHead]:
    seals, new_head = seal_entries(entries, head)
    rows = [
        e._replace(seq=s.seq, prev_hash=s.prev_hash, row_hash=s.row_hash)
        for e, s in zip(entries, seals, strict=True)
    ]
    return rows, new_head


@dataclass
class Chain:
    chain_id: str
    keyring: Keyring
    rows: list[AuditRow]
    checkpoints: list[StoredCheckpoint]
    head: ChainHead
    anchor: ChainAnchor | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def keyset(self):
        return self.keyring.keyset()

    def row(self, seq: int) -> AuditRow:
        return next(r for r in self.rows if r.seq == seq)

    def index(self, seq: int) -> int:
        return next(i for i, r in enumerate(self.rows) if r.seq == seq)


def make_chain(
    rows: int,
    *,
    checkpoint_every: int | None = 8,
    keyring: Keyring | None = None,
    chain_id: str | None = None,
) -> Chain:
    """`rows` sealed rows with a checkpoint after every `checkpoint_every` rows."""
    chain_id = chain_id or str(uuid.uuid4())
    keyring = keyring or Keyring.of(generate_signing_key())
    sealed, head = seal([entry(chain_id, i) for i in range(rows)], ChainHead.genesis(chain_id))
    checkpoints: list[StoredCheckpoint] = []
    if checkpoint_every:
        for end in range(checkpoint_every, rows + 1, checkpoint_every):
            first = end - checkpoint_every + 1
            batch = [r.row_hash for r in sealed[first - 1 : end]]
            cp = build_checkpoint(chain_id, first, batch, START + timedelta(seconds=end))
            checkpoints.append(StoredCheckpoint(end, sign_checkpoint(cp, keyring)))
    return Chain(chain_id, keyring, sealed, checkpoints, head)
