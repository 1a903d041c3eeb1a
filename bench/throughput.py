"""Server CPU per request on the hot paths, with the shared load generator's wrk engine.

On a fresh PostgreSQL database, production settings and rate limits on (the API
key limit raised so the runs measure the check, not its refusals), it starts the
real server and measures, each as the median of REPEATS runs of DURATION seconds
at 32 concurrent clients:

- bare: a FastAPI route answering `{}` under the same uvicorn settings (the
  framework's ceiling, measured in the same run);
- ingest: POST /api/v1/mandates with distinct ES256 mandates;
- get: GET /api/v1/mandates/{id} over ROWS mandates in the tenant;
- search: GET /api/v1/mandates?limit=50 (a filtered page of 50) over ROWS mandates;
- idle: no requests, the server's own CPU for DURATION: its background jobs' polls,
  and any periodic sweep that falls in the window (after `ingest`, the expiry
  alerts of the mandates just stored, which expire within the alert window).

For each: requests/s, p50/p95/p99, server CPU ms per request (the server
processes' CPU time over the run divided by the requests) and the machine's idle
share. `--profile OP` records a py-spy flame graph of the server during OP.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/throughput.py \
        [--ops bare,ingest,get,search,idle] [--rows 1000000] [--duration 20] [--repeats 3] \
        [--workers 1] [--profile ingest]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from _server import ROOT, cli, cpu_seconds, free_port, production_environment
from dashboard_pages import FILL_MANDATES

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
LOADGEN = ROOT.parent / "shared" / "tools" / "loadgen.py"
ISSUER = "did:web:localhost"
CONCURRENCY = "32"

BARE_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def bare() -> dict[str, str]:
    return {}
"""


def loadgen(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(LOADGEN), *args], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"loadgen failed: {result.stderr[-2000:]}")
    return result.stdout


async def sql(dsn: str, statement: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(statement, *args)
    finally:
        await connection.close()


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's worker processes)."""
    found = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found.extend(process_tree(int(child)))
    return found


def wait_ready(base: str, path: str = "/healthz") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base} did not start")


