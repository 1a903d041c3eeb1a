"""Background work of the mandates feature: the expiry sweep.

Runs inside the server every EXPIRY_SWEEP_SECONDS (0 turns it off) and from
`mandate-vault mandates sweep`. Each batch is its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.database import Database
from app.core.logging import get_logger
from app.mandates.service import sweep_expired

log = get_logger(__name__)
BATCH = 500


async def sweep_all(database: Database, batch: int = BATCH, clock: Clock = SYSTEM_CLOCK) -> int:
    """Expire everything that is due, batch by batch; returns how many."""
    total = 0
    while True:
        async with database.sessions() as session, session.begin():
            count = await sweep_expired(session, now=clock.now(), batch=batch)
        total += count
        if count < batch:
            return total


async def _loop(database: Database, interval: float, clock: Clock) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            expired = await sweep_all(database, clock=clock)
            if expired:
                log.info("expiry_sweep", expired=expired)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the next round tries again
            log.warning("expiry_sweep_failed", error=type(error).__name__)


@contextlib.asynccontextmanager
async def expiry_sweeper(
    database: Database, interval: float, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[None]:
    """Run the sweep loop for the lifetime of the context (the app's lifespan)."""
    if interval <= 0:
        yield
        return
    task = asyncio.create_task(_loop(database, interval, clock), name="expiry-sweep")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
