"""Seconds from starting the server until /readyz answers 200 (target: under 3 s).

Measured on a migrated SQLite file, and on PostgreSQL when BENCH_PG_URL (an
asyncpg URL of an existing, disposable database) is given.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _server import SECRET, cli, free_port, wait_ready

RUNS = 5


def bench_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }


def measure(env: dict[str, str], cwd: Path) -> list[float]:
    samples = []
    for _ in range(RUNS):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            samples.append(wait_ready(port, process))
        finally:
            process.terminate()
            process.wait(timeout=10)
    return samples


def report(label: str, samples: list[float]) -> None:
    median = statistics.median(samples)
    verdict = "ok" if max(samples) < 3 else "MISSED"
    print(
        f"{label}: median {median:.2f} s, max {max(samples):.2f} s over {len(samples)} starts ({verdict}, target < 3 s)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = bench_env(f"sqlite+aiosqlite:///{cwd / 'bench.db'}")
        cli(env, "db", "upgrade")
        report("SQLite     ", measure(env, cwd))
        if pg := os.environ.get("BENCH_PG_URL"):
            env = bench_env(pg)
            cli(env, "db", "upgrade")
            report("PostgreSQL ", measure(env, cwd))


if __name__ == "__main__":
    main()
