"""Audit chain verifier rows/s on one core, against baselines measured in the same run.

Run: .venv/bin/python bench/audit_verify.py [--rows 200000] [--batch 1024] [--rounds 3]

Builds a synthetic sealed chain in memory (checkpoints every --batch rows), pins
itself to one core, then alternates rounds of

- verify:   verify_chain over every row and checkpoint (recompute each row_hash,
            check each link, each checkpoint's signature, head and Merkle root);
- encode:   the fast canonical encoder + SHA-256 alone, per row (the floor
            `verify` cannot beat);
- rfc8785:  the rfc8785 library + SHA-256 per row, the encoder `verify` would
            pay without the fast path;

and prints the best round of each with ratios, then the size and build/verify
time of a 20-event evidence pack whose rows each sit in their own batch.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import rfc8785

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.audit.chain import ChainHead, entry_hash, row_record, seal_entries
from app.audit.checkpoint import build_checkpoint, sign_checkpoint
from app.audit.verify import StoredCheckpoint, verify_chain
from app.evidence import verify_pack
from app.signing import Keyring, generate_signing_key
from tests.audit.chains import START, entry
from tests.evidence.packs import make_pack


def _chain(rows: int, batch: int, keyring: Keyring):
    chain_id = str(uuid.uuid4())
    entries = [entry(chain_id, i) for i in range(rows)]
    started = time.perf_counter()
    seals, _head = seal_entries(entries, ChainHead.genesis(chain_id))
    sealing = rows / (time.perf_counter() - started)
    sealed = [
        e._replace(seq=s.seq, prev_hash=s.prev_hash, row_hash=s.row_hash)
        for e, s in zip(entries, seals, strict=True)
    ]
    checkpoints = []
    for end in range(batch, rows + 1, batch):
        hashes = [r.row_hash for r in sealed[end - batch : end]]
        checkpoint = build_checkpoint(
            chain_id, end - batch + 1, hashes, START + timedelta(seconds=end)
        )
        checkpoints.append(StoredCheckpoint(end, sign_checkpoint(checkpoint, keyring)))
    return chain_id, sealed, checkpoints, sealing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    keyring = Keyring.of(generate_signing_key())
    keys = keyring.keyset()
    chain_id, rows, checkpoints, sealing = _chain(args.rows, args.batch, keyring)

    def verify() -> None:
        report = verify_chain(chain_id, rows, checkpoints, keys)
        if not report.ok or report.rows_checked != len(rows):
            raise SystemExit(report.summary())

    def encode() -> None:
        for row in rows:
            entry_hash(row, row.seq, row.prev_hash)

    def reference() -> None:
        sha = hashlib.sha256
        for row in rows:
            sha(rfc8785.dumps(row_record(row, row.seq, row.prev_hash))).hexdigest()

    best = {"verify": 0.0, "encode": 0.0, "rfc8785": 0.0}
    for _ in range(args.rounds):
        for name, fn in (("verify", verify), ("encode", encode), ("rfc8785", reference)):
            started = time.perf_counter()
            fn()
            best[name] = max(best[name], len(rows) / (time.perf_counter() - started))

    out = sys.stdout
    out.write(
        f"nproc={os.cpu_count()} loadavg={tuple(round(x, 2) for x in os.getloadavg())} "
        f"rows={len(rows):,} batch={args.batch} checkpoints={len(checkpoints)} "
        f"rounds={args.rounds}, best round of each\n"
    )
    out.write(f"sealing (seal_entries)        {sealing:>10,.0f} rows/s\n")
    out.write(f"verify_chain                  {best['verify']:>10,.0f} rows/s\n")
    out.write(
        f"fast encoder + SHA-256 only   {best['encode']:>10,.0f} rows/s"
        f"  (verify / encode = {best['verify'] / best['encode']:.2f})\n"
    )
    out.write(
        f"rfc8785 + SHA-256 only        {best['rfc8785']:>10,.0f} rows/s"
        f"  (encode / rfc8785 = {best['encode'] / best['rfc8785']:.1f}x)\n"
    )

    started = time.perf_counter()
    pack = make_pack(events=20, batch=args.batch, spread=True, keyring=keyring)
    built = time.perf_counter() - started
    started = time.perf_counter()
    report = verify_pack(pack.data, pack.jwks)
    checked = time.perf_counter() - started
    assert report.ok
    out.write(
        f"evidence pack, 20 events in 20 batches of {args.batch}: {len(pack.data):,} bytes; "
        f"verify_pack {checked * 1000:.1f} ms (fixture with sealing and proofs: {built * 1000:.0f} ms)\n"
    )


if __name__ == "__main__":
    main()
