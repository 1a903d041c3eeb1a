"""Restoring a plain dump that has no manifest (the guide's emergency
`pg_dump mandate_vault | gzip > emergency_backup.sql.gz`, or `sqlite3 DB .dump`).

Without a manifest some things cannot be checked: that the file is the one a
backup wrote (no recorded SHA-256 and size), when and by what it was taken,
and how many rows each table held then. Everything else is checked first:
the whole gzip stream, the engine the dump is for, and a trial restore into a
scratch database (a temporary SQLite file, or a `mv_verify_*` PostgreSQL
database beside the target when one can be created), whose revision must be
one this code knows and whose row counts the real restore must then match.
The usual safety backup is taken, and the schema revision is checked after.
"""

from __future__ import annotations

import asyncio
import gzip
import tempfile
import uuid
import zlib
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from app.core.config import Settings, backend_of
from app.dbops import inventory
from app.dbops.errors import BackupInvalid, DbOpsError, Refused
from app.dbops.manifest import Manifest, check_gzip_stream, sha256_of
from app.dbops.restore import (
    ENGINE_NAMES,
    RestorePlan,
    Snapshot,
    _snapshot,
    apply_backup,
    check_revision,
    snapshot_of,
)

PLAIN_DUMP = "plain_dump"
UNCHECKABLE = (
    "that this file is the one a backup wrote (no recorded SHA-256 and size)",
    "when and by which release it was taken",
    "the row counts at the time of the dump",
)


def dump_engine(backup: Path) -> str:
    """'postgresql' or 'sqlite', from the head of the dump; Refused when neither."""
    with gzip.open(backup, "rb") as handle:
        head = handle.read(65536).decode("utf-8", "replace")
    if "PostgreSQL database dump" in head or "SET client_encoding" in head:
        return "postgresql"
    if head.lstrip().startswith(("PRAGMA foreign_keys=OFF;", "BEGIN TRANSACTION;")):
        return "sqlite"
    raise Refused(
        f"{backup} is neither a pg_dump plain-format dump nor an SQLite .dump; nothing was changed"
    )


def _trial_manifest(backup: Path, engine: str) -> Manifest:
    return Manifest(
        file=backup.name,
        sha256=sha256_of(backup),
        size_bytes=backup.stat().st_size,
        engine=engine,
        revision=[],
        row_counts={},
        created_at="unknown (no manifest)",
        tool_version="unknown (no manifest)",
        kind=PLAIN_DUMP,
        extra={"revision_unchecked": True, "counts_unchecked": True},
    )


def _trial(
    settings: Settings, backup: Path, engine: str, target: URL
) -> tuple[Snapshot | None, str]:
    """Replay the dump into a scratch database; its snapshot, or None and why not."""
    from app.dbops.verify import _admin

    manifest = _trial_manifest(backup, engine)
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="mv-trial-") as directory:
            url = make_url(f"sqlite+aiosqlite:///{Path(directory) / 'trial.db'}")
            apply_backup(backup, manifest, url, settings)
            return asyncio.run(
                _snapshot(url, settings)
            ), "trial restore into a temporary SQLite file"
    name = f"mv_verify_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(target, settings, f'CREATE DATABASE "{name}"'))
    except DbOpsError as error:
        return None, f"no trial restore: {error}"
    scratch = target.set(database=name)
    try:
        apply_backup(backup, manifest, scratch, settings)
        return asyncio.run(
            _snapshot(scratch, settings)
        ), f"trial restore into scratch database {name}"
    finally:
        asyncio.run(_admin(scratch, settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def plan_plain_restore(settings: Settings, backup: Path, url: URL | None = None) -> RestorePlan:
    """Every check a dump without a manifest allows, before anything is changed."""
    url = url or settings.database
    if not backup.is_file():
        raise BackupInvalid(f"{backup}: no such file")
    try:
        check_gzip_stream(backup)
    except (zlib.error, EOFError, OSError) as error:
        raise BackupInvalid(f"{backup}: the gzip stream is damaged ({error}); not used") from None
    engine = dump_engine(backup)
    if engine != backend_of(url):
        raise Refused(
            f"{backup} is a {ENGINE_NAMES[engine]} dump but DATABASE_URL points at "
            f"{ENGINE_NAMES[backend_of(url)]}; nothing was changed"
        )
    try:
        trial, how = _trial(settings, backup, engine, url)
    except DbOpsError as error:
        raise BackupInvalid(
            f"{backup}: the trial restore into a scratch database failed ({error}); "
            "the target was not touched"
        ) from None
    manifest = _trial_manifest(backup, engine)
    manifest.extra["checked"] = ["the whole gzip stream", f"a {ENGINE_NAMES[engine]} dump", how]
    if trial is not None:
        if not trial.revision:
            raise Refused(
                f"{backup} holds no alembic_version table: it is not a Mandate Vault database; "
                "nothing was changed"
            )
        manifest.revision = trial.revision
        manifest.row_counts = trial.row_counts
        manifest.extra.update(revision_unchecked=False, counts_unchecked=False)
        check_revision(manifest, backup)
    current = snapshot_of(url, settings)
    return RestorePlan(backup, manifest, url, inventory.display_url(url), current)


def describe_unchecked(manifest: Manifest) -> str:
    """What the operator is told, and must accept, before a manifest-less restore."""
    lines = ["This file has no manifest. Checked before anything changes:"]
    lines += [f"  - {item}" for item in manifest.extra.get("checked", [])]
    if manifest.extra.get("counts_unchecked"):
        lines.append(
            "  (no trial restore: the revision is checked only after the restore, and row "
            "counts not at all)"
        )
    else:
        lines.append(
            f"  - the trial holds revision {', '.join(manifest.revision)} and "
            f"{manifest.total_rows:,} rows; the restore must match them"
        )
    lines.append("What CANNOT be checked without a manifest:")
    lines += [f"  - {item}" for item in UNCHECKABLE]
    return "\n".join(lines)
