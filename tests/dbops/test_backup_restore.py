"""Backup and restore on both engines, and every fault the issue names."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
import subprocess
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.dbops.backup import create_backup, list_backups, prune_backups
from app.dbops.manifest import manifest_path
from tests.conftest import make_settings
from tests.dbops.dbops_data import bulk_audit_rows, counts, run_cli, seed

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^mandate_vault_backup_\d{8}_\d{6}(_\d+)?\.sql\.gz$")


@pytest.fixture
def backup_env(cli_env, tmp_path):
    return {**cli_env, "BACKUP_DIR": str(tmp_path / "backups")}


def only_backup(directory: Path) -> Path:
    found = sorted(directory.glob("mandate_vault_backup_*.sql.gz"))
    assert len(found) == 1, found
    return found[0]


def test_backup_restore_round_trip(database_url, backup_env, tmp_path, engine_name):
    seed(database_url, mandates=6, audits=9)
    before = counts(database_url)
    result = run_cli(backup_env, "db", "backup")
    assert result.exit_code == 0, result.output
    assert result.output == ""  # not a terminal: silent for cron
    backup = only_backup(tmp_path / "backups")
    assert NAME.match(backup.name)
    manifest = json.loads(manifest_path(backup).read_text())
    assert manifest["engine"] == ("sqlite" if engine_name == "sqlite" else "postgresql")
    assert manifest["row_counts"]["mandates"] == 6
    assert manifest["row_counts"]["audit_log"] == 9
    assert manifest["revision"]
    assert manifest["tool_version"].startswith("mandate-vault")
    assert manifest["size_bytes"] == backup.stat().st_size
    assert len(manifest["sha256"]) == 64
    datetime.fromisoformat(manifest["created_at"])

    seed(database_url, mandates=3, audits=1)  # changes made after the backup
    changed = counts(database_url)
    result = run_cli(backup_env, "db", "restore", str(backup), "--yes")
    assert result.exit_code == 0, result.output
    assert counts(database_url) == before
    safety = list((tmp_path / "backups").glob("mandate_vault_safety_backup_*.sql.gz"))
    assert len(safety) == 1
    safety_counts = json.loads(manifest_path(safety[0]).read_text())["row_counts"]
    assert safety_counts["mandates"] == changed["mandates"]


@pytest.mark.parametrize("answer", [None, "", "no\n", "y\n", "YES please\n"])
def test_restore_without_a_yes_changes_nothing(database_url, backup_env, tmp_path, answer):
    seed(database_url)
    assert run_cli(backup_env, "db", "backup").exit_code == 0
    backup = only_backup(tmp_path / "backups")
    seed(database_url, mandates=2)
    before = counts(database_url)
    result = run_cli(backup_env, "db", "restore", str(backup), input=answer)
    assert result.exit_code == 1
    assert "nothing was changed" in result.output
    assert "mandates" in result.output  # the plan was shown
    assert counts(database_url) == before
    assert not list((tmp_path / "backups").glob("mandate_vault_safety_*"))


def test_restore_with_yes_typed(database_url, backup_env, tmp_path):
    seed(database_url, mandates=1)
    assert run_cli(backup_env, "db", "backup").exit_code == 0
    seed(database_url, mandates=4)
    result = run_cli(
        backup_env, "db", "restore", str(only_backup(tmp_path / "backups")), input="yes\n"
    )
    assert result.exit_code == 0, result.output
    assert counts(database_url)["mandates"] == 1


def _writer(url: str, stop: threading.Event, written: list[int]) -> None:
    async def loop():
        from app.core.database import Database
        from app.models import AuditLog, Tenant
        from tests.factories import audit_row

        database = Database(make_settings(url))
        try:
            while not stop.is_set():
                async with database.sessions() as session, session.begin():
                    tenant = Tenant(name="w", slug=f"w-{time.perf_counter_ns()}")
                    session.add(tenant)
                    await session.flush()
                    session.add(AuditLog(**audit_row(tenant.id)))
                written.append(1)
        finally:
            await database.dispose()

    asyncio.run(loop())


def test_backup_while_writing_is_consistent(database_url, tmp_path):
    """Each write adds a customer and its audit row together; a consistent backup
    holds as many of one as of the other, and restores to its manifest."""
    seed(database_url, mandates=0, audits=0)
    stop, written = threading.Event(), []
    thread = threading.Thread(target=_writer, args=(database_url, stop, written))
    thread.start()
    try:
        while len(written) < 5:
            time.sleep(0.01)
        settings = make_settings(database_url, backup_dir=str(tmp_path / "b"))
        result = create_backup(settings)
        count_at_backup = len(written)
    finally:
        stop.set()
        thread.join()
    rows = result.manifest.row_counts
    assert rows["customers"] == rows["audit_log"] + 1  # +1: the seeded tenant
    assert rows["audit_log"] >= 5
    assert len(written) > count_at_backup or rows["audit_log"] <= len(written)
    # The dump holds exactly the rows the manifest counts.
    from app.dbops.restore import apply_backup

    apply_backup(result.path, result.manifest, settings.database, settings)
    assert counts(database_url)["audit_log"] == rows["audit_log"]


def _flip_a_bit_that_matters(data: bytearray) -> None:
    """Flip one bit, from the middle on, where it changes what the stream holds. A flip
    in the distance of a back-reference into a run of equal bytes can leave the content
    as it was, and such a file is rightly restored: that is no damage to catch."""
    original = zlib.decompress(bytes(data), wbits=31)
    for at in range(len(data) // 2, len(data)):
        data[at] ^= 0x10
        try:
            same = zlib.decompress(bytes(data), wbits=31) == original
        except zlib.error:
            return
        if not same:
            return  # content changed under a valid CRC: the restore must still refuse it
        data[at] ^= 0x10
    raise AssertionError("no single bit flip changes this stream")


def _damage(backup: Path, how: str) -> None:
    data = bytearray(backup.read_bytes())
    if how == "truncated":
        backup.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "bit-flipped":
        data[len(data) // 2] ^= 0x10
        backup.write_bytes(bytes(data))
    elif how == "bit-flipped-manifest-rewritten":
        # Even with a manifest that matches the damaged file, the gzip CRC catches it.
        _flip_a_bit_that_matters(data)
        backup.write_bytes(bytes(data))
        manifest = json.loads(manifest_path(backup).read_text())
        manifest["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
        manifest_path(backup).write_text(json.dumps(manifest))
    elif how == "manifest-missing":
        manifest_path(backup).unlink()
    elif how == "file-missing":
        backup.unlink()


@pytest.mark.parametrize(
    ("how", "fragment"),
    [
        ("truncated", "bytes on disk but the manifest says"),
        ("bit-flipped", "SHA-256 does not match"),
        ("bit-flipped-manifest-rewritten", "gzip stream is damaged"),
        ("manifest-missing", "manifest"),
        ("file-missing", "no such file"),
    ],
)
def test_damaged_backup_is_refused_before_anything_changes(
    database_url, backup_env, tmp_path, how, fragment
):
    seed(database_url, mandates=30)
    assert run_cli(backup_env, "db", "backup").exit_code == 0
    backup = only_backup(tmp_path / "backups")
    seed(database_url, mandates=1)
    before = counts(database_url)
    _damage(backup, how)
    for command in (["db", "restore", str(backup), "--yes"], ["db", "verify-backup", str(backup)]):
        result = run_cli(backup_env, *command)
        assert result.exit_code == 3, result.output
        assert fragment in result.output
        assert "Traceback" not in result.output
    assert counts(database_url) == before
    assert not list((tmp_path / "backups").glob("mandate_vault_safety_*"))


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_backup_of_the_other_engine_is_refused(database_url, backup_env, tmp_path):
    from app.dbops import migrations

    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    migrations.upgrade(sqlite_url)
    seed(sqlite_url)
    sqlite_env = {**backup_env, "DATABASE_URL": sqlite_url, "BACKUP_DIR": str(tmp_path / "s")}
    assert run_cli(sqlite_env, "db", "backup").exit_code == 0
    assert run_cli(backup_env, "db", "backup").exit_code == 0
    sqlite_backup = only_backup(tmp_path / "s")
    pg_backup = only_backup(tmp_path / "backups")
    pg_before, sqlite_before = counts(database_url), counts(sqlite_url)

    result = run_cli(backup_env, "db", "restore", str(sqlite_backup), "--yes")
    assert result.exit_code == 2
    assert "is a SQLite backup but DATABASE_URL points at PostgreSQL" in result.output
    assert "db copy" in result.output
    result = run_cli(sqlite_env, "db", "restore", str(pg_backup), "--yes")
    assert result.exit_code == 2
    assert "is a PostgreSQL backup but DATABASE_URL points at SQLite" in result.output
    assert (counts(database_url), counts(sqlite_url)) == (pg_before, sqlite_before)


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_backup_dir_that_cannot_be_written(database_url, cli_env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_cli({**cli_env, "BACKUP_DIR": str(blocker / "backups")}, "db", "backup")
    assert result.exit_code == 5
    assert "BACKUP_DIR" in result.output
    assert "cannot be created" in result.output


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


@pytest.mark.parametrize("case", ["full", "read-only"])
def test_full_or_read_only_backup_dir(database_url, cli_env, tmp_path, case):
    target = tmp_path / "small"
    if not _mount_tmpfs(target, "size=32k" if case == "full" else "size=1m,ro"):
        pytest.skip("cannot mount a tmpfs here (needs root) to play a full or read-only disk")
    try:
        seed(database_url, mandates=400, audits=400)
        result = run_cli({**cli_env, "BACKUP_DIR": str(target)}, "db", "backup")
        assert result.exit_code == 5, result.output
        if case == "full":
            assert "no space left" in result.output
            assert "no backup was kept" in result.output
        else:
            assert "cannot write the backup" in result.output
        assert list(target.iterdir()) == []  # no partial file left behind
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_restore_that_fails_its_check_puts_the_safety_backup_back(
    database_url, backup_env, tmp_path
):
    seed(database_url, mandates=4)
    assert run_cli(backup_env, "db", "backup").exit_code == 0
    backup = only_backup(tmp_path / "backups")
    manifest = json.loads(manifest_path(backup).read_text())
    manifest["row_counts"]["mandates"] = 999  # the restore will not match this
    manifest_path(backup).write_text(json.dumps(manifest))
    seed(database_url, mandates=2)
    before = counts(database_url)
    result = run_cli(backup_env, "db", "restore", str(backup), "--yes")
    assert result.exit_code == 6, result.output
    assert "mandates: 4 rows instead of 999" in result.output
    assert "safety backup" in result.output
    assert "was put back" in result.output
    assert counts(database_url) == before


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_postgres_stopped_halfway_through_a_restore(database_url, backup_env, tmp_path):
    """The restore's backend is killed mid-COPY: the safety backup is put back."""
    seed(database_url, mandates=3)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)

    bulk_audit_rows(dsn, 300_000)
    assert run_cli(backup_env, "db", "backup").exit_code == 0
    backup = only_backup(tmp_path / "backups")
    seed(database_url, mandates=5, audits=0)
    before = counts(database_url)
    killed: list[int] = []

    def killer():
        async def run():
            connection = await asyncpg.connect(dsn)
            try:
                for _ in range(1500):
                    pid = await connection.fetchval(
                        # This test's own database only: restores of other tests run
                        # beside it on the same server.
                        "SELECT pid FROM pg_stat_activity WHERE application_name = "
                        "'mandate-vault-restore' AND state = 'active' AND query LIKE 'COPY%' "
                        "AND datname = current_database()"
                    )
                    if pid:
                        await connection.execute("SELECT pg_terminate_backend($1)", pid)
                        killed.append(pid)
                        return
                    await asyncio.sleep(0.01)
            finally:
                await connection.close()

        asyncio.run(run())

    thread = threading.Thread(target=killer)
    thread.start()
    result = run_cli(backup_env, "db", "restore", str(backup), "--yes")
    thread.join()
    assert killed, "the restore finished before it could be stopped"
    assert result.exit_code == 6, result.output
    assert "restore failed" in result.output
    assert "was put back" in result.output
    assert counts(database_url) == before


