"""The guide's emergency procedures: a plain dump without a manifest restores
after an explicit, separate confirmation that says what cannot be checked; the
database size, largest tables and VACUUM have `mandate-vault db` commands."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.dbops.backup import sqlite_path
from tests.conftest import run_command
from tests.dbops.dbops_data import counts, run_cli, seed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backup_env(cli_env, tmp_path):
    return {**cli_env, "BACKUP_DIR": str(tmp_path / "backups")}


def plain_dump(database_url: str, target: Path) -> Path:
    """The guide's emergency backup: `pg_dump DB | gzip`, or `sqlite3 DB .dump | gzip`."""
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        connection = sqlite3.connect(sqlite_path(url))
        try:
            text = "PRAGMA foreign_keys=OFF;\n" + "\n".join(connection.iterdump()) + "\n"
        finally:
            connection.close()
        data = text.encode()
    else:
        pg_dump = shutil.which("pg_dump")
        assert pg_dump, "pg_dump (postgresql-client) is needed"
        data = subprocess.run(
            [
                pg_dump,
                "-h",
                url.host,
                "-p",
                str(url.port or 5432),
                "-U",
                url.username,
                url.database,
            ],
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
    target.write_bytes(gzip.compress(data))
    return target


def test_a_plain_dump_restores_after_its_own_confirmation(database_url, backup_env, tmp_path):
    seed(database_url, mandates=4, audits=3)
    good = counts(database_url)
    dump = plain_dump(database_url, tmp_path / "emergency_backup.sql.gz")
    seed(database_url, mandates=2, audits=5)  # damage after the dump
    assert counts(database_url) != good

    # Without --no-manifest: refused, the way out named, nothing changed (and --yes is not enough).
    refused = run_cli(backup_env, "db", "restore", str(dump), "--yes")
    assert refused.exit_code == 3, refused.output
    assert "--no-manifest" in refused.output
    # With it, the operator is told what was checked and what cannot be, and asked.
    declined = run_cli(backup_env, "db", "restore", str(dump), "--no-manifest", input="no\n")
    assert declined.exit_code == 1, declined.output
    assert "What CANNOT be checked without a manifest" in declined.output
    assert "the whole gzip stream" in declined.output
    assert "trial restore into" in declined.output
    assert counts(database_url) != good

    done = run_cli(backup_env, "db", "restore", str(dump), "--no-manifest", input="yes\n")
    assert done.exit_code == 0, done.output
    assert "rows checked against the trial restore" in done.output
    assert counts(database_url) == good
    safety = list((tmp_path / "backups").glob("mandate_vault_safety_backup_*.sql.gz"))
    assert len(safety) == 1  # the usual safety backup of what was replaced


def test_a_damaged_or_foreign_plain_dump_changes_nothing(database_url, backup_env, tmp_path):
    seed(database_url, mandates=2, audits=1)
    before = counts(database_url)
    dump = plain_dump(database_url, tmp_path / "dump.sql.gz")
    truncated = tmp_path / "truncated.sql.gz"
    truncated.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    result = run_cli(backup_env, "db", "restore", str(truncated), "--no-manifest", "--yes")
    assert result.exit_code == 3, result.output
    assert "gzip stream is damaged" in result.output
    foreign = tmp_path / "foreign.sql.gz"
    foreign.write_bytes(gzip.compress(b"hello, this is not SQL\n"))
    result = run_cli(backup_env, "db", "restore", str(foreign), "--no-manifest", "--yes")
    assert result.exit_code == 2, result.output
    assert counts(database_url) == before


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_the_guide_restore_script_takes_a_plain_dump(database_url, backup_env, tmp_path):
    """`./scripts/restore_database.sh backups/last_good_backup.sql.gz`, as the guide runs it."""
    seed(database_url, mandates=3, audits=2)
    good = counts(database_url)
    backups = tmp_path / "backups"
    backups.mkdir()
    dump = plain_dump(database_url, backups / "last_good_backup.sql.gz")
    seed(database_url, mandates=1, audits=1)
    script = str(ROOT / "scripts" / "restore_database.sh")
    first = run_command([script, str(dump)], env=backup_env, cwd=ROOT)
    assert first.returncode == 3
    assert "--no-manifest" in first.stderr
    done = run_command(
        [script, str(dump), "--no-manifest"], env=backup_env, cwd=ROOT, stdin="yes\n"
    )
    assert done.returncode == 0, done.stderr
    assert counts(database_url) == good


def test_size_tables_and_vacuum(database_url, backup_env, engine_name):
    seed(database_url, mandates=20, audits=30)
    size = run_cli(backup_env, "db", "size", "--json")
    assert size.exit_code == 0, size.output
    assert '"bytes"' in size.output
    tables = run_cli(backup_env, "db", "tables", "--limit", "3")
    assert tables.exit_code == 0, tables.output
    assert len(tables.output.strip().splitlines()) == 4  # header and three tables
    assert "audit_log" in run_cli(backup_env, "db", "tables").output

    # The exclusive one is asked for: no answer, no VACUUM FULL.
    full = run_cli(backup_env, "db", "vacuum", "--full", input="\n")
    assert full.exit_code == 1, full.output
    assert "exclusive lock" in full.output
    assert "aborted: nothing was changed" in full.output
    done = run_cli(backup_env, "db", "vacuum", "--full", input="yes\n")
    assert done.exit_code == 0, done.output
    assert "freed" in done.output
    plain = run_cli(backup_env, "db", "vacuum")
    if engine_name == "postgres":  # plain VACUUM (ANALYZE) takes no exclusive lock
        assert plain.exit_code == 0, plain.output
        assert "VACUUM (ANALYZE) done" in plain.output
    else:  # SQLite's VACUUM always rewrites the file: asked for too
        assert plain.exit_code == 1, plain.output
