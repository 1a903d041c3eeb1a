"""How the service starts for a person: which settings file is read, what a missing
setting says, loud warnings for unsafe settings, one log line per request, and a
port that is already taken."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.core.config import (
    ENV_FILE_VARIABLE,
    EXAMPLE_SECRETS,
    SettingsError,
    env_file_candidates,
    find_env_file,
    load_settings,
    startup_warnings,
)
from tests.conftest import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SECRET = "change-me-to-a-random-string-of-at-least-32-characters"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DB_", "DEMO_", "DATABASE_URL", "SECRET_KEY", "ENVIRONMENT"))
        and k not in {"DEBUG", "PORT", "HOST", "LOG_LEVEL", "METRICS_TOKEN"}
    }
    env.update({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}", **extra})
    return env


# --- the settings file ------------------------------------------------------------------


def test_the_named_settings_file_wins_and_must_exist(tmp_path: Path) -> None:
    named = tmp_path / "vault.env"
    named.write_text("SECRET_KEY=x\n")
    (tmp_path / ".env").write_text("SECRET_KEY=y\n")
    assert find_env_file({ENV_FILE_VARIABLE: str(named)}, cwd=tmp_path) == named
    with pytest.raises(SettingsError, match=rf"^{ENV_FILE_VARIABLE}=.*missing.env: no such file$"):
        find_env_file({ENV_FILE_VARIABLE: str(tmp_path / "missing.env")}, cwd=tmp_path)


def test_the_working_directory_then_the_project_root(tmp_path: Path) -> None:
    candidates = env_file_candidates(tmp_path)
    assert candidates == [tmp_path / ".env", ROOT / ".env"]
    (tmp_path / ".env").write_text("SECRET_KEY=x\n")
    assert find_env_file({}, cwd=tmp_path) == tmp_path / ".env"


def test_a_missing_setting_says_which_file_was_read(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as nothing:
        load_settings(_env_file=None)
    looked = " and ".join(str(path) for path in env_file_candidates())
    assert str(nothing.value) == (
        "SECRET_KEY is not set (required; see env.example; read the environment only: "
        f"no {looked}; or set {ENV_FILE_VARIABLE})"
    )
    named = tmp_path / "vault.env"
    named.write_text("LOG_LEVEL=INFO\n")
    with pytest.raises(SettingsError) as read:
        load_settings(_env_file=named)
    assert str(read.value).endswith(f"read the environment and {named})")


def test_the_command_reads_the_named_file_from_anywhere(tmp_path: Path) -> None:
    named = tmp_path / "settings" / "vault.env"
    named.parent.mkdir()
    named.write_text(
        f"SECRET_KEY={TEST_SECRET}\nDATABASE_URL=sqlite+aiosqlite:///{tmp_path / 'named.db'}\n"
    )
    env = clean_env(tmp_path, **{ENV_FILE_VARIABLE: str(named)})
    env.pop("DATABASE_URL")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "named.db").exists()
    named.write_text("LOG_LEVEL=INFO\n")
    missing = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "current"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr == (
        "error: SECRET_KEY is not set (required; see env.example; "
        f"read the environment and {named})\n"
    )


# --- warnings ---------------------------------------------------------------------------


def test_env_example_carries_a_known_example_secret() -> None:
    example = (ROOT / "env.example").read_text()
    assert f"\nSECRET_KEY={EXAMPLE_SECRET}\n" in example
    assert EXAMPLE_SECRET in EXAMPLE_SECRETS


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"secret_key": TEST_SECRET}, []),
        ({"secret_key": TEST_SECRET, "debug": True}, []),  # development
        ({"secret_key": EXAMPLE_SECRET}, ["SECRET_KEY is an example value"]),
        ({"secret_key": TEST_SECRET, "debug": True, "environment": "test"}, ["DEBUG=true"]),
        (
            {"secret_key": EXAMPLE_SECRET, "debug": True, "environment": "test"},
            ["SECRET_KEY is an example value", "DEBUG=true"],
        ),
        ({"secret_key": TEST_SECRET, "environment": "staging"}, ["METRICS_ENABLED with"]),
        (
            {"secret_key": TEST_SECRET, "environment": "staging", "metrics_enabled": False},
            [],
        ),
        (
            {"secret_key": TEST_SECRET, "environment": "staging", "metrics_allowed_ips": "::1"},
            [],
        ),
    ],
)
def test_unsafe_settings_are_named(values: dict, expected: list[str]) -> None:
    warnings = startup_warnings(load_settings(_env_file=None, **values))
    assert len(warnings) == len(expected)
    for warning, start in zip(warnings, expected, strict=True):
        assert warning.startswith(start), warning


def _serve(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None:
                pytest.fail(f"server exited: {process.communicate()[0]}")
            time.sleep(0.1)
    pytest.fail("server did not start in 30 s")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    return process.communicate(timeout=15)[0]


def test_plain_uvicorn_warns_loudly_and_logs_each_request_once(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        tmp_path, SECRET_KEY=EXAMPLE_SECRET, ENVIRONMENT="test", DEBUG="true", LOG_LEVEL="INFO"
    )
    server = _serve(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)], env, ROOT
    )
    try:
        _wait_for(port, server)
        httpx.get(f"http://127.0.0.1:{port}/api/v1/auth/me", timeout=5)
    finally:
        output = _stop(server)
    unsafe = [line for line in output.splitlines() if "unsafe_setting" in line]
    assert len(unsafe) == 2, output
    assert all(re.search(r"\[error\s*\]", line) for line in unsafe), unsafe
    assert "SECRET_KEY is an example value" in unsafe[0]
    assert "DEBUG=true with ENVIRONMENT=test" in unsafe[1]
    logged = [line for line in output.splitlines() if "/api/v1/auth/me" in line]
    assert len(logged) == 1, output
    assert "status=401" in logged[0]


def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    env = clean_env(tmp_path, SECRET_KEY=TEST_SECRET, ENVIRONMENT="test")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        taken = subprocess.run(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert taken.returncode == 2
    assert taken.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use: another program is listening "
        f"there (`ss -ltnp 'sport = :{port}'` names it). Stop it, or pick another port: "
        f"`make run PORT={port + 1}`, `mandate-vault serve --port {port + 1}` or "
        f"PORT={port + 1} in .env\n"
    )


def test_port_comes_from_the_environment_and_a_second_vault_is_named(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path, SECRET_KEY=TEST_SECRET, ENVIRONMENT="test", PORT=str(port))
    subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    first = _serve([sys.executable, "-m", "app.cli", "serve"], env, tmp_path)
    try:
        _wait_for(port, first)
        second = subprocess.run(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        output = _stop(first)
    assert (
        f"Dashboard: http://127.0.0.1:{port}/   API docs: http://127.0.0.1:{port}/docs   "
        f"Metrics: http://127.0.0.1:{port}/metrics"
    ) in output
    assert second.returncode == 2
    assert second.stderr.startswith(
        f"error: port {port} on 127.0.0.1 is already in use: a Mandate Vault (0.1.0) is "
        "already running there. Stop it, or pick another port"
    )


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, []),
        ({"PORT": "9123"}, ["--port", "9123"]),
        ({"PORT": "9123", "HOST": "0.0.0.0"}, ["--host", "0.0.0.0", "--port", "9123"]),
    ],
)
def test_make_run_passes_port_and_host_on(variables: dict[str, str], expected: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PORT", "HOST"}}
    dry = subprocess.run(
        ["make", "-n", "run", *(f"{k}={v}" for k, v in variables.items())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    serve = [line.split() for line in dry.stdout.splitlines() if " serve" in line]
    assert serve == [[".venv/bin/mandate-vault", "serve", *expected]]