def test_prune_keeps_the_newest_and_removes_expired(tmp_path, database_url):
    settings = make_settings(
        database_url, backup_dir=str(tmp_path), backup_retention_days=30, backup_keep_min=2
    )
    now = datetime(2026, 6, 1, tzinfo=UTC)
    for days in (100, 90, 45, 31, 29, 1):
        stamp = (now - timedelta(days=days)).strftime("%Y%m%d_%H%M%S")
        (tmp_path / f"mandate_vault_backup_{stamp}.sql.gz").write_bytes(b"x")
        (tmp_path / f"mandate_vault_backup_{stamp}.manifest.json").write_text("{}")
    (tmp_path / "unrelated.sql.gz").write_bytes(b"keep me")
    removed = prune_backups(tmp_path, settings, now=now)
    assert len(removed) == 4
    left = [p.name for _, p in list_backups(tmp_path)]
    assert len(left) == 2
    assert (tmp_path / "unrelated.sql.gz").exists()
    assert len(list(tmp_path.glob("*.manifest.json"))) == 2

    # All older than the retention: the newest BACKUP_KEEP_MIN stay anyway.
    removed = prune_backups(tmp_path, settings, now=now + timedelta(days=400))
    assert removed == []


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_shell_shims(database_url, backup_env, tmp_path):
    seed(database_url)
    done = subprocess.run(
        [str(ROOT / "scripts" / "backup_database.sh")],
        env=backup_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    backup = only_backup(tmp_path / "backups")
    with gzip.open(backup, "rt") as handle:
        assert "CREATE TABLE" in handle.read()
    usage = subprocess.run(
        [str(ROOT / "scripts" / "restore_database.sh")],
        env=backup_env,
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 2
    assert "usage" in usage.stderr
    done = subprocess.run(
        [str(ROOT / "scripts" / "restore_database.sh"), str(backup)],
        env=backup_env,
        input="no\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "nothing was changed" in done.stderr


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_sqlite_restore_keeps_the_running_service_connections_valid(
    database_url, backup_env, tmp_path
):
    """The live file is replaced in one transaction, not renamed: a service that
    keeps its pooled connections open sees the restored data, not a stale inode."""
    from sqlalchemy import func, select

    from app.core.database import Database
    from app.models import Mandate
    from tests.dbops.dbops_data import seed_async

    await seed_async(database_url, mandates=2)
    service = Database(make_settings(database_url))
    try:
        async with service.read_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Mandate)) == 2
        await asyncio.to_thread(run_cli, backup_env, "db", "backup")
        await seed_async(database_url, mandates=5)
        backup = only_backup(tmp_path / "backups")
        result = await asyncio.to_thread(run_cli, backup_env, "db", "restore", str(backup), "--yes")
        assert result.exit_code == 0, result.output
        async with service.read_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Mandate)) == 2
        async with service.sessions() as session, session.begin():
            from tests.factories import mandate_row

            tenant = (await session.execute(select(Mandate.tenant_id))).scalars().first()
            session.add(Mandate(**mandate_row(tenant)))
        from tests.dbops.dbops_data import counts_async

        assert (await counts_async(database_url))["mandates"] == 3
    finally:
        await service.dispose()
