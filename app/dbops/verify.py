"""`db verify-backup`: prove a backup restores, without touching production.

The backup is replayed into a scratch database (a temporary SQLite file, or a
`mv_verify_*` PostgreSQL database created beside DATABASE_URL and dropped
afterwards, or `--scratch-url`), then compared with its manifest.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from app.core.config import Settings, backend_of, parse_database_url
from app.core.database import create_engine_for
from app.dbops import inventory
from app.dbops.errors import DatabaseUnreachable, DbOpsError, Refused
from app.dbops.manifest import verify_backup_file
from app.dbops.restore import ENGINE_NAMES, _snapshot, apply_backup, check_revision


async def _admin(url: URL, settings: Settings, statement: str) -> None:
    engine = create_engine_for(url.set(database="postgres"), settings, pooled=False)
    try:
        connection = await inventory.connect(engine, url.set(database="postgres"))
        try:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
        finally:
            await connection.close()
    except DatabaseUnreachable:
        raise
    except Exception as error:
        raise DbOpsError(
            f"cannot {statement.split()[0].lower()} a scratch database on "
            f"{inventory.display_url(url.set(database='postgres'))}: "
            f"{str(getattr(error, 'orig', error)).strip()} (give the user CREATEDB, or pass "
            "--scratch-url)"
        ) from None
    finally:
        await engine.dispose()


def verify_backup(
    settings: Settings, backup: Path, scratch_url: str | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    manifest = verify_backup_file(backup)
    check_revision(manifest, backup)
    created: str | None = None
    temporary: tempfile.TemporaryDirectory[str] | None = None
    if scratch_url:
        url = parse_database_url(scratch_url, "--scratch-url")
        if backend_of(url) != manifest.engine:
            raise Refused(
                f"{backup} is a {ENGINE_NAMES[manifest.engine]} backup; --scratch-url must be "
                f"{ENGINE_NAMES[manifest.engine]} too"
            )
        current = asyncio.run(_snapshot(url, settings)) if manifest.engine == "postgresql" else None
        if current and any(n for t, n in current.row_counts.items()):
            raise Refused(f"the scratch database {inventory.display_url(url)} is not empty")
    elif manifest.engine == "sqlite":
        temporary = tempfile.TemporaryDirectory(prefix="mv-verify-")
        url = make_url(f"sqlite+aiosqlite:///{Path(temporary.name) / 'scratch.db'}")
    else:
        base = settings.database
        if backend_of(base) != "postgresql":
            raise Refused(
                "verifying a PostgreSQL backup needs a PostgreSQL server: pass --scratch-url"
            )
        created = f"mv_verify_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(base, settings, f'CREATE DATABASE "{created}"'))
        url = base.set(database=created)
    try:
        apply_backup(backup, manifest, url, settings)
        found = asyncio.run(_snapshot(url, settings))
    finally:
        if created:
            asyncio.run(_admin(url, settings, f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)'))
        if temporary:
            temporary.cleanup()
    return {
        "ok": True,
        "file": str(backup),
        "engine": manifest.engine,
        "revision": found.revision,
        "row_counts": found.row_counts,
        "total_rows": sum(found.row_counts.values()),
        "seconds": round(time.perf_counter() - started, 2),
    }
