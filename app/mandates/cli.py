"""`mandate-vault mandates ...`: import a file of tokens, run the expiry sweep."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Mandates: bulk import and the expiry sweep.", no_args_is_help=True)


@app.command("import")
def import_file(
    path: Annotated[
        Path,
        typer.Argument(
            help='JSON Lines: one {"vc_jwt": ...} per line.', exists=True, dir_okay=False
        ),
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id the mandates belong to.")],
) -> None:
    """Verify and store every token of FILE for one tenant; print a summary by code."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from sqlalchemy import select

    from app.cli import fail, guarded, settings_or_exit
    from app.core.database import Database
    from app.issuers.trust import TrustLoader
    from app.mandates.importer import import_lines
    from app.models import Customer

    try:
        tenant_id = uuid.UUID(tenant)
    except ValueError:
        fail(f"--tenant must be a tenant id (UUID), got {tenant!r}")
    settings = settings_or_exit()
    console = Console(stderr=True)
    total = sum(1 for line in path.open("rb") if line.strip())

    async def run():
        database = Database(settings)
        try:
            async with database.sessions() as session:
                if (
                    await session.scalar(select(Customer.id).where(Customer.id == tenant_id))
                    is None
                ):
                    fail(f"no tenant with id {tenant_id}")
            with Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=not console.is_terminal,
            ) as progress:
                task = progress.add_task("import", total=total)
                with path.open("rb") as lines:
                    return await import_lines(
                        database,
                        tenant_id,
                        lines,
                        settings,
                        TrustLoader(None),
                        progress=lambda n: progress.advance(task, n),
                    )
        finally:
            await database.dispose()

    summary = guarded(settings.database_url, lambda: asyncio.run(run()))
    out = Console(soft_wrap=True)
    out.print(
        f"{summary.lines} lines: {summary.created} stored, {summary.duplicates} already present"
    )
    table = Table()
    table.add_column("code")
    table.add_column("count", justify="right")
    for code, count in summary.codes.most_common():
        table.add_row(code, str(count))
    out.print(table)


@app.command("sweep")
def sweep() -> None:
    """Mark every active mandate past its expiry as expired (audited)."""
    from app.cli import guarded, settings_or_exit
    from app.core.database import Database
    from app.mandates.jobs import sweep_all

    settings = settings_or_exit()

    async def run() -> int:
        database = Database(settings)
        try:
            return await sweep_all(database)
        finally:
            await database.dispose()

    count = guarded(settings.database_url, lambda: asyncio.run(run()))
    typer.echo(f"expired {count} mandate(s)")
