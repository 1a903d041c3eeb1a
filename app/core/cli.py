"""The kit every `mandate-vault` command is built with.

One job runner (`run`) turns every failure into one line on stderr and the exit
status a scheduler acts on; commands never print tracebacks. Typer and Rich are
imported here, the application's heavier modules only inside commands, so
`--help` answers at once.

Exit statuses:

    0   done
    1   the operator answered no: nothing was changed
    2   refused: bad arguments or settings, a backup of the other engine, a non-empty target
    3   the backup file (or evidence) is missing, truncated, damaged or does not match
    4   the database (or pg_dump/psql) cannot be reached or run
    5   storage: BACKUP_DIR cannot be written or the disk is full
    6   restore failed; the safety backup was put back
    7   restore failed AND the safety backup could not be put back
    70  unexpected error (a bug); the message names it
    130 interrupted
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.core.config import Settings
    from app.core.database import Database

T = TypeVar("T")


class ExitCode(enum.IntEnum):
    OK = 0
    ABORTED = 1
    REFUSED = 2
    BAD_INPUT_FILE = 3
    UNREACHABLE = 4
    STORAGE = 5
    RESTORE_ROLLED_BACK = 6
    RESTORE_UNRECOVERED = 7
    BUG = 70
    INTERRUPTED = 130


class CommandError(Exception):
    """A command's own refusal: `message` is printed, `exit_code` returned."""

    exit_code: int = ExitCode.REFUSED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


def new_app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, pretty_exceptions_enable=False)


def fail(message: str, code: int = ExitCode.REFUSED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def interactive() -> bool:
    return sys.stderr.isatty()


def settings_or_exit() -> Settings:
    from app.core.config import SettingsError, get_settings
    from app.core.logging import configure_logging

    try:
        settings = get_settings()
    except SettingsError as error:
        fail(str(error))
    # Log lines go to stderr at LOG_LEVEL, so a command's stdout stays its answer.
    configure_logging(settings)
    return settings


def _database_failure(error: BaseException, url: str | None) -> str | None:
    """One line for an unreachable or refusing database, or None for other errors."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    where = make_url(url).render_as_string(hide_password=True) if url else "the database"
    if isinstance(error, DBAPIError):
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        return f"database {where} refused the request: {reason}"
    if isinstance(error, OSError | TimeoutError):
        strerror = error.strerror if isinstance(error, OSError) else None
        reason = strerror or str(error) or type(error).__name__
        return f"cannot reach the database {where}: {reason}"
    return None


def _exit_for(error: BaseException, database_url: str | None) -> tuple[str, int]:
    from app.core.config import SettingsError
    from app.core.errors import AppError, ServiceUnavailable

    code = getattr(error, "exit_code", None)
    if isinstance(code, int):  # CommandError and the operations' own errors
        return str(error), code
    if isinstance(error, SettingsError):
        return str(error), ExitCode.REFUSED
    if isinstance(error, ServiceUnavailable):
        return error.detail, ExitCode.UNREACHABLE
    if isinstance(error, AppError):
        return error.detail, ExitCode.REFUSED
    message = _database_failure(error, database_url)
    if message is not None:
        return message, ExitCode.UNREACHABLE
    return f"unexpected {type(error).__name__}: {error}", ExitCode.BUG


def run(job: Callable[[], T], *, database_url: str | None = None) -> T:
    """Run a command's work; any failure becomes one line and its exit status."""
    try:
        return job()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.INTERRUPTED)
    except Exception as error:
        message, code = _exit_for(error, database_url)
        fail(message, code)


def run_async(job: Callable[[Settings], Awaitable[T]], settings: Settings | None = None) -> T:
    """`run` for a coroutine that gets the settings."""
    settings = settings or settings_or_exit()
    chosen = settings

    async def main() -> T:
        return await job(chosen)

    return run(lambda: asyncio.run(main()), database_url=settings.database_url)


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """The configured database for one command, disposed afterwards."""
    from app.core.database import Database

    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


def in_transaction(job: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run `job(session, settings)` in one committed transaction on the primary."""

    async def main(settings: Settings) -> T:
        async with open_database(settings) as database, database.sessions.begin() as session:
            return await job(session, settings)

    return run_async(main)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on a terminal; nothing at all otherwise (cron, pipes)."""
    if not interactive():
        yield lambda _n: None
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


def print_json_or(
    data: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], str]
) -> None:
    typer.echo(json.dumps(data, indent=2, default=str) if as_json else render(data))


def parse_uuid(value: str, what: str) -> Any:
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{what} is not a UUID: {value}")
