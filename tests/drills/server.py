"""A real server process for the drills: `mandate-vault serve` on a free port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "READ_DB", "JWKS_"))}
    env.update(
        {
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "INFO",
            "RETENTION_SCHEDULE_ENABLED": "false",
            **extra,
        }
    )
    env.pop("WRITE_DB_URL", None)
    return env


def start(database_url: str, *args: str, settings_file: bool = False, **extra: str) -> Server:
    """`mandate-vault serve ARGS` on a free port, not yet answering (see `wait_ready`).
    With `settings_file`, SECRET_KEY and DATABASE_URL are in a settings file
    (MANDATE_VAULT_ENV_FILE) instead of the environment."""
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="mv-drill-")) / "server.log"
    env = server_env(database_url, **extra)
    if settings_file:
        file = log.with_name("settings.env")
        file.write_text(
            "".join(f"{name}={env.pop(name)}\n" for name in ("SECRET_KEY", "DATABASE_URL"))
        )
        env["MANDATE_VAULT_ENV_FILE"] = str(file)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Server(f"http://127.0.0.1:{port}", process, log)


def wait_ready(server: Server, seconds: float = 60) -> None:
    """Until /healthz answers; RuntimeError with the log's tail if it never does."""
    deadline = time.monotonic() + seconds
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{server.log_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.base + "/healthz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start:\n{server.log_text()[-3000:]}")
        time.sleep(0.1)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


@contextlib.contextmanager
def serve(
    database_url: str, *args: str, settings_file: bool = False, **extra: str
) -> Iterator[Server]:
    """The server on `database_url`, its stdout and stderr in a log file; stopped after."""
    server = start(database_url, *args, settings_file=settings_file, **extra)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)


@contextlib.contextmanager
def serve_several(count: int, database_url: str, **extra: str) -> Iterator[list[Server]]:
    """`count` separate servers on one database, started side by side."""
    servers = [start(database_url, **extra) for _ in range(count)]
    try:
        for server in servers:
            wait_ready(server)
        yield servers
    finally:
        for server in servers:
            stop(server)
