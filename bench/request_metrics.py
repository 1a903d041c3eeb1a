"""What the request metrics middleware costs.

1. In process: a trivial ASGI app answered 200,000 times, bare and wrapped in
   RequestMetricsMiddleware (the route set as the router sets it), interleaved in
   batches; the difference per request is the middleware's own cost.
2. A real server ingesting (`POST /api/v1/mandates`, PostgreSQL, production
   settings, 16 clients, wrk) with METRICS_ENABLED on and off, alternating; server
   CPU per request from loadgen's `--watch-pid`.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/request_metrics.py [SECONDS]
"""

from __future__ import annotations

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
from _server import ROOT, cli, server_process

sys.path.insert(0, str(ROOT))

from app.web.request_metrics import RequestMetricsMiddleware

LOADGEN = ROOT.parent / "shared" / "tools" / "loadgen.py"
ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SECONDS = sys.argv[1] if len(sys.argv) > 1 else "8"


class _Route:
    path_format = "/api/v1/mandates/{mandate_id}"


ROUTE = _Route()


async def _app(scope, receive, send) -> None:
    scope["route"] = ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _send(message) -> None:
    return None


async def _receive():
    return {"type": "http.request", "body": b""}


async def _batch(app, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        scope = {"type": "http", "method": "GET", "path": "/api/v1/mandates/x"}
        await app(scope, _receive, _send)
    return (time.perf_counter() - started) / n


def in_process(total: int = 200_000, batches: int = 20) -> None:
    wrapped = RequestMetricsMiddleware(_app)
    bare, measured = [], []

    async def run() -> None:
        await _batch(wrapped, 5_000)  # warm: children created, code paths hot
        for _ in range(batches):
            bare.append(await _batch(_app, total // batches))
            measured.append(await _batch(wrapped, total // batches))

    asyncio.run(run())
    cost = [(m - b) * 1e6 for m, b in zip(measured, bare, strict=True)]
    print(
        f"in process: bare app {statistics.median(bare) * 1e6:.2f} us/request, "
        f"with metrics {statistics.median(measured) * 1e6:.2f} us/request; "
        f"middleware cost median {statistics.median(cost):.2f} us "
        f"(min {min(cost):.2f}, max {max(cost):.2f}) over {batches} batches"
    )


def loadgen(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(LOADGEN), *args], capture_output=True, text=True, check=True
    )
    return result.stdout


async def _pg(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def ingest_run(metrics: bool, keys: Path, jwks: Path, results: Path) -> None:
    name = f"bench_metrics_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    env = {
        "DATABASE_URL": url,
        "ENVIRONMENT": "production",
        "METRICS_TOKEN": "bench-metrics-token-0123456789",
        "METRICS_ENABLED": str(metrics).lower(),
        "EXPIRY_SWEEP_SECONDS": "0",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "ERROR",
    }
    try:
        _ingest(env, metrics, keys, jwks, results)
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _ingest(env: dict[str, str], metrics: bool, keys: Path, jwks: Path, results: Path) -> None:
    with server_process(**env) as (base, server_env, process):
        tenant = cli(server_env, "tenants", "create", "Bench").strip()
        key = cli(
            server_env, "api-keys", "create", "--tenant", tenant, "--role", "customer_admin",
            "--name", "bench",
        ).strip().splitlines()[-1]  # fmt: skip
        httpx.post(
            base + "/api/v1/issuers",
            headers={"X-API-Key": key},
            json={"did": "did:web:localhost", "jwks": json.loads(jwks.read_text())},
        ).raise_for_status()
        loadgen(
            "run", "--adapter", "vault", "--base-url", base, "--param", f"api_key={key}",
            "--op", "create", "--concurrency", "16", "--duration", SECONDS, "--warmup", "2",
            "--issuer", "did:web:localhost", "--keys", str(keys), "--mandates", "60000",
            "--engine", "wrk", "--watch-pid", str(process.pid),
            "--label", f"metrics={'on' if metrics else 'off'}", "--json-out", str(results),
        )  # fmt: skip


def server_cpu() -> None:
    work = Path(tempfile.mkdtemp(prefix="mv-metrics-bench-"))
    keys, jwks, results = work / "keys.json", work / "jwks.json", work / "results.jsonl"
    loadgen("keygen", "--out", str(keys))
    loadgen("jwks", "--keys", str(keys), "--out", str(jwks))
    for metrics in (False, True, False, True):
        ingest_run(metrics, keys, jwks, results)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    per = {}
    for row in rows:
        rate = row["ok_rps"]
        cpu = next(iter(row["watched_cpu_pct"].values()))
        cpu_ms = cpu / 100 / rate * 1000
        per.setdefault(row["label"], []).append((rate, cpu_ms, row))
        print(
            f"  {row['label']}: {rate:.0f} req/s, p50 {row['p50_ms']} ms, server CPU "
            f"{cpu_ms:.3f} ms/request (machine busy {row['machine_busy_pct_of_all_cores']}%)"
        )
    off = statistics.median(c for _, c, _ in per["metrics=off"])
    on = statistics.median(c for _, c, _ in per["metrics=on"])
    print(
        f"ingest server CPU per request: metrics on / off = {on / off:.3f} ({on:.3f} vs {off:.3f} ms)"
    )


if __name__ == "__main__":
    in_process()
    if "--in-process-only" not in sys.argv:
        server_cpu()
