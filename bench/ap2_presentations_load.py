"""POST /api/v1/ap2/presentations on PostgreSQL at c=32 with the shared load generator's
wrk engine, against POST /api/v1/mandates (v0.1 ingest) measured in the same run.

One server process (uvicorn, production settings, rate limits off), a fresh PostgreSQL
database, a tenant trusting the bench's root issuer. The load generator is used as is,
through its `generic` adapter, except that its minter is swapped for one that mints AP2
v0.2 chains (two-hop payment mandates with three constraints, each under its own open
mandate, so every presentation is an approval that is recorded); the requests are
minted before the clock starts and sent by wrk. Server CPU per request =
server CPU share / requests per second.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/ap2_presentations_load.py [DURATION_S]
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from ap2_bench_common import (
    ROOT,
    environment,
    pg_database,
    request_members,
    servers,
    single_use_chain,
    tenant_keys,
)

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
WARMUP = 3.0
LOADGEN_PATH = ROOT.parent / "shared" / "tools" / "loadgen.py"


def _loadgen() -> Any:
    spec = importlib.util.spec_from_file_location("loadgen", LOADGEN_PATH)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {LOADGEN_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadgen"] = module
    spec.loader.exec_module(module)
    return module


def _run(loadgen: Any, argv: list[str]) -> dict[str, Any]:
    args = _parse(loadgen, argv)
    return loadgen.run_wrk(args)


def _parse(loadgen: Any, argv: list[str]) -> Namespace:
    captured: dict[str, Namespace] = {}
    original = loadgen.run_wrk

    def capture(args: Namespace) -> dict[str, Any]:
        captured["args"] = args
        return {}

    loadgen.run_wrk = capture
    try:
        loadgen.print_result = lambda res: None
        loadgen.main(["run", *argv])
    finally:
        loadgen.run_wrk = original
    return captured["args"]


def main() -> None:
    loadgen = _loadgen()
    with pg_database("bench_ap2_load") as url:
        env = environment(url)
        with servers(env, 1) as started:
            ((base, process),) = started
            user_key, _admin = tenant_keys(env, base)
            common = ["--base-url", base, "--concurrency", "32", "--duration", str(DURATION),
                      "--warmup", str(WARMUP), "--engine", "wrk", "--watch-pid", str(process.pid)]  # fmt: skip

            # Baseline: v0.1 ingest, minted by the load generator itself.
            from tempfile import mkdtemp

            work = mkdtemp(prefix="mv-ap2-load-")
            keys, jwks = f"{work}/keys.json", f"{work}/jwks.json"
            loadgen.main(["keygen", "--out", keys])
            loadgen.main(["jwks", "--keys", keys, "--out", jwks])
            import httpx

            httpx.post(
                base + "/api/v1/issuers",
                headers={"X-API-Key": _admin},
                json={"did": "did:web:localhost", "jwks": json.loads(Path(jwks).read_text())},
            ).raise_for_status()
            baseline = _run(
                loadgen,
                [*common, "--adapter", "vault", "--param", f"api_key={user_key}", "--op", "create",
                 "--issuer", "did:web:localhost", "--keys", keys, "--mandates", "20000",
                 "--label", "v0.1 ingest (baseline)"],
            )  # fmt: skip

            # AP2 v0.2 presentations: the minter swapped for one of chains, minted now.
            count = int(600 * (DURATION + WARMUP)) + 2000
            started_at = time.perf_counter()
            now_ts = int(time.time())
            chains = [single_use_chain(now_ts) for _ in range(count)]
            minted_in = time.perf_counter() - started_at
            loadgen.mint_many = lambda n, *a, **k: chains[:n]
            template = json.dumps({"sd_jwt": "{jwt}", **request_members()})
            ap2 = _run(
                loadgen,
                [*common, "--adapter", "generic", "--param", f"api_key={user_key}",
                 "--param", "api_key_header=X-API-Key", "--param", "api_key_raw=1",
                 "--param", "create_path=/api/v1/ap2/presentations",
                 "--param", f"create_body={template}", "--op", "create", "--keys", keys,
                 "--mandates", str(count), "--label", "AP2 v0.2 presentations"],
            )  # fmt: skip
    report = {"baseline": baseline, "ap2": ap2, "chains_minted": count, "mint_seconds": minted_in}
    for res in (baseline, ap2):
        cpu = sum(res["watched_cpu_pct"].values()) / 100
        res["server_cpu_ms_per_request"] = round(1000 * cpu / res["rps"], 2) if res["rps"] else None
        print(
            f"{res['label']}: {res['rps']} req/s (2xx {res['ok_rps']}/s), p50 {res['p50_ms']} ms, "
            f"p99 {res['p99_ms']} ms, server CPU {res['server_cpu_ms_per_request']} ms/request, "
            f"codes {res['codes']}, wrapped {res['wrapped']}"
        )
    print(f"ratio presentations/s : ingests/s = {ap2['rps'] / baseline['rps']:.2f}")
    cpu_ratio = ap2["server_cpu_ms_per_request"] / baseline["server_cpu_ms_per_request"]
    print(f"ratio server CPU per request (presentation : ingest) = {cpu_ratio:.2f}")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
