"""`mandate-vault db backup|restore|verify-backup|copy|status|monitor` and
`mandate-vault retention run`. Heavy imports stay inside the commands.

Exit statuses are those of `app.dbops.errors` (0 done, 1 answered no,
2 refused, 3 bad backup, 4 database unreachable, 5 storage, 6 restore failed
and rolled back, 7 restore failed and NOT rolled back, 70 unexpected error).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

retention_app = typer.Typer(
    help="Data retention: audit log and purged mandates.", no_args_is_help=True
)


def _fail(error: Exception) -> NoReturn:
    from app.dbops.errors import DbOpsError

    code = error.exit_code if isinstance(error, DbOpsError) else 4
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code)


def _settings():
    from app.cli import settings_or_exit

    return settings_or_exit()


def _interactive() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress_bar(
    description: str, total: int | None = None
) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on a terminal; nothing at all otherwise (cron, pipes)."""
    if not _interactive():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns: list[Any] = [
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn() if total is not None else DownloadColumn(),
        TimeElapsedColumn(),
    ]
    if total is None:
        columns.insert(3, TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def _guard(call: Callable[[], Any]) -> Any:
    from app.dbops.errors import DbOpsError

    try:
        return call()
    except DbOpsError as error:
        _fail(error)
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as error:  # a bug or an unforeseen failure: one line, status 70
        typer.echo(f"error: unexpected {type(error).__name__}: {error}", err=True)
        raise typer.Exit(70) from None


def register(db_app: typer.Typer) -> None:
    db_app.command("backup")(backup)
    db_app.command("restore")(restore)
    db_app.command("verify-backup")(verify_backup)
    db_app.command("copy")(copy)
    db_app.command("status")(status)
    db_app.command("monitor")(monitor)


def backup(
    output_dir: Annotated[
        Path | None, typer.Option("--dir", help="Directory (default: BACKUP_DIR).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say what was done even when not on a terminal.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Back up the database to BACKUP_DIR (gzipped SQL + manifest), then remove expired backups.

    Silent on success when not on a terminal (cron mails only failures).
    """
    from app.dbops.backup import create_backup

    settings = _settings()
    with progress_bar("backup") as progress:
        result = _guard(lambda: create_backup(settings, directory=output_dir, progress=progress))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "path": str(result.path),
                    "manifest": str(result.manifest_path),
                    "sha256": result.manifest.sha256,
                    "size_bytes": result.manifest.size_bytes,
                    "row_counts": result.manifest.row_counts,
                    "seconds": round(result.seconds, 3),
                    "removed": [str(p) for p in result.removed],
                }
            )
        )
    elif verbose or _interactive():
        m = result.manifest
        typer.echo(
            f"backup {result.path} ({m.size_bytes:,} bytes, {m.total_rows:,} rows, "
            f"revision {', '.join(m.revision) or '(none)'}, {result.seconds:.1f}s)"
        )
        for path in result.removed:
            typer.echo(f"removed expired backup {path}")


def _confirm(prompt: str) -> bool:
    typer.echo(prompt, nl=False, err=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() == "yes"


def restore(
    file: Annotated[Path, typer.Argument(help="The .sql.gz backup (its manifest beside it).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    recovery_wait: Annotated[
        float,
        typer.Option(
            min=0,
            help="If the server goes away mid-restore, wait this many seconds for it "
            "to return before putting the safety backup back.",
        ),
    ] = 60.0,
) -> None:
    """Replace the database with a backup, after a safety backup; rolled back on failure."""
    from app.dbops.restore import execute_restore, plan_restore

    settings = _settings()
    plan = _guard(lambda: plan_restore(settings, file))
    typer.echo(plan.describe(), err=True)
    if not yes and not _confirm("Type 'yes' to replace the database: "):
        typer.echo("\naborted: nothing was changed", err=True)
        raise typer.Exit(1)
    with progress_bar("restore") as progress:
        result = _guard(lambda: execute_restore(settings, plan, progress, recovery_wait))
    if result.safety is not None:
        typer.echo(f"safety backup of the previous data: {result.safety.path}", err=True)
    typer.echo(
        f"restored {file} into {plan.target}: revision "
        f"{', '.join(result.manifest.revision) or '(none)'}, "
        f"{result.manifest.total_rows:,} rows checked against the manifest"
    )


def verify_backup(
    file: Annotated[Path, typer.Argument(help="The .sql.gz backup to prove restorable.")],
    scratch_url: Annotated[
        str | None,
        typer.Option(
            help="Restore into this (empty, throwaway) database instead of a scratch one "
            "created beside DATABASE_URL."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Restore a backup into a scratch database and compare it with its manifest."""
    from app.dbops.verify import verify_backup as run

    settings = _settings()
    report = _guard(lambda: run(settings, file, scratch_url))
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(
            f"OK {file}: restored into a scratch database, revision "
            f"{', '.join(report['revision']) or '(none)'} and {report['total_rows']:,} rows "
            f"in {len(report['row_counts'])} tables match the manifest ({report['seconds']}s)"
        )


def copy(
    to: Annotated[str, typer.Option("--to", help="Target database URL (async driver).")],
    replace: Annotated[
        bool, typer.Option(help="Empty a non-empty target first (its rows are lost).")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
) -> None:
    """Copy every row from DATABASE_URL into another database (e.g. SQLite to PostgreSQL)."""
    from app.dbops.copy import copy_database, count_source_rows

    settings = _settings()
    total = _guard(lambda: count_source_rows(settings))
    with progress_bar("copy", total=total) as progress:
        report = _guard(lambda: copy_database(settings, to, replace, batch_size, progress))
    typer.echo(
        f"copied {report['total_rows']:,} rows in {len(report['row_counts'])} tables in "
        f"{report['seconds']}s ({report['rows_per_second']:,} rows/s); counts verified"
    )


def _print_json_or(data: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], str]):
    typer.echo(json.dumps(data, indent=2, default=str) if as_json else render(data))


def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Engine, reachability and latency, migrations, pool figures."""
    import asyncio

    from app.dbops.monitor import render_status, status_with_database

    settings = _settings()
    data = _guard(lambda: asyncio.run(status_with_database(settings)))
    _print_json_or(data, as_json, render_status)
    if not data["reachable"]:
        raise typer.Exit(4)


def monitor(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    long_running_seconds: Annotated[float, typer.Option(min=0)] = 5.0,
) -> None:
    """Connections, queries, sizes, index usage and cache hits (SQLite: file and pages)."""
    import asyncio

    from app.dbops.monitor import monitor_with_database, render_monitor

    settings = _settings()
    data = _guard(lambda: asyncio.run(monitor_with_database(settings, long_running_seconds)))
    _print_json_or(data, as_json, render_monitor)


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete audit rows older than AUDIT_RETENTION_DAYS and purge expired soft-deleted mandates."""
    import asyncio

    from app.dbops.retention import render_report, run_retention_once

    settings = _settings()
    report = _guard(lambda: asyncio.run(run_retention_once(settings, dry_run=dry_run)))
    _print_json_or(report, as_json, render_report)
