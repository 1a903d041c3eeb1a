"""Ingest with three subscribed webhook endpoints, as a ratio to ingest with none.

One server process (uvicorn, PostgreSQL, the worker off so only the outbox is
measured: the event and three delivery rows written in the mandate's
transaction) and two tenants, each with an issuer; tenant B has three enabled
endpoints subscribed to every type. Tokens are minted beforehand. Rounds of
ROUND `POST /api/v1/mandates` at 16 concurrent clients alternate between the
tenants; the figure is B's rate over A's, and the server's CPU per request.

    .venv/bin/python bench/webhooks_ingest.py [ROUNDS] [ROUND]
(run under `flock /tmp/mandate-vault-bench.lock`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid

import httpx
from _server import cpu_seconds
from _webhooks import ROOT, SERVER_PORT, receiver, scratch_database
from cryptography.hazmat.primitives.asymmetric import ec

from tests.verification.helpers import generic_claims, mint, public_jwk

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 6
ROUND = int(sys.argv[2]) if len(sys.argv) > 2 else 600
CLIENTS = 16


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def tokens(did: str, key: object, count: int) -> list[str]:
    now = int(time.time())
    minted = []
    for index in range(count):
        claims = generic_claims(did, iat=now - 5, exp=now + 86400, sub=f"did:example:{index}")
        claims["jti"] = uuid.uuid4().hex
        subject = claims["vc"]["credentialSubject"]
        subject.update({"id": f"did:example:{index}", "scope": "payments:recurring",
                        "amount_limit": "10.00", "currency": "USD"})  # fmt: skip
        minted.append(mint(claims, key, "ES256", kid="k1"))
    return minted


async def ingest(client: httpx.AsyncClient, key: str, batch: list[str]) -> float:
    pending = iter(batch)

    async def one() -> None:
        for token in pending:
            answer = await client.post(
                "/api/v1/mandates", json={"vc_jwt": token}, headers={"X-API-Key": key}
            )
            assert answer.status_code == 201, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(CLIENTS)))
    return len(batch) / (time.perf_counter() - started)


def main() -> None:
    with scratch_database("bench_whi") as (url, env), receiver() as (hook_url, _rx):
        env = {**env, "WEBHOOK_WORKER_IN_SERVER": "false"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(SERVER_PORT),
             "--log-level", "warning", "--no-access-log"],
            env=env, cwd=ROOT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{SERVER_PORT}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            keys = {}
            for name in ("none", "three"):
                tenant = cli(env, "tenants", "create", f"Bench {name}").strip()
                out = cli(env, "api-keys", "create", "--tenant", tenant, "--role",
                          "customer_admin", "--name", name)  # fmt: skip
                keys[name] = out.strip().splitlines()[-1]
            did = "did:web:bench.example"
            signer = ec.generate_private_key(ec.SECP256R1())
            for name, key in keys.items():
                headers = {"X-API-Key": key}
                registered = httpx.post(
                    base + "/api/v1/issuers", headers=headers,
                    json={"did": did, "jwks": {"keys": [public_jwk(signer, "k1")]}},
                )  # fmt: skip
                registered.raise_for_status()
                if name == "three":
                    for index in range(3):
                        created = httpx.post(
                            base + "/api/v1/webhooks", headers=headers,
                            json={"url": f"{hook_url}?endpoint={index}"},
                        )  # fmt: skip
                        created.raise_for_status()
            minted = tokens(did, signer, ROUNDS * ROUND * 2 + 2 * CLIENTS)
            rates: dict[str, list[float]] = {"none": [], "three": []}
            cpu: dict[str, list[float]] = {"none": [], "three": []}

            async def run() -> None:
                limits = httpx.Limits(max_connections=CLIENTS)
                async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
                    position = 0
                    for name in ("none", "three"):  # warm-up
                        await ingest(client, keys[name], minted[position : position + CLIENTS])
                        position += CLIENTS
                    for round_number in range(ROUNDS):
                        order = ("none", "three") if round_number % 2 == 0 else ("three", "none")
                        for name in order:
                            batch = minted[position : position + ROUND]
                            position += ROUND
                            before = cpu_seconds(server.pid)
                            rates[name].append(await ingest(client, keys[name], batch))
                            cpu[name].append((cpu_seconds(server.pid) - before) / ROUND)

            asyncio.run(run())
            none, three = statistics.median(rates["none"]), statistics.median(rates["three"])
            print(
                f"ingest, median of {ROUNDS} rounds of {ROUND} at {CLIENTS} clients: "
                f"no endpoints {none:,.0f}/s ({statistics.median(cpu['none']) * 1e3:.2f} ms "
                f"server CPU each), three endpoints {three:,.0f}/s "
                f"({statistics.median(cpu['three']) * 1e3:.2f} ms) -> ratio {three / none:.2f}"
            )
            print("rounds none:", [round(r) for r in rates["none"]])
            print("rounds three:", [round(r) for r in rates["three"]])
        finally:
            server.terminate()
            server.wait(timeout=15)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
