"""The command line: database failures are one clear line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import TEST_SECRET, free_port, pg_url, require_postgres, run_cli


def cli(args, database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    env.update({"SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url})
    return run_cli(*args, env=env, cwd=tmp_path)


def test_help_lists_the_commands(tmp_path):
    result = cli(["--help"], "sqlite+aiosqlite:///./x.db", tmp_path)
    assert result.returncode == 0
    for command in ("serve", "seed", "db"):
        assert command in result.stdout


@pytest.mark.parametrize("command", [["db", "current"], ["db", "upgrade"], ["seed"]])
def test_unreachable_postgres_is_one_line(command, tmp_path):
    url = f"postgresql+asyncpg://postgres:s3cret@127.0.0.1:{free_port()}/vault"
    result = cli(command, url, tmp_path)
    assert result.returncode == 4
    assert result.stderr.startswith(
        "error: cannot reach the database postgresql+asyncpg://postgres:***@127.0.0.1:"
    )
    assert "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_postgres_database_is_one_line(postgres_available, tmp_path):
    require_postgres(postgres_available)
    result = cli(["db", "upgrade"], pg_url("mvt_does_not_exist"), tmp_path)
    assert result.returncode == 4
    assert 'refused the request: database "mvt_does_not_exist" does not exist' in result.stderr
    assert "Traceback" not in result.stderr


def test_server_starts_and_reports_an_unreachable_database(tmp_path):
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/vault"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    env.update({"SECRET_KEY": TEST_SECRET, "DATABASE_URL": url, "LOG_LEVEL": "INFO"})
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and response is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3)
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None
        assert response.status_code == 503
        assert "write_db" in response.json()["failing"]
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "startup_check_failed" in output
    assert "check=write_db" in output
