"""Ingest throughput with the audit sealer running vs audit rows left unsealed, and the
sealing lag, on PostgreSQL, in one run.

Two servers one after the other (uvicorn, one worker, production settings, rate
limits off), each on a fresh database with a tenant, an API key and an issuer:

- sealed:   AUDIT_SEAL_INTERVAL=0.25 (the default: the server seals and checkpoints);
- unsealed: AUDIT_SEAL_INTERVAL=0 (rows commit unsealed, nothing links them);

each under `loadgen.py run --op create` at 32 clients for DURATION seconds, with the
server's CPU watched. Prints both rates, their ratio (aim >= 0.9), server CPU per
request, and for the sealed run the commit-to-seal lag (sealed_at - timestamp) of
every row written during the run: p50 / p99 (aim p99 < 2 s).

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/audit_ingest.py [DURATION_S]

Ports 21100-21101 (this feature's range).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, SECRET, cli

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
LOADGEN = ROOT.parent / "shared" / "tools" / "loadgen.py"
DURATION = sys.argv[1] if len(sys.argv) > 1 else "20"


def loadgen(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(LOADGEN), *args], capture_output=True, text=True, check=True
    )
    return result.stdout


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def serve(port: int, env: dict[str, str]):
    subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)]
        + ["--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "75"],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=15)


def api_key(env: dict[str, str], tenant: str, role: str) -> str:
    out = cli(env, "api-keys", "create", "--tenant", tenant, "--role", role, "--name", role)
    return out.strip().splitlines()[-1]


async def lags(dsn: str, since: float) -> list[float]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT EXTRACT(EPOCH FROM sealed_at - timestamp) AS lag FROM audit_log "
            "WHERE sealed_at IS NOT NULL AND timestamp >= to_timestamp($1)",
            since,
        )
    finally:
        await connection.close()
    return sorted(float(r["lag"]) for r in rows)


def run(label: str, port: int, interval: str, work: Path) -> dict[str, float]:
    name = f"bench_audit_{label}_{uuid.uuid4().hex[:6]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base_dsn = ADMIN.rsplit("/", 1)[0]
    url = base_dsn.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    env = {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": url,
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "false",
        "EXPIRY_SWEEP_SECONDS": "0",
        "ACTIVITY_ROLLUP_SECONDS": "0",
        "AUDIT_SEAL_INTERVAL": interval,
        "AUDIT_VERIFY_SECONDS": "0",
    }
    try:
        with serve(port, env) as (base, process):
            tenant = cli(env, "tenants", "create", "Bench").strip()
            key, admin_key = (
                api_key(env, tenant, "customer_user"),
                api_key(env, tenant, "customer_admin"),
            )
            keys, jwks = work / "keys.json", work / "jwks.json"
            if not keys.exists():
                loadgen("keygen", "--out", str(keys))
                loadgen("jwks", "--keys", str(keys), "--out", str(jwks))
            httpx.post(
                base + "/api/v1/issuers",
                headers={"X-API-Key": admin_key},
                json={"did": "did:web:localhost", "jwks": json.loads(jwks.read_text())},
            ).raise_for_status()
            started = time.time()
            out = loadgen(
                "run", "--adapter", "vault", "--base-url", base, "--param", f"api_key={key}",
                "--op", "create", "--concurrency", "32", "--duration", DURATION,
                "--issuer", "did:web:localhost", "--keys", str(keys), "--mandates", "60000",
                "--watch-pid", str(process.pid), "--label", label,
            )  # fmt: skip
            time.sleep(1.5)  # the sealer catches up with the last ingests
        print(out)
        found_rate = re.search(r"2xx/s=([0-9.]+)", out)
        rate = float(found_rate.group(1)) if found_rate else float("nan")
        cpu = re.search(r"watched=\{'pid:\d+': ([0-9.]+)\}", out)
        result = {"rate": rate, "cpu": float(cpu.group(1)) if cpu else float("nan")}
        if interval != "0":
            dsn = f"{base_dsn}/{name}"
            found = asyncio.run(lags(dsn, started))
            if found:
                result["lag_p50"] = found[len(found) // 2]
                result["lag_p99"] = found[int(len(found) * 0.99) - 1]
                result["lag_rows"] = len(found)
        return result
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="mv-audit-ingest-"))
    unsealed = run("unsealed", 21100, "0", work)
    sealed = run("sealed", 21101, "0.25", work)
    ratio = sealed["rate"] / unsealed["rate"]
    print(f"unsealed: {unsealed['rate']:.0f} ingests/s, server CPU {unsealed['cpu']:.0f}%")
    print(f"sealed:   {sealed['rate']:.0f} ingests/s, server CPU {sealed['cpu']:.0f}%")
    for label, result in (("unsealed", unsealed), ("sealed", sealed)):
        if result["cpu"] == result["cpu"]:
            print(f"  {label}: {result['cpu'] * 10 / result['rate']:.2f} ms server CPU/ingest")
    print(f"ratio sealed/unsealed: {ratio:.2f} (aim >= 0.9)")
    if "lag_p99" in sealed:
        print(
            f"sealing lag over {int(sealed['lag_rows']):,} rows at {sealed['rate']:.0f} "
            f"ingests/s: p50 {sealed['lag_p50'] * 1000:.0f} ms, p99 "
            f"{sealed['lag_p99'] * 1000:.0f} ms (aim < 2 s)"
        )


if __name__ == "__main__":
    main()
