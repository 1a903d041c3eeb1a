"""Shared parts of the AP2 v0.2 benchmarks: a PostgreSQL database, server processes on
ports 22000-22999, a tenant with keys, the root issuer, and presentation minting."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ap2.minting import H, Party, chain, kb_hop, party, root_hop  # noqa: E402
from tests.ap2.scenarios import (  # noqa: E402
    AUD,
    M1,
    NONCE,
    OPEN_CHECKOUT_HASH,
    SHOE,
    amount_range,
    budget,
    checkout_jwt,
    closed_payment,
    open_payment,
    payees,
    recurrence,
    reference,
)

SECRET = "bench-secret-" + "x" * 40
ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
# BENCH_PORTS="first-last" and BENCH_DB_PREFIX let two people bench on one machine.
_FIRST, _, _LAST = os.environ.get("BENCH_PORTS", "22000-22999").partition("-")
PORTS = range(int(_FIRST), int(_LAST or _FIRST) + 1)
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "")
ISSUER_DID = "did:web:bench-agent-provider.example"
PROVIDER: Party = party("bench-ap-1")
CJ = checkout_jwt([(SHOE, 1)])


def port_in_range() -> int:
    """A free port in this feature's range (22000-22999 unless BENCH_PORTS says)."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


async def _pg(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database (dropped after); yields its SQLAlchemy URL."""
    name = f"{DB_PREFIX}{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        base = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def environment(url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": url,
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "false",
        "EXPIRY_SWEEP_SECONDS": "0",
        "WEBHOOK_WORKER_IN_SERVER": "false",
        "RETENTION_SCHEDULE_ENABLED": "false",
        **extra,
    }


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@contextlib.contextmanager
def servers(env: dict[str, str], count: int) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """`count` uvicorn processes on one database (migrated first)."""
    cli(env, "db", "upgrade")
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for _ in range(count):
            port = port_in_range()
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
                    "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "75",
                ],
                env=env,
                cwd=ROOT,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(base + "/healthz").status_code == 200:
                        break
                time.sleep(0.1)
            started.append((base, process))
        yield started
    finally:
        for _, process in started:
            process.terminate()
            process.wait(timeout=15)


def tenant_keys(env: dict[str, str], base: str) -> tuple[str, str]:
    """(customer_user key, customer_admin key) of a new tenant trusting the bench provider."""
    tenant = cli(env, "tenants", "create", f"Bench {uuid.uuid4().hex[:6]}").strip()
    keys = []
    for role in ("customer_user", "customer_admin"):
        out = cli(env, "api-keys", "create", "--tenant", tenant, "--role", role, "--name", role)
        keys.append(out.strip().splitlines()[-1])
    response = httpx.post(
        base + "/api/v1/issuers",
        headers={"X-API-Key": keys[1]},
        json={"did": ISSUER_DID, "jwks": {"keys": [PROVIDER.public_jwk()]}},
    )
    response.raise_for_status()
    return keys[0], keys[1]


def request_members() -> dict[str, Any]:
    return {
        "audience": AUD,
        "nonce": NONCE,
        "checkout_jwt_hash": H(CJ),
        "open_checkout_hash": OPEN_CHECKOUT_HASH,
    }


def single_use_chain(now_ts: int, amount: int = 19900) -> str:
    """A two-hop payment chain with three constraints, under its own open mandate."""
    agent = party()
    root = root_hop(
        open_payment(agent, [amount_range(20000, 0), payees(M1), reference(OPEN_CHECKOUT_HASH)]),
        PROVIDER,
    )
    return chain(root, kb_hop(root, closed_payment(CJ, amount), agent, iat=now_ts))


def budget_root(max_total: int) -> tuple[Any, Party]:
    """An open payment mandate with a budget and ON_DEMAND recurrence, and its agent."""
    agent = party()
    cons = [
        amount_range(max_total, 0),
        payees(M1),
        reference(OPEN_CHECKOUT_HASH),
        budget(max_total),
        recurrence("ON_DEMAND"),
    ]
    return root_hop(open_payment(agent, cons), PROVIDER), agent


def leaf_under(root: Any, agent: Party, now_ts: int, amount: int) -> str:
    return chain(root, kb_hop(root, closed_payment(CJ, amount), agent, iat=now_ts))


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2)
