"""`mandate-vault alerts sweep`: look for every alert condition once."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from app.core.cli import new_app, run_async

if TYPE_CHECKING:
    from app.alerts.sweep import SweepReport

app = new_app("Alerts: run the sweep that raises and clears them.")


@app.command("sweep")
def sweep(
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Raise alerts for conditions found now, resolve those that cleared, purge
    alerts resolved long ago (what the server does every ALERT_SWEEP_SECONDS)."""
    from app.alerts.jobs import sweep_all
    from app.alerts.publish import publish_raised
    from app.core.cli import open_database
    from app.core.config import Settings

    async def job(settings: Settings) -> SweepReport:
        async with open_database(settings) as database:
            return await sweep_all(database, settings, publish_raised)

    report = run_async(job)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), sort_keys=True))
        return
    raised, resolved = sum(report.raised.values()), sum(report.resolved.values())
    typer.echo(f"raised {raised}, resolved {resolved}, purged {report.purged} alert(s)")
