"""`mandate-vault mandates ...`: import a file of tokens, run the expiry sweep."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from app.core.cli import new_app, parse_uuid, run_async

app = new_app("Mandates: bulk import and the expiry sweep.")


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

    from app.core.cli import open_database
    from app.core.config import Settings
    from app.issuers.trust import TrustLoader
    from app.mandates.importer import ImportSummary, import_lines
    from app.mandates.verifier_pool import shared_pool
    from app.tenancy.service import require_tenant

    tenant_id: uuid.UUID = parse_uuid(tenant, "--tenant")
    shared_pool().warm()  # the workers start while the file is counted and the database opened
    console = Console(stderr=True)
    with path.open("rb") as counted:
        total = sum(1 for line in counted if line.strip())

    async def job(settings: Settings) -> ImportSummary:
        async with open_database(settings) as database:
            async with database.sessions() as session:
                await require_tenant(session, tenant_id)
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

    summary = run_async(job)
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
    from app.core.cli import open_database
    from app.core.config import Settings
    from app.mandates.jobs import sweep_all

    async def job(settings: Settings) -> int:
        async with open_database(settings) as database:
            return await sweep_all(database)

    typer.echo(f"expired {run_async(job)} mandate(s)")
