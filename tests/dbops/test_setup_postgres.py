"""scripts/setup_postgres.sh against the real local PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.dbops import migrations
from tests.conftest import PG_ADMIN_URL, _pg_execute, free_port, require_postgres

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "setup_postgres.sh"


def run(env_updates: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    admin = make_url(PG_ADMIN_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DB_"))}
    env.update(
        {
            "PGHOST": admin.host or "127.0.0.1",
            "PGPORT": str(admin.port or 5432),
            "PGUSER": admin.username or "postgres",
        }
    )
    env.update(env_updates)
    return subprocess.run(
        [str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def names(postgres_available):
    require_postgres(postgres_available)
    name = f"mvt_setup_{uuid.uuid4().hex[:10]}"
    yield name
    asyncio.run(
        _pg_execute(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{name}"'
        )
    )


def test_setup_creates_everything_and_is_safe_to_rerun(names, tmp_path):
    env = {"DB_NAME": names, "DB_USER": names}
    first = run(env, "--write-env", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"created user {names}" in first.stderr
    assert f"created database {names}" in first.stderr
    assert "enabled extension pgcrypto" in first.stderr
    url = first.stdout.strip().removeprefix("DATABASE_URL=")
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+asyncpg"
    assert (parsed.username, parsed.database) == (names, names)
    assert len(parsed.password) == 32
    assert parsed.password.isalnum()
    env_file = tmp_path / ".env"
    assert env_file.read_text().strip() == f"DATABASE_URL={url}"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600

    # The new user can migrate its database (schema privileges) and sees both extensions.
    assert migrations.upgrade(url).at_head

    async def extensions():
        connection = await asyncpg.connect(
            parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            return {r[0] for r in await connection.fetch("SELECT extname FROM pg_extension")}
        finally:
            await connection.close()

    assert {"uuid-ossp", "pgcrypto"} <= asyncio.run(extensions())

    second = run(env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"user {names} already exists: password left unchanged" in second.stderr
    assert f"database {names} already exists" in second.stderr
    assert "extension pgcrypto already enabled" in second.stderr
    assert "NOTICE" not in second.stderr
    assert "<existing password>" in second.stdout
    assert migrations.migration_state(url).at_head  # the old password still works


def test_setup_without_a_reachable_server(tmp_path):
    result = run({"PGHOST": "127.0.0.1", "PGPORT": str(free_port())}, cwd=tmp_path)
    assert result.returncode == 4
    assert "PostgreSQL is not reachable at 127.0.0.1:" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert result.stdout == ""


def test_setup_without_psql(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "head", "tr", "sed", "env"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = run({"PATH": str(bin_dir)}, cwd=tmp_path)
    assert result.returncode == 3
    assert "psql is not installed" in result.stderr


def test_setup_refuses_odd_names(tmp_path):
    result = run({"DB_NAME": "bad-name; drop"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a plain PostgreSQL name" in result.stderr
