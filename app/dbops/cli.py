"""`mandate-vault db ...` (migrations, backup and restore, copy, status and
monitoring) and `mandate-vault retention run`. Heavy imports stay inside the
commands; exit statuses are the kit's (`app.core.cli`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.core.cli import (
    ExitCode,
    fail,
    interactive,
    new_app,
    print_json_or,
    progress_bar,
    run,
    run_async,
    settings_or_exit,
)

db_app = new_app("Database: migrations, backup and restore, copy, status and monitoring.")
retention_app = new_app("Data retention: audit log and purged mandates.")


def _migration_call(func: Any, *args: Any) -> Any:
    settings = settings_or_exit()
    return run(lambda: func(settings.database_url, *args), database_url=settings.database_url)


def _echo_state(state: Any) -> None:
    typer.echo(f"current: {', '.join(state.current) or '(none: empty database)'}")
    typer.echo(f"head:    {', '.join(state.heads)}")
    typer.echo(f"pending: {', '.join(state.pending) or 'none'}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from app.dbops import migrations

    _echo_state(_migration_call(migrations.upgrade, revision))


@db_app.command("init")
def db_init() -> None:
    """Create the schema (same as `upgrade head`)."""
    db_upgrade("head")


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Relative (-1) or absolute revision, or base.")
    ] = "-1",
) -> None:
    """Undo migrations down to REVISION (default: one step)."""
    from app.dbops import migrations

    _echo_state(_migration_call(migrations.downgrade, revision))


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision."""
    from app.dbops import migrations

    state = _migration_call(migrations.ensure_known)
    typer.echo(", ".join(state.current) or "(none: empty database)")


@db_app.command("pending")
def db_pending() -> None:
    """List migrations not yet applied."""
    from app.dbops import migrations

    state = _migration_call(migrations.ensure_known)
    if not state.pending:
        typer.echo("no pending migrations: the database is at head")
    for revision in state.pending:
        typer.echo(revision)


@db_app.command("history")
def db_history() -> None:
    """List every migration, oldest first."""
    from app.dbops import migrations

    for revision, down, message in migrations.history():
        typer.echo(
            f"{down or '<base>'} -> {revision}  {message.splitlines()[0] if message else ''}"
        )


@db_app.command("create")
def db_create(
    message: Annotated[str, typer.Argument(help="What the migration does.")],
    empty: Annotated[
        bool, typer.Option(help="Write an empty revision instead of autogenerating.")
    ] = False,
) -> None:
    """Write a new migration from the difference between the models and the database."""
    from app.dbops import migrations

    path = _migration_call(migrations.create, message, not empty)
    typer.echo(f"created {path}")


@db_app.command("backup")
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

    settings = settings_or_exit()
    with progress_bar("backup") as progress:
        result = run(
            lambda: create_backup(settings, directory=output_dir, progress=progress),
            database_url=settings.database_url,
        )
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
    elif verbose or interactive():
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


@db_app.command("restore")
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
    no_manifest: Annotated[
        bool,
        typer.Option(
            "--no-manifest",
            help="Restore a plain dump that has no manifest (e.g. pg_dump | gzip), after "
            "the checks it allows; you are told what cannot be checked.",
        ),
    ] = False,
) -> None:
    """Replace the database with a backup, after a safety backup; rolled back on failure."""
    from app.dbops.manifest import manifest_path
    from app.dbops.plain_dump import describe_unchecked, plan_plain_restore
    from app.dbops.restore import execute_restore, plan_restore, record_restore

    settings = settings_or_exit()
    plain = no_manifest and not manifest_path(file).is_file()
    planner = plan_plain_restore if plain else plan_restore
    plan = run(lambda: planner(settings, file), database_url=settings.database_url)
    typer.echo(plan.describe(), err=True)
    if plain:
        typer.echo(describe_unchecked(plan.manifest), err=True)
    if not yes and not _confirm("Type 'yes' to replace the database: "):
        typer.echo("\naborted: nothing was changed", err=True)
        raise typer.Exit(ExitCode.ABORTED)
    with progress_bar("restore") as progress:
        result = run(
            lambda: execute_restore(settings, plan, progress, recovery_wait),
            database_url=settings.database_url,
        )
    record_restore(plan, result)
    if result.safety is not None:
        typer.echo(f"safety backup of the previous data: {result.safety.path}", err=True)
    checked = "the trial restore" if plain else "the manifest"
    if plain and result.manifest.extra.get("counts_unchecked"):
        checked = "nothing (no trial restore was possible); the revision is known"
    typer.echo(
        f"restored {file} into {plan.target}: revision "
        f"{', '.join(result.manifest.revision) or '(checked after restore)'}, "
        f"{result.manifest.total_rows:,} rows checked against {checked}"
    )


