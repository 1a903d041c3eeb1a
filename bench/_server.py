"""Benchmark helpers: start the real app under uvicorn on a free port (a fresh
migrated SQLite database unless told otherwise) and run the project's CLI."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-" + "x" * 40


def cpu_seconds(*pids: int) -> float:
    """User and system CPU time of these processes so far (one that has exited counts 0)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def production_environment(dsn: str, **extra: str) -> dict[str, str]:
    """The server's environment for the throughput figures: production settings,
    rate limits on (with a key limit no bench reaches), on PostgreSQL at `dsn`."""
    return {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_API_KEY_PER_MINUTE": "10000000",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(**env_extra: str):
    """(base URL, environment) of a running server."""
    with server_process(**env_extra) as (base, env, _process):
        yield base, env


@contextlib.contextmanager
def server_process(**env_extra: str):
    """(base URL, environment, process) of a running server."""
    workdir = Path(tempfile.mkdtemp(prefix="mv-bench-"))
    env = {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "false",
        **env_extra,
    }
    py = sys.executable
    subprocess.run(
        [py, "-m", "app.cli", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    port = free_port()
    process = subprocess.Popen(
        [
            py,
            "-m",
            "uvicorn",
            "app.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-keep-alive",
            "75",
        ],
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
        yield base, env, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def cli(env, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 30.0) -> float:
    """Seconds until /readyz answers 200, polling every 10 ms."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError("server exited before it was ready")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.01)
    raise RuntimeError("server not ready in time")
