"""Restore: check everything first, take a safety backup, replace, verify, and
put the safety backup back on any failure.

PostgreSQL: the old tables are dropped and the dump replayed by `psql` in ONE
transaction (`--single-transaction`, `ON_ERROR_STOP`): a failure or a server
that stops halfway leaves the old data, never half of the new.
SQLite: the dump is replayed into a temporary file next to the database and
checked there; then SQLite's backup API copies it over the live database in a
single write transaction, so readers see the old or the new database, and the
connections a running service holds stay valid (a rename would strand them on
the old inode and break WAL).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL

from app.core.config import Settings, backend_of
from app.core.database import create_engine_for
from app.core.logging import get_logger
from app.dbops import inventory
from app.dbops.backup import SAFETY_PREFIX, BackupResult, create_backup, sqlite_path
from app.dbops.errors import (
    BackupInvalid,
    DatabaseUnreachable,
    DbOpsError,
    Refused,
    RestoreRolledBack,
    RestoreUnrecovered,
)
from app.dbops.manifest import CHUNK, Manifest, manifest_path, verify_backup_file
from app.dbops.migrations import script_directory

Progress = Callable[[int], None]
ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# Old tables are dropped inside the restore's transaction; waiting on a lock the
# running service holds is bounded so a busy database fails cleanly.
LOCK_TIMEOUT = "60s"


@dataclass
class Snapshot:
    revision: list[str]
    row_counts: dict[str, int]


@dataclass
class RestorePlan:
    backup: Path
    manifest: Manifest
    url: URL
    target: str
    current: Snapshot | None  # None: the database does not exist yet (SQLite)

    def describe(self) -> str:
        m = self.manifest
        lines = [
            f"Restore {self.backup}",
            f"  target:   {self.target} ({ENGINE_NAMES[m.engine]})",
            f"  backup:   taken {m.created_at} by {m.tool_version}, revision "
            f"{', '.join(m.revision) or '(none)'}",
        ]
        current = self.current
        now = current.revision if current else []
        lines.append(f"  current:  revision {', '.join(now) or '(none)'}")
        tables = sorted(set(m.row_counts) | set(current.row_counts if current else {}))
        lines.append(f"  {'table':<24}{'now':>12}{'after restore':>16}")
        for name in tables:
            before = current.row_counts.get(name, "-") if current else "-"
            after = m.row_counts.get(name, "-")
            lines.append(f"  {name:<24}{before!s:>12}{after!s:>16}")
        lines.append("Everything now in the target is replaced.")
        return "\n".join(lines)


async def _snapshot(url: URL, settings: Settings) -> Snapshot:
    engine = create_engine_for(url, settings, writer=False, pooled=False)
    try:
        async with engine.connect() as connection:
            return Snapshot(
                await inventory.revision(connection), await inventory.row_counts(connection)
            )
    except Exception as error:
        raise inventory.unreachable(inventory.display_url(url), error) from None
    finally:
        await engine.dispose()


def snapshot_of(url: URL, settings: Settings) -> Snapshot | None:
    if backend_of(url) == "sqlite" and not sqlite_path(url).exists():
        return None
    return asyncio.run(_snapshot(url, settings))


def check_engine(manifest: Manifest, url: URL, backup: Path) -> None:
    target = backend_of(url)
    if manifest.engine != target:
        raise Refused(
            f"{backup} is a {ENGINE_NAMES[manifest.engine]} backup but DATABASE_URL points at "
            f"{ENGINE_NAMES[target]}; a backup is restored into the engine it came from. "
            f"Restore it into a {ENGINE_NAMES[manifest.engine]} database and use "
            "`mandate-vault db copy --to URL` to move data between engines. Nothing was changed."
        )


def check_revision(manifest: Manifest, backup: Path) -> None:
    known = {rev.revision for rev in script_directory().walk_revisions()}
    unknown = [rev for rev in manifest.revision if rev not in known]
    if unknown:
        raise Refused(
            f"{backup} is at revision {', '.join(unknown)}, which this code does not know "
            "(taken by a newer release); restore it with that release. Nothing was changed."
        )


def plan_restore(settings: Settings, backup: Path, url: URL | None = None) -> RestorePlan:
    """Every check that needs no change: file, checksum, gzip, manifest, engine, target."""
    url = url or settings.database
    if backup.is_file() and not manifest_path(backup).is_file():
        raise BackupInvalid(
            f"{backup}: its manifest {manifest_path(backup).name} is missing, so the file cannot "
            "be checked against what the backup wrote. To restore a plain dump anyway (such as "
            "`pg_dump mandate_vault | gzip`), run again with --no-manifest: the gzip stream, the "
            "engine and a trial restore into a scratch database are checked first, and you are "
            "told what cannot be. Nothing was changed."
        )
    manifest = verify_backup_file(backup)
    check_engine(manifest, url, backup)
    check_revision(manifest, backup)
    current = snapshot_of(url, settings)
    return RestorePlan(backup, manifest, url, inventory.display_url(url), current)


def _decompressed(backup: Path) -> Iterator[bytes]:
    with gzip.open(backup, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


# ---- PostgreSQL ---------------------------------------------------------


async def _drop_statements(url: URL, settings: Settings) -> str:
    """SQL dropping every table, view, sequence and type of the public schema."""
    engine = create_engine_for(url, settings, pooled=False)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    """
                    SELECT c.relkind::text, c.relname::text FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                                      AND d.deptype IN ('e', 'a', 'i'))
                    UNION ALL
                    SELECT 'T'::text, t.typname::text FROM pg_type t
                    JOIN pg_namespace n ON n.oid = t.typnamespace
                    WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r')
                      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid
                                      AND d.deptype = 'e')
                    """
                )
            )
            found = rows.all()
    except Exception as error:
        raise inventory.unreachable(inventory.display_url(url), error) from None
    finally:
        await engine.dispose()
    kinds = {
        "r": "TABLE",
        "p": "TABLE",
        "f": "FOREIGN TABLE",
        "v": "VIEW",
        "m": "MATERIALIZED VIEW",
        "S": "SEQUENCE",
        "T": "TYPE",
    }
    order = "vmrpfST"
    statements = [f"SET lock_timeout = '{LOCK_TIMEOUT}';"]
    for kind, name in sorted(found, key=lambda row: order.index(row[0])):
        statements.append(f"DROP {kinds[kind]} IF EXISTS public.{inventory.quote(name)} CASCADE;")
    return "\n".join(statements) + "\nRESET lock_timeout;\n"


def _apply_postgres(backup: Path, url: URL, settings: Settings, progress: Progress | None) -> None:
    from app.dbops.pgclient import libpq_env, tool

    prefix = asyncio.run(_drop_statements(url, settings))
    command = [tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"]
    env = libpq_env(url, settings, "mandate-vault-restore")
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None
    assert process.stderr is not None
    errors: list[bytes] = []
    stderr = process.stderr
    reader = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
    reader.start()
    broken = False
    try:
        process.stdin.write(prefix.encode())
        for chunk in _decompressed(backup):
            process.stdin.write(chunk)
            if progress:
                progress(len(chunk))
    except BrokenPipeError:
        broken = True  # psql stopped early; its exit status and message say why
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        try:
            process.stdin.close()
        except BrokenPipeError:
            broken = True
    code = process.wait()
    reader.join()
    if code != 0 or broken:
        lines = b"".join(errors).decode(errors="replace").strip().splitlines()
        detail = next((line for line in lines if "ERROR" in line or "FATAL" in line), None)
        raise DatabaseUnreachable(
            f"psql failed (exit {code}): {detail or (lines[-1] if lines else 'no message')}"
        )


# ---- SQLite -------------------------------------------------------------


def _apply_sqlite(backup: Path, url: URL, manifest: Manifest, settings: Settings) -> None:
    live = sqlite_path(url)
    temporary = live.with_name(f".{live.name}.restore-{os.getpid()}.tmp")
    for leftover in (temporary, temporary.with_name(temporary.name + "-journal")):
        leftover.unlink(missing_ok=True)
    try:
        script = b"".join(_decompressed(backup)).decode()
        page_size = 4096
        if live.exists():
            probe = sqlite3.connect(f"file:{live}?mode=ro", uri=True)
            try:
                page_size = int(probe.execute("PRAGMA page_size").fetchone()[0])
            finally:
                probe.close()
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        built = sqlite3.connect(temporary, isolation_level=None)
        try:
            # The backup API cannot change a WAL database's page size: match it.
            built.execute(f"PRAGMA page_size={page_size}")
            built.executescript(script)
            tables = [
                name
                for (name,) in built.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            found = Snapshot(
                sorted(r[0] for r in built.execute("SELECT version_num FROM alembic_version"))
                if "alembic_version" in tables
                else [],
                {
                    name: int(
                        built.execute(f"SELECT count(*) FROM {inventory.quote(name)}").fetchone()[0]
                    )
                    for name in tables
                },
            )
            differences = compare(manifest, found)
            if differences:
                raise DbOpsError(
                    "the replayed backup does not match its manifest: "
                    + "; ".join(differences)
                    + " (the live database was not touched)"
                )
            target = sqlite3.connect(live, timeout=settings.sqlite_busy_timeout_ms / 1000)
            try:
                target.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
                # One step: the live database is replaced in a single write transaction.
                built.backup(target, pages=-1)
            finally:
                target.close()
        finally:
            built.close()
    except sqlite3.Error as error:
        raise DatabaseUnreachable(f"SQLite restore failed: {error}") from None
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + "-journal")):
            leftover.unlink(missing_ok=True)


# ---- both ---------------------------------------------------------------


def apply_backup(
    backup: Path,
    manifest: Manifest,
    url: URL,
    settings: Settings,
    progress: Progress | None = None,
) -> None:
    """Replace the database with the backup, then check it against the manifest."""
    if manifest.engine == "postgresql":
        _apply_postgres(backup, url, settings, progress)
    else:
        _apply_sqlite(backup, url, manifest, settings)
    after = asyncio.run(_snapshot(url, settings))
    differences = compare(manifest, after)
    if differences:
        raise DbOpsError(
            "the restored database does not match the manifest: " + "; ".join(differences)
        )


def compare(manifest: Manifest, found: Snapshot) -> list[str]:
    """How `found` differs from what the manifest promises. A plain dump's
    manifest (see `plain_dump`) may leave the revision or the row counts
    unknown; an unknown revision must still be one this code knows."""
    problems = []
    if manifest.extra.get("revision_unchecked"):
        known = {rev.revision for rev in script_directory().walk_revisions()}
        if not found.revision or any(rev not in known for rev in found.revision):
            problems.append(
                f"revision {', '.join(found.revision) or '(none)'} is not one this code knows"
            )
    elif sorted(found.revision) != sorted(manifest.revision):
        problems.append(
            f"revision {', '.join(found.revision) or '(none)'} instead of "
            f"{', '.join(manifest.revision) or '(none)'}"
        )
    if manifest.extra.get("counts_unchecked"):
        return problems
    for name in sorted(set(manifest.row_counts) | set(found.row_counts)):
        want, got = manifest.row_counts.get(name), found.row_counts.get(name)
        if want != got:
            problems.append(f"{name}: {got} rows instead of {want}")
    return problems


def _unrecovered_hint(engine: str) -> str:
    if engine == "postgresql":
        return (
            "The restore ran in one transaction, so PostgreSQL rolled it back and should "
            "still hold the data from before the restore."
        )
    return "The live SQLite file is replaced in one transaction, so it is either old or new."


@dataclass
class RestoreResult:
    safety: BackupResult | None
    manifest: Manifest


async def _wait_reachable(url: URL, settings: Settings, seconds: float) -> None:
    """Wait (up to `seconds`) for a database that went away to answer again."""
    deadline = time.monotonic() + seconds
    while True:
        engine = create_engine_for(url, settings, pooled=False)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return
        except Exception:
            if time.monotonic() >= deadline:
                return  # the put-back attempt reports the failure
            await asyncio.sleep(0.5)
        finally:
            await engine.dispose()


def execute_restore(
    settings: Settings,
    plan: RestorePlan,
    progress: Progress | None = None,
    recovery_wait: float = 60.0,
) -> RestoreResult:
    """Safety backup, restore, verify; on failure put the safety backup back
    (waiting up to `recovery_wait` seconds for a server that stopped to return)."""
    if plan.current is None:  # a SQLite file that does not exist yet: nothing to keep
        try:
            apply_backup(plan.backup, plan.manifest, plan.url, settings, progress)
        except (DbOpsError, OSError, sqlite3.Error) as error:
            sqlite_path(plan.url).unlink(missing_ok=True)
            raise RestoreRolledBack(
                f"restore failed: {error}. The new database file was removed."
            ) from None
        return RestoreResult(None, plan.manifest)
    safety = create_backup(settings, url=plan.url, prefix=SAFETY_PREFIX, prune=False)
    try:
        apply_backup(plan.backup, plan.manifest, plan.url, settings, progress)
    except (DbOpsError, OSError, sqlite3.Error, KeyboardInterrupt) as error:
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
        asyncio.run(_wait_reachable(plan.url, settings, recovery_wait))
        try:
            apply_backup(safety.path, safety.manifest, plan.url, settings)
        except (DbOpsError, OSError, sqlite3.Error) as second:
            raise RestoreUnrecovered(
                f"restore failed: {reason}. Putting the safety backup back ALSO failed: "
                f"{second}. {_unrecovered_hint(plan.manifest.engine)} Once the database is "
                f"reachable, check it, and if needed run: mandate-vault db restore {safety.path} --yes"
            ) from None
        raise RestoreRolledBack(
            f"restore failed: {reason}. The safety backup {safety.path} was put back and "
            f"checked ({safety.manifest.total_rows} rows in {len(safety.manifest.row_counts)} "
            "tables, as before the restore); the database is as it was."
        ) from None
    return RestoreResult(safety, plan.manifest)


log = get_logger(__name__)


async def _record_restore(url: URL, details: dict[str, Any]) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from app.audit.service import audit_values, record_many
    from app.core.actor import Actor

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await record_many(
                connection,
                [
                    audit_values(
                        tenant_id=None,
                        actor=Actor.system("restore"),
                        action="database.restored",
                        resource_type="database",
                        details=details,
                    )
                ],
            )
    finally:
        await engine.dispose()


def record_restore(plan: RestorePlan, result: RestoreResult) -> None:
    """The restore in the platform chain of the restored database (after it is checked)."""
    details = {
        "backup": plan.backup.name,
        "rows": int(result.manifest.total_rows),
        "safety_backup": result.safety.path.name if result.safety is not None else None,
    }
    try:
        asyncio.run(_record_restore(plan.url, details))
    except Exception as error:  # the restore stands; say the row is missing
        log.error("restore_audit_failed", error=f"{type(error).__name__}: {error}")
