"""What BACKUP_DIR holds, for operators looking at it (the dashboard): every
backup and safety backup, newest first, with its manifest or why it has none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.core.config import Settings
from app.dbops.backup import BACKUP_PREFIX, SAFETY_PREFIX, list_backups
from app.dbops.errors import BackupInvalid
from app.dbops.manifest import Manifest

LISTED = 100


@dataclass(frozen=True, slots=True)
class BackupEntry:
    path: Path
    kind: str  # "backup" or "safety"
    taken_at: datetime
    size_bytes: int | None
    manifest: Manifest | None
    problem: str | None  # why the manifest cannot be read


def backup_catalogue(settings: Settings, limit: int = LISTED) -> list[BackupEntry]:
    directory = Path(settings.backup_dir)
    entries = []
    for kind, prefix in (("backup", BACKUP_PREFIX), ("safety", SAFETY_PREFIX)):
        for taken_at, path in list_backups(directory, prefix)[:limit]:
            manifest, problem = None, None
            try:
                manifest = Manifest.read(path)
            except BackupInvalid as error:
                problem = str(error)
            try:
                size: int | None = path.stat().st_size
            except OSError:
                size = None
            entries.append(BackupEntry(path, kind, taken_at, size, manifest, problem))
    entries.sort(key=lambda e: e.taken_at, reverse=True)
    return entries[:limit]
