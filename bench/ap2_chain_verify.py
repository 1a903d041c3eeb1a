"""AP2 v0.2 chain verifications/s vs the bare cost of its two ES256 verifies (`cryptography`).

The chain: the shape of the sample vector `payment-valid`, a root open payment
mandate (amount_range, allowed_payees with one selectively disclosed payee,
payment.reference) and a closed payment leaf signed by the agent key the root
endorses. `--payees N` discloses N payees instead. "engine" is stages A-D (`verify_chain` then
`evaluate` on an empty ledger), and stages A-C alone; "bare" is the two signature
checks alone, with the keys, DER signatures and signing inputs prepared beforehand.

Run: .venv/bin/python bench/ap2_chain_verify.py [--rounds 6] [--seconds 0.5]
Pins itself to one core (where the OS allows), counts CPU time, and prints a line per
measure, best round of each (rounds interleaved so load hits all measures alike).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.ap2.verification import EMPTY_LEDGER, VerifiedChain, evaluate, verify_chain
from app.keys import b64url_decode
from tests.ap2.scenarios import (
    M1,
    M2,
    NOW,
    OPEN_CHECKOUT_HASH,
    PROVIDER,
    ROOT_KEYS,
    amount_range,
    payees,
    payment,
    reference,
)


def _rate(fn, seconds: float) -> float:
    """Calls per CPU second of `fn`, measured in batches until `seconds` of CPU have passed.

    CPU time of this process, not wall time: on a machine shared with other work, time
    spent descheduled is not the engine's.
    """
    for _ in range(50):
        fn()
    calls = 0
    batch = 200
    start = time.process_time()
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return calls / elapsed


def _bare_parts(jwt: str) -> tuple[bytes, bytes]:
    head, body, sig_b64 = jwt.split(".")
    sig = b64url_decode(sig_b64)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    return der, f"{head}.{body}".encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--payees", type=int, default=1, help="disclosed allowed payees")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    allowed = [M1] + [dict(M2, id=f"merchant_{n + 2}") for n in range(args.payees - 1)]
    scenario = payment(
        cons=[amount_range(20000, 0), payees(*allowed), reference(OPEN_CHECKOUT_HASH)]
    )
    sd_jwt, context = scenario.sd_jwt, scenario.context
    chain = verify_chain(sd_jwt, context, ROOT_KEYS, NOW)
    assert isinstance(chain, VerifiedChain), chain
    decision = evaluate(chain, EMPTY_LEDGER, NOW)
    assert decision.approved, decision

    root_key = PROVIDER.key.public_key()
    agent_key = scenario.agent.key.public_key()
    root_der, root_data = _bare_parts(scenario.root.jwt)
    leaf_der, leaf_data = _bare_parts(scenario.leaf.jwt)
    scheme = ec.ECDSA(hashes.SHA256())

    def bare() -> None:
        root_key.verify(root_der, root_data, scheme)
        agent_key.verify(leaf_der, leaf_data, scheme)

    def engine() -> None:
        chain = verify_chain(sd_jwt, context, ROOT_KEYS, NOW)
        if isinstance(chain, VerifiedChain):
            evaluate(chain, EMPTY_LEDGER, NOW)

    def stateless() -> None:
        verify_chain(sd_jwt, context, ROOT_KEYS, NOW)

    bare_rate = engine_rate = stateless_rate = 0.0
    for _ in range(args.rounds):  # interleaved, so load from other processes hits all alike
        bare_rate = max(bare_rate, _rate(bare, args.seconds))
        engine_rate = max(engine_rate, _rate(engine, args.seconds))
        stateless_rate = max(stateless_rate, _rate(stateless, args.seconds))
    out = sys.stdout
    out.write(
        f"nproc={os.cpu_count()} loadavg={tuple(round(x, 2) for x in os.getloadavg())} "
        f"rounds={args.rounds} x {args.seconds}s, best round of each; "
        f"chain {len(sd_jwt)} chars, {len(scenario.root.disclosures) + len(scenario.leaf.disclosures)} disclosures\n"
    )
    out.write(f"{'2-hop payment, 3 constraints':34} {'bare/s':>8} {'engine/s':>9} {'ratio':>6}\n")
    for label, rate in (
        ("stages A-D (verify + evaluate)", engine_rate),
        ("stages A-C (verify_chain)", stateless_rate),
    ):
        out.write(f"{label:34} {bare_rate:8.0f} {rate:9.0f} {rate / bare_rate:6.2f}\n")


if __name__ == "__main__":
    main()