@db_app.command("verify-backup")
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
    from app.dbops.verify import verify_backup as verify

    settings = settings_or_exit()
    report = run(lambda: verify(settings, file, scratch_url), database_url=settings.database_url)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(
            f"OK {file}: restored into a scratch database, revision "
            f"{', '.join(report['revision']) or '(none)'} and {report['total_rows']:,} rows "
            f"in {len(report['row_counts'])} tables match the manifest ({report['seconds']}s)"
        )


@db_app.command("copy")
def copy(
    to: Annotated[str, typer.Option("--to", help="Target database URL (async driver).")],
    replace: Annotated[
        bool, typer.Option(help="Empty a non-empty target first (its rows are lost).")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
) -> None:
    """Copy every row from DATABASE_URL into another database (e.g. SQLite to PostgreSQL)."""
    from app.dbops.copy import copy_database, count_source_rows

    settings = settings_or_exit()
    total = run(lambda: count_source_rows(settings), database_url=settings.database_url)
    with progress_bar("copy", total=total) as progress:
        report = run(
            lambda: copy_database(settings, to, replace, batch_size, progress),
            database_url=settings.database_url,
        )
    typer.echo(
        f"copied {report['total_rows']:,} rows in {len(report['row_counts'])} tables in "
        f"{report['seconds']}s ({report['rows_per_second']:,} rows/s); counts verified"
    )


@db_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Engine, reachability and latency, migrations, pool figures."""
    from app.dbops.monitor import render_status, status_with_database

    settings = settings_or_exit()
    data = run_async(status_with_database, settings)
    print_json_or(data, as_json, render_status)
    if not data["reachable"]:
        reason = data["engines"]["write"].get("error") or "no answer"
        fail(f"cannot reach the database {data['url']}: {reason}", ExitCode.UNREACHABLE)


@db_app.command("monitor")
def monitor(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    long_running_seconds: Annotated[float, typer.Option(min=0)] = 5.0,
) -> None:
    """Connections, queries, sizes, index usage and cache hits (SQLite: file and pages)."""
    from app.dbops.monitor import monitor_with_database, render_monitor

    settings = settings_or_exit()
    data = run_async(lambda s: monitor_with_database(s, long_running_seconds), settings)
    print_json_or(data, as_json, render_monitor)


@db_app.command("size")
def size(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The database's size on disk (the guide's pg_database_size)."""
    from app.dbops.maintenance import database_size

    data = run_async(database_size)
    print_json_or(data, as_json, lambda d: f"{d['database']}: {d['size']} ({d['bytes']:,} bytes)")


@db_app.command("tables")
def tables(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many tables.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The largest tables, biggest first (with their indexes and TOAST)."""
    from app.dbops.maintenance import largest_tables

    rows = run_async(lambda s: largest_tables(s, limit))

    def render(data: dict[str, Any]) -> str:
        lines = [f"{'table':<28}{'size':>12}{'rows':>14}"]
        for row in data["tables"]:
            count = row.get("rows", row.get("estimated_rows", 0))
            lines.append(f"{row['table']:<28}{row['size']:>12}{count:>14,}")
        return "\n".join(lines)

    print_json_or({"tables": rows}, as_json, render)


@db_app.command("vacuum")
def vacuum(
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="VACUUM FULL: rewrite every table to give disk space back. Takes an "
            "exclusive lock on each table (the service waits) and needs free space for the copy.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """VACUUM (ANALYZE); with --full, VACUUM FULL ANALYZE after a confirmation."""
    from app.dbops.maintenance import exclusive
    from app.dbops.maintenance import vacuum as run_vacuum

    settings = settings_or_exit()
    if exclusive(settings, full) and not yes:
        what = "VACUUM FULL ANALYZE" if settings.backend == "postgresql" else "VACUUM (SQLite)"
        typer.echo(
            f"{what} rewrites the whole database under an exclusive lock: every read and write "
            "of the service waits until it is done, and it needs free disk space for the copy.",
            err=True,
        )
        if not _confirm(f"Type 'yes' to run {what} now: "):
            typer.echo("\naborted: nothing was changed", err=True)
            raise typer.Exit(ExitCode.ABORTED)
    data = run_async(lambda s: run_vacuum(s, full))
    print_json_or(
        data,
        as_json,
        lambda d: (
            f"{d['statement']} done in {d['seconds']}s; "
            f"{d['bytes_before']:,} -> {d['bytes_after']:,} bytes ({d['freed']} freed)"
        ),
    )


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete audit rows older than AUDIT_RETENTION_DAYS and purge expired soft-deleted mandates."""
    from app.dbops.retention import render_report, run_retention_once

    settings = settings_or_exit()
    report = run_async(lambda s: run_retention_once(s, dry_run=dry_run), settings)
    print_json_or(report, as_json, render_report)
