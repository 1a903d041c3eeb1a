"""End-to-end ingest on PostgreSQL with the shared load generator.

One server process (uvicorn, no access log), a fresh PostgreSQL database, a
tenant, an API key and an issuer registered with the load generator's JWKS;
then `loadgen.py run --op create` at 32 concurrent clients. Afterwards the
server keeps ingesting until TOTAL mandates have gone in, and its RSS is read.

    python bench/ingest_load.py [DURATION_S] [TOTAL]     (BENCH_RATE_LIMITS=false to switch limits off)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import httpx
from _server import ROOT, cli, server_process

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
LOADGEN = ROOT.parent / "shared" / "tools" / "loadgen.py"
DURATION = sys.argv[1] if len(sys.argv) > 1 else "20"
TOTAL = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def loadgen(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(LOADGEN), *args], capture_output=True, text=True, check=True
    )
    return result.stdout


def create_load(base: str, key: str, keys: Path, duration: str, mandates: int, *extra: str) -> str:
    """`loadgen run --op create` at 32 clients until `duration` or `mandates` run out."""
    return loadgen(
        "run", "--adapter", "vault", "--base-url", base, "--param", f"api_key={key}",
        "--op", "create", "--concurrency", "32", "--duration", duration,
        "--issuer", "did:web:localhost", "--keys", str(keys), "--mandates", str(mandates), *extra,
    )  # fmt: skip


async def database(action: str, name: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        if action == "create":
            await connection.execute(f'CREATE DATABASE "{name}"')
        else:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def api_key(env: dict[str, str], tenant: str, role: str) -> str:
    out = cli(env, "api-keys", "create", "--tenant", tenant, "--role", role, "--name", role)
    return out.strip().splitlines()[-1]


def main() -> None:
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    asyncio.run(database("create", name))
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    work = Path(tempfile.mkdtemp(prefix="mv-ingest-"))
    # Production defaults, rate limits on: what a deployment runs with.
    settings = {
        "DATABASE_URL": url,
        "ENVIRONMENT": "production",
        "EXPIRY_SWEEP_SECONDS": "0",
        "RATE_LIMIT_ENABLED": os.environ.get("BENCH_RATE_LIMITS", "true"),
    }
    try:
        with server_process(**settings) as (base, env, process):
            tenant = cli(env, "tenants", "create", "Bench").strip()
            key, admin_key = (
                api_key(env, tenant, "customer_user"),
                api_key(env, tenant, "customer_admin"),
            )
            keys, jwks = work / "keys.json", work / "jwks.json"
            loadgen("keygen", "--out", str(keys))
            loadgen("jwks", "--keys", str(keys), "--out", str(jwks))
            response = httpx.post(
                base + "/api/v1/issuers",
                headers={"X-API-Key": admin_key},
                json={"did": "did:web:localhost", "jwks": json.loads(jwks.read_text())},
            )
            response.raise_for_status()
            print(f"server pid {process.pid}, RSS at start {rss_mb(process.pid):.0f} MB")
            print(create_load(base, key, keys, DURATION, 40_000, "--watch-pid", str(process.pid)))
            done = 0
            while done < TOTAL:
                batch = min(40_000, TOTAL - done)
                create_load(base, key, keys, "600", batch, "--warmup", "0")
                done += batch
                print(f"  {done:,} more ingested, RSS {rss_mb(process.pid):.0f} MB")
            print(
                f"RSS after {TOTAL:,} further ingests: {rss_mb(process.pid):.0f} MB (budget 300 MB)"
            )
    finally:
        asyncio.run(database("drop", name))


if __name__ == "__main__":
    main()
