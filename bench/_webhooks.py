"""Helpers of the webhook benchmarks: a scratch PostgreSQL database, the receiver
process, a tenant with endpoints, CPU seconds of a process. Ports 20000-20999."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-" + "x" * 40
RECEIVER_PORT = 20101
SERVER_PORT = 20201


async def _admin_async(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _admin(statement: str) -> None:
    """Run in a thread of its own, so it works inside or outside an event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin_async(statement)).result()


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(DATABASE_URL, environment for the CLI) of a fresh migrated database, dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "READ_DB"))},
        "SECRET_KEY": SECRET,
        "DATABASE_URL": url,
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "false",
        "EXPIRY_SWEEP_SECONDS": "0",
        "RETENTION_SCHEDULE_ENABLED": "false",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_ALLOW_HTTP": "true",
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        yield url, env
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def receiver(port: int = RECEIVER_PORT) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The test receiver (uvicorn, answers 204) in its own process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.webhooks.receiver", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        url = f"http://127.0.0.1:{port}/hook"
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.post(url, content=b"{}", timeout=1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.05)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)