def settle(pids: list[int], window: float = 65, quiet: float = 0.06, limit: float = 1200) -> float:
    """Wait until the server's own jobs have caught up with the fill (the expiry
    sweep, expiry alerts and their events), so their CPU is not counted against the
    requests: until a `window`, longer than the sweeps' 60 s period, in which the
    server uses under `quiet` of a core (an idle server uses about 1 %: the audit
    sealer's and the webhook worker's polls, `--ops idle`). Returns the seconds waited; stops
    the benchmark when the server is still busy after `limit` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = cpu_seconds(*pids)
        time.sleep(window)
        if (cpu_seconds(*pids) - before) / window < quiet:
            return time.monotonic() - started
    raise SystemExit(f"the server was still busy {limit:.0f} s after the fill")


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    # Always named: in production WORKERS defaults to the number of cores.
    command = [
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


def start_bare(work: Path, port: int) -> subprocess.Popen[bytes]:
    (work / "bare_app.py").write_text(BARE_APP)
    return subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port),
            "--log-level", "warning", "--no-access-log", "--proxy-headers",
        ],
        cwd=work, stdout=subprocess.DEVNULL,
    )  # fmt: skip


class Runner:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.keys = work / "keys.json"
        self.results: dict[str, list[dict[str, object]]] = {}
        self.idle_shares: list[float] = []

    def idle(self, pid: int) -> None:
        """The server's CPU with no requests for DURATION, as a share of one core."""
        pids = process_tree(pid)
        before, started = cpu_seconds(*pids), time.monotonic()
        time.sleep(float(self.args.duration))
        share = (cpu_seconds(*pids) - before) / (time.monotonic() - started) * 100
        self.idle_shares.append(share)
        print(f"  idle    server CPU {share:.2f} % of a core with no requests", flush=True)

    def run(self, op: str, base: str, pid: int, *extra: str) -> dict[str, object]:
        out = self.work / f"{op}.jsonl"
        pids = process_tree(pid)
        watch = [arg for p in pids for arg in ("--watch-pid", str(p))]
        profile = None
        if self.args.profile == op:
            svg = self.work / f"profile-{op}.txt"
            profile = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "-o", str(svg),
                 "-d", str(int(float(self.args.duration)) + 2), "-p", str(pids[-1]), "-r", "200"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        loadgen(
            "run", "--engine", "wrk", "--base-url", base, "--concurrency", CONCURRENCY,
            "--duration", str(self.args.duration), "--json-out", str(out), *watch, *extra,
        )  # fmt: skip
        if profile is not None:
            profile.wait()
            print(f"  profile of {op}: {svg}")
        result = json.loads(out.read_text().splitlines()[-1])
        cpu_pct = sum(result["watched_cpu_pct"].values())
        result["cpu_ms_per_request"] = (
            round(cpu_pct * 10 / result["rps"], 3) if result["rps"] else 0
        )
        result["idle_pct"] = round(100 - result.get("machine_busy_pct_of_all_cores", 100), 1)
        self.results.setdefault(op, []).append(result)
        print(
            f"  {op:7} {result['rps']:8.0f}/s  p50 {result['p50_ms']:6.1f}  p95 {result['p95_ms']:6.1f}"
            f"  p99 {result['p99_ms']:6.1f} ms  CPU {result['cpu_ms_per_request']:.3f} ms/req"
            f"  idle {result['idle_pct']:.0f}%  codes {result['codes']}",
            flush=True,
        )
        return result

    def summary(self) -> None:
        print("\nmedians:")
        if self.idle_shares:
            print(f"  idle    server CPU {statistics.median(self.idle_shares):.2f} % of a core")
        bare = None
        for op, runs in self.results.items():
            rps = statistics.median(r["rps"] for r in runs)  # type: ignore[misc]
            cpu = statistics.median(r["cpu_ms_per_request"] for r in runs)  # type: ignore[misc]
            p99 = statistics.median(r["p99_ms"] for r in runs)  # type: ignore[misc]
            idle = statistics.median(r["idle_pct"] for r in runs)  # type: ignore[misc]
            if op == "bare":
                bare = rps
            share = f"  {rps / bare:.2f} of bare" if bare and op != "bare" else ""
            print(
                f"  {op:7} {rps:8.0f}/s  p99 {p99:6.1f} ms  CPU {cpu:.3f} ms/req  idle {idle:.0f}%{share}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", default="bare,ingest,get,search")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--duration", default="20")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    ops = args.ops.split(",")
    name = f"bench_tp_{uuid.uuid4().hex[:8]}"
    asyncio.run(sql(ADMIN, f'CREATE DATABASE "{name}"'))
    dsn = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    work = Path(tempfile.mkdtemp(prefix="mv-throughput-"))
    env = production_environment(dsn, METRICS_ALLOWED_IPS="127.0.0.1")
    runner = Runner(args, work)
    server = bare = None
    try:
        subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade"], env=env, cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
        port, bare_port = free_port(), free_port()
        server = start_server(env, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        tenant = cli(env, "tenants", "create", "Bench").strip()
        out = cli(
            env,
            "api-keys",
            "create",
            "--tenant",
            tenant,
            "--role",
            "customer_admin",
            "--name",
            "bench",
        )
        key = out.strip().splitlines()[-1]
        loadgen("keygen", "--out", str(runner.keys))
        jwks = json.loads(loadgen("jwks", "--keys", str(runner.keys)))
        httpx.post(
            base + "/api/v1/issuers", headers={"X-API-Key": key}, json={"did": ISSUER, "jwks": jwks}
        ).raise_for_status()
        auth = ("--adapter", "vault", "--param", f"api_key={key}")
        if {"get", "search"} & set(ops):
            started = time.perf_counter()
            asyncio.run(sql(dsn, FILL_MANDATES, uuid.UUID(tenant), 7 * 86400 - 60, args.rows))
            asyncio.run(sql(dsn, "VACUUM ANALYZE"))
            ids = asyncio.run(sql(dsn, "SELECT id FROM mandates ORDER BY random() LIMIT 20000"))
            (work / "ids.txt").write_text("\n".join(str(r["id"]) for r in ids))
            print(f"filled {args.rows:,} mandates in {time.perf_counter() - started:.0f} s")
            waited = settle(process_tree(server.pid))
            asyncio.run(sql(dsn, "VACUUM ANALYZE"))
            print(f"the server's jobs caught up with the fill in {waited:.0f} s")
        if "bare" in ops:
            bare = start_bare(work, bare_port)
            wait_ready(f"http://127.0.0.1:{bare_port}", "/")
        print(
            f"PostgreSQL, production settings, rate limits on, c={CONCURRENCY}, "
            f"{args.workers} server process(es)"
        )
        for _ in range(args.repeats):
            for op in ops:
                if op == "bare":
                    runner.run("bare", f"http://127.0.0.1:{bare_port}", bare.pid, "--op", "search",
                               "--adapter", "generic", "--param", "api_key=x",
                               "--param", "search_path=/")  # fmt: skip
                elif op == "ingest":
                    runner.run("ingest", base, server.pid, *auth, "--op", "create", "--issuer",
                               ISSUER, "--keys", str(runner.keys), "--mandates", "60000")  # fmt: skip
                elif op == "get":
                    runner.run("get", base, server.pid, *auth, "--op", "get",
                               "--ids-in", str(work / "ids.txt"))  # fmt: skip
                elif op == "search":
                    runner.run("search", base, server.pid, *auth, "--op", "search")
                elif op == "idle":
                    runner.idle(server.pid)
        runner.summary()
    finally:
        for process in (server, bare):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)
        asyncio.run(sql(ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
