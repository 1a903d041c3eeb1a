"""The manifest written beside every backup, and the checks made before a restore.

`mandate_vault_backup_YYYYMMDD_HHMMSS.sql.gz` has its manifest in
`mandate_vault_backup_YYYYMMDD_HHMMSS.manifest.json`: SHA-256 and size of the
file, engine, Alembic revision, row counts per table, created_at, tool version.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.dbops.errors import BackupInvalid

FORMAT = 1
SUFFIX = ".sql.gz"
CHUNK = 1 << 20


def manifest_path(backup: Path) -> Path:
    name = backup.name
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    return backup.with_name(stem + ".manifest.json")


@dataclass
class Manifest:
    file: str
    sha256: str
    size_bytes: int
    engine: str
    revision: list[str]
    row_counts: dict[str, int]
    created_at: str
    tool_version: str
    server_version: str = ""
    database: str = ""
    kind: str = "backup"
    format: int = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def write(self, backup: Path) -> Path:
        path = manifest_path(backup)
        partial = path.with_name(path.name + ".partial")
        with partial.open("w") as handle:
            json.dump(asdict(self), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
        return path

    @classmethod
    def read(cls, backup: Path) -> Manifest:
        path = manifest_path(backup)
        if not path.is_file():
            raise BackupInvalid(
                f"{backup}: its manifest {path.name} is missing; without it the backup "
                "cannot be checked, so it is not used"
            )
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise BackupInvalid(f"{path}: unknown manifest format {data.get('format')!r}")
            known = set(cls.__dataclass_fields__)
            manifest = cls(**{k: v for k, v in data.items() if k in known})
            manifest.row_counts = {str(k): int(v) for k, v in manifest.row_counts.items()}
        except BackupInvalid:
            raise
        except (ValueError, TypeError) as error:
            raise BackupInvalid(f"{path}: the manifest is not valid ({error})") from None
        if manifest.engine not in ("sqlite", "postgresql"):
            raise BackupInvalid(f"{path}: unknown engine {manifest.engine!r}")
        return manifest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_gzip_stream(path: Path) -> int:
    """Decompress the whole file (CRC and length checked); the uncompressed size."""
    size = 0
    decompressor = zlib.decompressobj(wbits=31)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(decompressor.decompress(chunk))
            while decompressor.eof and decompressor.unused_data:
                # A concatenated member: carry on with a fresh decompressor.
                rest = decompressor.unused_data
                decompressor = zlib.decompressobj(wbits=31)
                size += len(decompressor.decompress(rest))
    if not decompressor.eof:
        raise zlib.error("the gzip stream ends early (truncated file)")
    return size


def verify_backup_file(backup: Path) -> Manifest:
    """Everything that can be checked without a database; raises BackupInvalid."""
    if not backup.exists():
        raise BackupInvalid(f"{backup}: no such file")
    if not backup.is_file():
        raise BackupInvalid(f"{backup}: not a regular file")
    manifest = Manifest.read(backup)
    size = backup.stat().st_size
    if size != manifest.size_bytes:
        raise BackupInvalid(
            f"{backup}: {size} bytes on disk but the manifest says {manifest.size_bytes} "
            "(truncated or replaced); not used"
        )
    if sha256_of(backup) != manifest.sha256:
        raise BackupInvalid(
            f"{backup}: SHA-256 does not match the manifest (the file is damaged); not used"
        )
    try:
        check_gzip_stream(backup)
    except (zlib.error, EOFError, OSError) as error:
        raise BackupInvalid(f"{backup}: the gzip stream is damaged ({error}); not used") from None
    return manifest
