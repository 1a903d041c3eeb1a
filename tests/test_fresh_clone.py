"""The guide's commands in a fresh checkout with nothing installed, as a new user
types them: the root scripts make `.venv` themselves and run inside it.

The checkout is the repository's files as a clone has them (tracked and new,
nothing ignored: no `.venv`, `.env` or database), copied from the working tree so
the test sees uncommitted work too. pip's cache (~/.cache/pip, or PIP_CACHE_DIR)
is left on, so after the first run the install takes wheels from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.dbops.migrations import head_revisions

ROOT = Path(__file__).resolve().parents[1]
SECRET = "fresh-clone-secret-" + "y" * 32

pytestmark = pytest.mark.slow


def checkout(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if not source.is_file():  # deleted in the working tree
            continue
        destination = target / os.fsdecode(name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.read_bytes())
        destination.chmod(source.stat().st_mode & 0o777)
    return target


def base_python() -> str:
    """The interpreter the test's virtualenv was made from: no project packages."""
    return getattr(sys, "_base_executable", None) or sys.executable


def plain_env(**extra: str) -> dict[str, str]:
    """A shell with no virtualenv active and none of the suite's settings."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    skipped = ("VIRTUAL_ENV", "PYTHONPATH", "MANDATE_VAULT_ENV_FILE", "PYTHONHOME")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in skipped and not k.startswith(("DB_", "DEMO_", "DATABASE_URL", "SECRET_KEY"))
    }
    env.update({"PATH": path, **extra})
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=540, check=False
    )


def test_root_scripts_work_in_a_fresh_clone_with_nothing_installed(tmp_path: Path) -> None:
    clone = checkout(tmp_path / "clone")
    assert not (clone / ".venv").exists()
    python = base_python()
    probe = run([python, "-c", "import typer"], clone, plain_env())
    assert probe.returncode != 0, "the base interpreter must not have the project's packages"
    env = plain_env(SECRET_KEY=SECRET, DATABASE_URL="sqlite+aiosqlite:///./test.db")

    created = run([python, "create_users_table.py"], clone, env)
    assert created.returncode == 0, created.stdout + created.stderr
    assert (
        f"create_users_table.py: creating {clone / '.venv'} and installing the project into it"
        in created.stderr
    )
    assert (
        f"create_users_table.py: running inside the project's virtualenv ({clone / '.venv'})"
        in created.stderr
    )
    assert "pending: none" in created.stdout
    assert (clone / ".venv" / ".runtime-stamp").exists()

    seeded = run([python, "seed_initial_data.py"], clone, env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    bootstrap_lines = [
        line for line in seeded.stderr.splitlines() if line.startswith("seed_initial_data.py:")
    ]
    assert bootstrap_lines == [
        f"seed_initial_data.py: running inside the project's virtualenv ({clone / '.venv'})"
    ]
    login = next(line for line in seeded.stdout.splitlines() if line.startswith("Demo login:"))
    password = login.split(" / ")[1].split(" ")[0]
    assert login == (
        f"Demo login: admin@demo.example / {password} "
        f"(generated; saved as DEMO_ADMIN_PASSWORD in {clone / '.env'})"
    )
    assert (clone / ".env").read_text() == f"DEMO_ADMIN_PASSWORD={password}\n"
    assert (clone / ".env").stat().st_mode & 0o777 == 0o600

    again = run([python, "seed_initial_data.py"], clone, env)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout
    assert (
        f"Demo login: admin@demo.example / {password} "
        f"(DEMO_ADMIN_PASSWORD in {clone / '.env'})" in again.stdout
    )

    migrations = run([python, "scripts/manage_migrations.py", "current"], clone, env)
    assert migrations.returncode == 0, migrations.stderr
    assert migrations.stdout.split() == list(head_revisions())

    # The installed command, from another folder: it reads the checkout's .env and,
    # when a setting is missing, says which file it read.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = run([str(clone / ".venv/bin/mandate-vault"), "db", "current"], elsewhere, plain_env())
    assert missing.returncode == 2
    assert missing.stderr == (
        "error: SECRET_KEY is not set (required; see env.example; "
        f"read the environment and {clone / '.env'})\n"
    )
