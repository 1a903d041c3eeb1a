"""`mandate-vault worker`: the webhook delivery worker as a process of its own.

Run several on PostgreSQL: they share the queue (FOR UPDATE SKIP LOCKED). Stop
with SIGTERM or Ctrl-C: the round in flight finishes, then it exits 0. It checks
the database once at start (exit 4 when unreachable); after that an outage only
pauses it and it reconnects by itself.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.core.cli import run_async


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="One round (claim, send, record), then exit.")
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=1000, help="Attempts in flight [WEBHOOK_WORKER_CONCURRENCY]."),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(min=1, max=1000, help="Deliveries claimed per round [WEBHOOK_WORKER_BATCH]."),
    ] = None,
) -> None:
    """Deliver webhooks until stopped (SIGTERM / Ctrl-C)."""
    import asyncio
    import signal

    from sqlalchemy import text

    from app.core.cli import open_database, settings_or_exit
    from app.core.config import Settings
    from app.events.worker import DeliveryWorker

    overrides: dict[str, int] = {}
    if concurrency is not None:
        overrides["webhook_worker_concurrency"] = concurrency
    if batch is not None:
        overrides["webhook_worker_batch"] = batch
    settings = settings_or_exit()
    if overrides:
        settings = settings.model_copy(update=overrides)

    async def job(settings: Settings) -> int:
        async with open_database(settings) as database:
            async with database.sessions() as session:
                await session.execute(text("SELECT 1"))  # unreachable: exit 4 now
            delivery = DeliveryWorker(database, settings)
            try:
                if once:
                    return await delivery.run_once()
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signum, stop.set)
                await delivery.run(stop)
                return 0
            finally:
                await delivery.aclose()

    sent = run_async(job, settings)
    if once:
        typer.echo(f"sent {sent}")
