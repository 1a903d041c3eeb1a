"""The `mandate-vault` command. Heavy imports stay inside the commands so that
`--help` answers at once."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    name="mandate-vault",
    help="Mandate Vault: keep, verify and search signed payment mandates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Database: migrations, backup and restore, copy, status and monitoring.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")


def _register_feature_commands() -> None:
    from app.dbops.cli import register as register_dbops
    from app.dbops.cli import retention_app
    from app.mandates.cli import app as mandates_app
    from app.tenancy.cli import api_keys_app, tenants_app, users_app

    app.add_typer(tenants_app, name="tenants")
    app.add_typer(users_app, name="users")
    app.add_typer(api_keys_app, name="api-keys")
    app.add_typer(mandates_app, name="mandates")
    register_dbops(db_app)
    app.add_typer(retention_app, name="retention")


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit():  # -> Settings (lazy import keeps --help fast)
    from app.core.config import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as error:
        fail(str(error))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Run the API and dashboard."""
    import uvicorn

    settings = settings_or_exit()
    uvicorn.run(
        "app.main:app",
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        access_log=False,
        proxy_headers=True,
        timeout_keep_alive=settings.http_keepalive_seconds,
        log_level=settings.log_level.lower(),
    )


@app.command()
def seed() -> None:
    """Load the demo tenant, admin user and sample data (safe to run again)."""
    import asyncio

    from app.seed import print_summary, seed_demo_data

    settings = settings_or_exit()
    result = guarded(settings.database_url, lambda: asyncio.run(seed_demo_data(settings)))
    print_summary(result)


def database_failure(error: BaseException, url: str) -> str | None:
    """One line for an unreachable or refusing database, or None for other errors."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    where = make_url(url).render_as_string(hide_password=True)
    if isinstance(error, DBAPIError):
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        return f"database {where} refused the request: {reason}"
    if isinstance(error, OSError | TimeoutError):
        return (
            f"cannot reach the database {where}: {error.strerror or error or type(error).__name__}"
        )
    return None


def guarded(url: str, func, *args):
    """Run a database command; known failures become one line and the exit
    status the operations commands use (2 refused, 4 database unreachable)."""
    from app.dbops.errors import DatabaseUnreachable
    from app.dbops.migrations import MigrationError

    try:
        return func(*args)
    except MigrationError as error:
        fail(str(error))
    except Exception as error:
        message = database_failure(error, url)
        if message is None:
            raise
        fail(message, code=DatabaseUnreachable.exit_code)


def _migration_call(func, *args):
    settings = settings_or_exit()
    return guarded(settings.database_url, func, settings.database_url, *args)


def _echo_state(state) -> None:
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


_register_feature_commands()


def main() -> None:
    app(prog_name="mandate-vault")


if __name__ == "__main__":
    main()
    sys.exit(0)
