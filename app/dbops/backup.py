"""Backups: a consistent, compressed SQL dump plus its manifest.

PostgreSQL: `pg_dump` inside an exported snapshot, so the row counts in the
manifest are those of the very dump. SQLite: the online backup API copies the
live file (writers keep going) into a snapshot, which is then dumped as SQL.
The file is written as `NAME.partial`, fsynced and renamed: a backup that
exists is complete, and a failure leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
import hashlib
import os
import re
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import text
from sqlalchemy.engine import URL

from app import __version__
from app.core.config import Settings, backend_of
from app.core.database import create_engine_for
from app.dbops import inventory
from app.dbops.errors import DatabaseUnreachable, StorageError
from app.dbops.manifest import SUFFIX, Manifest, manifest_path
from app.dbops.pgclient import libpq_env, tool

BACKUP_PREFIX = "mandate_vault_backup"
SAFETY_PREFIX = "mandate_vault_safety_backup"
NAME_PATTERN = re.compile(r"^(?P<prefix>[a-z_]+?)_(?P<stamp>\d{8}_\d{6})(?:_(?P<n>\d+))?\.sql\.gz$")
COMPRESS_LEVEL = 6  # gzip's own default: the speed of `pg_dump | gzip`
Progress = Callable[[int], None]


class Sink(Protocol):
    """Where a dump is written (the gzip stream of the backup file)."""

    def write(self, data: bytes, /) -> int: ...


STORAGE_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EFBIG,
}


@dataclass
class BackupResult:
    path: Path
    manifest: Manifest
    seconds: float
    removed: list[Path] = field(default_factory=list)

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)


class _HashingFile:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def sqlite_path(url: URL) -> Path:
    return Path(url.database or "").expanduser().resolve()


def storage_error(error: OSError, path: Path, directory: Path) -> StorageError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(
            f"no space left on the device while writing {path}; the partial file was "
            "removed and no backup was kept. Free space in BACKUP_DIR "
            f"({directory}) and run the backup again"
        )
    return StorageError(f"cannot write the backup to {directory}: {error.strerror or error}")


def prepare_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(
            f"BACKUP_DIR {directory} cannot be created: {error.strerror or error}"
        ) from None
    if not directory.is_dir():
        raise StorageError(f"BACKUP_DIR {directory} is not a directory")


def _reserve(directory: Path, prefix: str, now: datetime) -> tuple[Path, int]:
    """An unused final name and an exclusively created `.partial` file descriptor."""
    stamp = now.strftime("%Y%m%d_%H%M%S")
    for n in range(1000):
        name = f"{prefix}_{stamp}{'' if n == 0 else f'_{n}'}{SUFFIX}"
        final = directory / name
        if final.exists():
            continue
        try:
            fd = os.open(
                directory / (name + ".partial"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600
            )
        except FileExistsError:
            continue
        except OSError as error:
            raise storage_error(error, final, directory) from None
        return final, fd
    raise StorageError(f"too many backups named {prefix}_{stamp}* in {directory}")


async def _pg_dump(
    url: URL, settings: Settings, sink: Sink, progress: Progress | None
) -> tuple[dict[str, int], list[str], str]:
    """Dump within an exported snapshot; counts and revision from the same snapshot."""
    pg_dump = tool("pg_dump")
    engine = create_engine_for(url, settings, pooled=False)
    try:
        connection = await inventory.connect(engine, url)
        try:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            await connection.begin()
            snapshot = (await connection.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
            command = [
                pg_dump,
                "--format=plain",
                "--no-owner",
                "--no-privileges",
                "--no-comments",
                f"--snapshot={snapshot}",
            ]
            env = libpq_env(url, settings, "mandate-vault-backup")
            dump = asyncio.create_task(asyncio.to_thread(_pump, command, env, sink, progress))
            try:
                counts = await inventory.row_counts(connection)
                revision = await inventory.revision(connection)
                version = await inventory.server_version(connection)
            finally:
                await asyncio.wait([dump])
            dump.result()
            return counts, revision, version
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def _pump(command: list[str], env: dict[str, str], sink: Sink, progress: Progress | None) -> None:
    errors: list[bytes] = []
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stderr = process.stderr
    reader = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
    reader.start()
    try:
        while chunk := process.stdout.read(1 << 20):
            sink.write(chunk)
            if progress:
                progress(len(chunk))
    except BaseException:
        process.kill()
        process.wait()
        raise
    code = process.wait()
    reader.join()
    if code != 0:
        message = b"".join(errors).decode(errors="replace").strip().splitlines()
        raise DatabaseUnreachable(
            f"pg_dump failed (exit {code}): {message[-1] if message else 'no message'}"
        )


def _sqlite_dump(
    url: URL, snapshot: Path, sink: Sink, progress: Progress | None
) -> tuple[dict[str, int], list[str], str]:
    """Online backup API into `snapshot`, then a SQL dump of the snapshot."""
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise DatabaseUnreachable(f"the SQLite database {source_path} does not exist")
    try:
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as error:
        raise DatabaseUnreachable(f"cannot open {source_path}: {error}") from None
    try:
        os.close(os.open(snapshot, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        target = sqlite3.connect(snapshot)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.OperationalError as error:
        if "full" in str(error).lower():
            raise OSError(errno.ENOSPC, "No space left on device") from None
        raise DatabaseUnreachable(f"cannot back up {source_path}: {error}") from None
    finally:
        source.close()
    copy = sqlite3.connect(snapshot)
    try:
        tables = [
            row[0]
            for row in copy.execute(
                "SELECT name FROM sqlite_master WHERE type='table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {
            name: int(copy.execute(f"SELECT count(*) FROM {inventory.quote(name)}").fetchone()[0])
            for name in tables
        }
        revision = (
            sorted(row[0] for row in copy.execute("SELECT version_num FROM alembic_version"))
            if "alembic_version" in tables
            else []
        )
        buffer: list[str] = []
        size = 0
        for statement in copy.iterdump():
            buffer.append(statement + "\n")
            size += len(statement)
            if size > 1 << 20:
                data = "".join(buffer).encode()
                sink.write(data)
                if progress:
                    progress(len(data))
                buffer, size = [], 0
        data = "".join(buffer).encode()
        sink.write(data)
        if progress:
            progress(len(data))
        return counts, revision, f"SQLite {sqlite3.sqlite_version}"
    finally:
        copy.close()


def create_backup(
    settings: Settings,
    *,
    url: URL | None = None,
    directory: Path | None = None,
    prefix: str = BACKUP_PREFIX,
    progress: Progress | None = None,
    prune: bool = True,
) -> BackupResult:
    """Write one backup and its manifest; then remove expired ones when `prune`."""
    url = url or settings.database
    engine = backend_of(url)
    directory = (directory or Path(settings.backup_dir)).expanduser().resolve()
    prepare_directory(directory)
    started = time.perf_counter()
    now = datetime.now(UTC)
    final, fd = _reserve(directory, prefix, now)
    partial = final.with_name(final.name + ".partial")
    snapshot = final.with_name(final.name + ".snapshot.partial")
    try:
        with os.fdopen(fd, "wb") as raw:
            hashed = _HashingFile(raw)
            with gzip.GzipFile(
                filename=final.name[: -len(".gz")],
                mode="wb",
                compresslevel=COMPRESS_LEVEL,
                fileobj=hashed,
                mtime=int(now.timestamp()),
            ) as sink:
                if engine == "postgresql":
                    counts, revision, version = asyncio.run(_pg_dump(url, settings, sink, progress))
                else:
                    counts, revision, version = _sqlite_dump(url, snapshot, sink, progress)
            raw.flush()
            os.fsync(raw.fileno())
        manifest = Manifest(
            file=final.name,
            sha256=hashed.digest.hexdigest(),
            size_bytes=hashed.size,
            engine=engine,
            revision=revision,
            row_counts=counts,
            created_at=now.isoformat(timespec="seconds"),
            tool_version=f"mandate-vault {__version__}",
            server_version=version,
            database=inventory.display_url(url),
            kind="safety" if prefix == SAFETY_PREFIX else "backup",
        )
        partial.replace(final)
        try:
            manifest.write(final)
            _fsync_directory(directory)
        except BaseException:
            final.unlink(missing_ok=True)
            raise
    except OSError as error:
        partial.unlink(missing_ok=True)
        manifest_path(final).with_name(manifest_path(final).name + ".partial").unlink(
            missing_ok=True
        )
        if error.errno not in STORAGE_ERRNOS:
            raise DatabaseUnreachable(f"backup failed, nothing was kept: {error}") from None
        raise storage_error(error, final, directory) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        for leftover in (snapshot, snapshot.with_name(snapshot.name + "-journal")):
            leftover.unlink(missing_ok=True)
    removed = prune_backups(directory, settings) if prune else []
    return BackupResult(final, manifest, time.perf_counter() - started, removed)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def list_backups(directory: Path, prefix: str = BACKUP_PREFIX) -> list[tuple[datetime, Path]]:
    """Complete backups of this prefix (with a manifest), newest first."""
    found: list[tuple[datetime, int, Path]] = []
    if not directory.is_dir():
        return []
    for path in directory.iterdir():
        match = NAME_PATTERN.match(path.name)
        if not match or match["prefix"] != prefix:
            continue
        stamp = datetime.strptime(match["stamp"], "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
        found.append((stamp, int(match["n"] or 0), path))
    found.sort(reverse=True)
    return [(stamp, path) for stamp, _, path in found]


def prune_backups(directory: Path, settings: Settings, now: datetime | None = None) -> list[Path]:
    """Remove backups older than BACKUP_RETENTION_DAYS, always keeping the newest
    BACKUP_KEEP_MIN of each kind. Only files this tool names are touched."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.backup_retention_days)
    removed = []
    for prefix in (BACKUP_PREFIX, SAFETY_PREFIX):
        for stamp, path in list_backups(directory, prefix)[settings.backup_keep_min :]:
            if stamp < cutoff:
                path.unlink(missing_ok=True)
                manifest_path(path).unlink(missing_ok=True)
                removed.append(path)
    return removed
