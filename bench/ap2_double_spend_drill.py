"""Double-spend drill: 64 concurrent presentations of distinct closed mandates under one
open mandate whose budget admits exactly 10, on PostgreSQL with two server processes,
20 times. Every round must approve exactly 10 and leave the ledger at 10 occurrences
and 10 x the amount spent.

Baseline, in the same run: 64 concurrent presentations of 64 distinct open mandates (no
contention on a ledger row). Reported: the time of each round, its ratio to the
baseline round, and the two servers' CPU per request.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/ap2_double_spend_drill.py [ROUNDS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter

import httpx
from _server import cpu_seconds
from ap2_bench_common import (
    budget_root,
    environment,
    leaf_under,
    pg_database,
    request_members,
    servers,
    single_use_chain,
    tenant_keys,
)

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
CONCURRENT, ADMITS, AMOUNT = 64, 10, 100
URL = "/api/v1/ap2/presentations"


async def _send(
    http: httpx.AsyncClient, bases: list[str], key: str, chains: list[str]
) -> tuple[float, Counter[tuple[int, str | None]]]:
    members = request_members()
    started = time.perf_counter()
    responses = await asyncio.gather(
        *(
            http.post(
                bases[i % len(bases)] + URL,
                json={"sd_jwt": sd_jwt, **members},
                headers={"X-API-Key": key},
            )
            for i, sd_jwt in enumerate(chains)
        )
    )
    elapsed = time.perf_counter() - started
    return elapsed, Counter((r.status_code, r.json().get("code")) for r in responses)


async def drill(bases: list[str], key: str, pids: list[int]) -> None:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        # Warm both servers (connections, caches) on throwaway open mandates.
        now = int(time.time())
        await _send(http, bases, key, [single_use_chain(now) for _ in range(CONCURRENT)])
        baselines = []
        for _ in range(3):
            now = int(time.time())
            elapsed, codes = await _send(
                http, bases, key, [single_use_chain(now) for _ in range(CONCURRENT)]
            )
            assert codes == {(200, None): CONCURRENT}, codes
            baselines.append(elapsed)
        baseline = statistics.median(baselines)
        print(f"baseline: {CONCURRENT} distinct open mandates at once, median {baseline:.3f} s")
        cpu0 = cpu_seconds(*pids)
        times, failures = [], 0
        for number in range(1, ROUNDS + 1):
            root, agent = budget_root(ADMITS * AMOUNT)
            now = int(time.time())
            chains = [leaf_under(root, agent, now, AMOUNT) for _ in range(CONCURRENT)]
            elapsed, codes = await _send(http, bases, key, chains)
            from tests.ap2.minting import H

            ledger = (
                await http.get(
                    bases[number % 2] + f"/api/v1/ap2/ledger/{H(root.jwt)}",
                    headers={"X-API-Key": key},
                )
            ).json()
            approved = codes.get((200, None), 0)
            ok = (
                approved == ADMITS
                and codes.get((422, "invalid_mandate"), 0) == CONCURRENT - ADMITS
                and ledger["occurrences"] == ADMITS
                and ledger["spent"] == {"USD": ADMITS * AMOUNT}
            )
            failures += not ok
            times.append(elapsed)
            print(
                f"round {number:2d}: approved {approved}/{CONCURRENT}, ledger occurrences "
                f"{ledger['occurrences']} spent {ledger['spent']}, {elapsed:.3f} s "
                f"({elapsed / baseline:.2f}x baseline) {'OK' if ok else 'FAILED ' + str(codes)}"
            )
        cpu = cpu_seconds(*pids) - cpu0
        requests = ROUNDS * (CONCURRENT + 1)
        print(
            f"{ROUNDS - failures}/{ROUNDS} rounds exactly {ADMITS} approved; round median "
            f"{statistics.median(times):.3f} s, max {max(times):.3f} s, ratio to baseline "
            f"{statistics.median(times) / baseline:.2f}; server CPU "
            f"{1000 * cpu / requests:.2f} ms per request (both processes)"
        )
        if failures:
            raise SystemExit(1)


def main() -> None:
    with pg_database("bench_ap2_drill") as url:
        # Waiting on the ledger row's lock is the point here: no slow-query warnings for it.
        env = environment(url, SLOW_QUERY_MS="60000")
        with servers(env, 2) as started:
            key, _admin = tenant_keys(env, started[0][0])
            asyncio.run(drill([b for b, _ in started], key, [p.pid for _, p in started]))


if __name__ == "__main__":
    main()
