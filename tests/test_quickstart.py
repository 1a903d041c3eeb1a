"""The operations guide's quick start, run as a person would, in a fresh directory."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import GUIDE_TABLES, TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[1]


def guide_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "READ_DB", "DEMO_"))}
    env.update({"SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url, **extra})
    env.pop("WRITE_DB_URL", None)
    env.pop("ENVIRONMENT", None)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def serve_until_ready(
    args: list[str], cwd: Path, env: dict[str, str], port: int, path: str
) -> httpx.Response:
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
            except httpx.TransportError:
                if process.poll() is not None:
                    pytest.fail(f"server exited: {process.stdout.read() if process.stdout else ''}")
                time.sleep(0.1)
        pytest.fail("server did not start in 30 s")
    finally:
        process.terminate()
        process.wait(timeout=10)


def table_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return {
            t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in GUIDE_TABLES
        }


def test_sqlite_quick_start(tmp_path):
    env = guide_env("sqlite+aiosqlite:///./test.db")
    py = sys.executable
    run([py, str(ROOT / "create_users_table.py")], tmp_path, env)

    if shutil.which("sqlite3"):
        listed = run(["sqlite3", "test.db", ".tables"], tmp_path, env).stdout.split()
    else:  # pragma: no cover - the machine normally has the sqlite3 shell
        with sqlite3.connect(tmp_path / "test.db") as connection:
            listed = [
                r[0]
                for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
    assert set(GUIDE_TABLES) <= set(listed)

    # Alembic after the script is a no-op, not a conflict.
    alembic = run(
        [py, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"], tmp_path, env
    )
    assert "Running upgrade" not in alembic.stderr

    first = run([py, str(ROOT / "seed_initial_data.py")], tmp_path, env)
    assert "Demo login: admin@demo.example / " in first.stdout
    assert "Demo API key (shown once): mvk_" in first.stdout
    counts = table_counts(tmp_path / "test.db")
    assert counts["customers"] == 1
    assert counts["users"] == 1
    assert counts["mandates"] >= 3
    assert counts["audit_log"] >= 3

    second = run([py, str(ROOT / "seed_initial_data.py")], tmp_path, env)
    assert "nothing changed" in second.stdout
    assert "mvk_" not in second.stdout
    # The password is not in DEMO_ADMIN_PASSWORD anywhere: the rerun says how to set one.
    assert (
        "Demo login: admin@demo.example (its password was shown when it was created and is "
        "not in DEMO_ADMIN_PASSWORD; set a new one with "
        "`mandate-vault users reset-password --email admin@demo.example`)"
    ) in second.stdout
    assert table_counts(tmp_path / "test.db") == counts

    port = free_port()
    response = serve_until_ready(
        [py, str(ROOT / "run_dashboard.py")], tmp_path, {**env, "PORT": str(port)}, port, "/"
    )
    assert response.status_code == 200
    assert "Mandate Vault" in response.text


@pytest.mark.parametrize("source", ["environment", "dotenv"])
def test_seed_uses_the_given_demo_password(tmp_path, source):
    if source == "environment":
        env = guide_env(
            "sqlite+aiosqlite:///./demo.db", DEMO_ADMIN_PASSWORD="a-demo-password-for-tests"
        )
    else:  # what `make run` writes
        env = guide_env("sqlite+aiosqlite:///./demo.db")
        env.pop("MANDATE_VAULT_ENV_FILE")  # read ./.env, as a person's shell would
        (tmp_path / ".env").write_text("DEMO_ADMIN_PASSWORD=a-demo-password-for-tests\n")
    run([sys.executable, str(ROOT / "create_users_table.py")], tmp_path, env)
    result = run([sys.executable, str(ROOT / "seed_initial_data.py")], tmp_path, env)
    where = "the environment" if source == "environment" else str(tmp_path.resolve() / ".env")
    assert (
        f"admin@demo.example / a-demo-password-for-tests (DEMO_ADMIN_PASSWORD in {where})"
        in result.stdout
    )
    # A rerun checks the password still signs in, and says so.
    rerun = run([sys.executable, str(ROOT / "seed_initial_data.py")], tmp_path, env)
    assert (
        f"admin@demo.example / a-demo-password-for-tests (DEMO_ADMIN_PASSWORD in {where})"
        in rerun.stdout
    )
    changed = {**env, "DEMO_ADMIN_PASSWORD": "another-demo-password-42"}
    stale = run([sys.executable, str(ROOT / "seed_initial_data.py")], tmp_path, changed)
    assert (
        "Demo login: admin@demo.example (DEMO_ADMIN_PASSWORD in the environment is not this "
        "admin's password: it was changed since or set later; set a new one with "
        "`mandate-vault users reset-password --email admin@demo.example`)"
    ) in stale.stdout
    with sqlite3.connect(tmp_path / "demo.db") as connection:
        stored = connection.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$")
    assert "a-demo-password-for-tests" not in stored


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_postgres_quick_start(empty_database_url, tmp_path):
    env = guide_env(empty_database_url)
    py = sys.executable
    run([py, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"], tmp_path, env)
    run([py, str(ROOT / "seed_initial_data.py")], tmp_path, env)
    port = free_port()
    response = serve_until_ready(
        [py, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
        tmp_path,
        env,
        port,
        "/readyz",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
