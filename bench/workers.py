"""Throughput of `mandate-vault serve --workers N` against one process.

Starts the real server (fresh migrated SQLite, rate limits off) with
`--workers 1` and `--workers N` in turn, and drives `GET /api/v1/auth/me` with an
API key (the warm, cached path: no database work) with wrk for D seconds per
round, rounds alternating so both see the same machine. Reports requests/s,
p50/p95/p99, the servers' CPU ms per request (user + system time of the parent and
its workers, from /proc, over the requests served) and the ratio to one process.

Usage: python bench/workers.py [N=2] [SECONDS=10] [ROUNDS=2] [CONNECTIONS=32]
Needs wrk on PATH; PORT_BASE (default 8721) picks the ports.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _server import ROOT, SECRET, cli, cpu_seconds

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
CONNECTIONS = int(sys.argv[4]) if len(sys.argv) > 4 else 32
PORT = int(os.environ.get("PORT_BASE", "8721"))
REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.1f %.1f\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(c) for c in children)]


@contextlib.contextmanager
def serving(env: dict[str, str], workers: int):
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(PORT), "--workers", str(workers)],
        env={**env, "LOG_LEVEL": "WARNING"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{PORT}/healthz").status_code == 200:
                    break
            time.sleep(0.1)
        while workers > 1 and len(tree(process.pid)) < workers + 1:
            time.sleep(0.1)
        time.sleep(1.0)  # every worker through its lifespan
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def round_of(env: dict[str, str], key: str, workers: int, script: Path) -> dict[str, float]:
    with serving(env, workers) as process:
        url = f"http://127.0.0.1:{PORT}/api/v1/auth/me"
        warm = ["wrk", "-t1", f"-c{CONNECTIONS}", "-d2s", "-H", f"X-API-Key: {key}", url]
        subprocess.run(warm, check=True, capture_output=True)
        pids = tree(process.pid)
        before = cpu_seconds(*pids)
        command = [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{SECONDS}s",
            "-s",
            str(script),
            "-H",
            f"X-API-Key: {key}",
            url,
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        used = cpu_seconds(*pids) - before
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        assert bad is None, output
    found = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", output)
    assert found, output
    requests, micros = int(found.group(1)), int(found.group(2))
    return {
        "rps": requests / (micros / 1e6),
        "p50": float(found.group(3)) / 1000,
        "p95": float(found.group(4)) / 1000,
        "p99": float(found.group(5)) / 1000,
        "cpu_ms": used * 1000 / requests,
    }


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mv-bench-workers-"))
    env = {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "MANDATE_VAULT_ENV_FILE": os.devnull,
        "ENVIRONMENT": "development",
        "RATE_LIMIT_ENABLED": "false",
        "RETENTION_SCHEDULE_ENABLED": "false",
    }
    cli(env, "db", "upgrade")
    tenant = cli(env, "tenants", "create", "Bench").strip()
    key = (
        cli(env, "api-keys", "create", "--tenant", tenant, "--role", "readonly", "--name", "b")
        .strip()
        .splitlines()[-1]
    )
    script = workdir / "report.lua"
    script.write_text(REPORT)
    results: dict[int, list[dict[str, float]]] = {1: [], N: []}
    for _ in range(ROUNDS):
        for workers in (1, N):
            results[workers].append(round_of(env, key, workers, script))
    print(f"nproc {os.cpu_count()}, wrk -t1 -c{CONNECTIONS}, {SECONDS} s x {ROUNDS} rounds each")
    for workers, rounds in results.items():
        for r in rounds:
            print(
                f"workers={workers}: {r['rps']:8.0f} req/s  p50 {r['p50']:.2f} ms  "
                f"p95 {r['p95']:.2f} ms  p99 {r['p99']:.2f} ms  server CPU {r['cpu_ms']:.3f} ms/req"
            )
    best = {w: max(r["rps"] for r in rounds) for w, rounds in results.items()}
    print(f"ratio workers={N} / workers=1 (best rounds): {best[N] / best[1]:.2f}")


if __name__ == "__main__":
    main()
