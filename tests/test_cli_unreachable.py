"""Every command, against a database nobody answers: one line and exit 4.

The command tree is walked, so a new command must be added here (with the
arguments that get it as far as the database) or excluded with a reason.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import uuid
from pathlib import Path

import pytest
import typer.main

from app.cli import app
from app.dbops.manifest import Manifest
from tests.conftest import TEST_SECRET, free_port, run_cli

# Arguments per command; "{backup}" and "{jsonl}" are files the test prepares.
ARGUMENTS: dict[str, list[str]] = {
    "seed": [],
    "db upgrade": [],
    "db init": [],
    "db downgrade": [],
    "db current": [],
    "db pending": [],
    "db create": ["a new migration"],
    "db backup": [],
    "db restore": ["{backup}", "--yes"],
    "db verify-backup": ["{backup}"],
    "db copy": ["--to", "sqlite+aiosqlite:///./copy.db"],
    "db status": [],
    "db monitor": [],
    "db size": [],
    "db tables": [],
    "db vacuum": ["--full", "--yes"],
    "retention run": [],
    "tenants create": ["Acme"],
    "tenants list": [],
    "users create-admin": ["--email", "root@example.com", "--password-stdin"],
    "users reset-password": ["--email", "root@example.com"],
    "api-keys create": ["--name", "ci", "--role", "admin"],
    "api-keys revoke": [str(uuid.uuid4())],
    "mandates import": ["{jsonl}", "--tenant", str(uuid.uuid4())],
    "mandates sweep": [],
    "worker": ["--once"],
    "audit seal": [],
    "audit checkpoint": [],
    "audit verify": [],
    "audit worker": [],
    "audit rotate-key": [],
}
NO_DATABASE = {
    "serve": "keeps serving and reports the database through /readyz (tests/test_cli.py)",
    "db history": "lists the migration files; it never connects",
    "demo keygen": "makes a key file; no database (tests/test_tutorial.py)",
    "demo mint": "signs a token from key files; no database (tests/test_tutorial.py)",
    "evidence verify": "checks a pack file offline (tests/evidence/test_pack_api.py)",
}


def _leaves(command: object, prefix: str = "") -> list[str]:
    commands = getattr(command, "commands", None)
    if not commands:
        return [prefix.strip()]
    found: list[str] = []
    for name, sub in commands.items():
        found += _leaves(sub, f"{prefix} {name}")
    return found


def test_every_command_is_listed() -> None:
    leaves = set(_leaves(typer.main.get_command(app)))
    assert leaves == set(ARGUMENTS) | set(NO_DATABASE)


def _postgres_backup(directory: Path) -> Path:
    backup = directory / "mandate_vault_backup_20260101_000000.sql.gz"
    backup.write_bytes(gzip.compress(b"SELECT 1;\n"))
    data = backup.read_bytes()
    Manifest(
        file=backup.name,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        engine="postgresql",
        revision=[],
        row_counts={},
        created_at="2026-01-01T00:00:00+00:00",
        tool_version="test",
    ).write(backup)
    return backup


@pytest.mark.parametrize("command", sorted(ARGUMENTS))
def test_an_unreachable_database_is_one_line_and_exit_4(command: str, tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres:s3cret@127.0.0.1:{free_port()}/vault"
    files = {"{backup}": str(_postgres_backup(tmp_path)), "{jsonl}": str(tmp_path / "in.jsonl")}
    (tmp_path / "in.jsonl").write_text('{"vc_jwt": "a.b.c"}\n')
    args = [files.get(arg, arg) for arg in ARGUMENTS[command]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    env.update({"SECRET_KEY": TEST_SECRET, "DATABASE_URL": url, "BACKUP_DIR": str(tmp_path)})
    result = run_cli(*command.split(), *args, env=env, cwd=tmp_path, stdin="Velvet-Harbour-42\n")
    assert result.returncode == 4, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "s3cret" not in result.stderr + result.stdout
