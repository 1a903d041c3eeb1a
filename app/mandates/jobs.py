"""Background work of the mandates feature: the expiry sweep.

Runs inside the server every EXPIRY_SWEEP_SECONDS (0 turns it off) and from
`mandate-vault mandates sweep`. Each batch is its own transaction; on PostgreSQL
it holds the expiry sweep's advisory lock, so with several processes one sweeps
while the others skip the round (and the rows are claimed FOR UPDATE SKIP
LOCKED besides: a mandate is never expired twice).
"""

from __future__ import annotations

import contextlib

from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.database import Database
from app.core.locks import Job, claim_round
from app.core.logging import get_logger
from app.core.periodic import periodic
from app.mandates.service import sweep_expired

log = get_logger(__name__)
BATCH = 500


async def sweep_all(database: Database, batch: int = BATCH, clock: Clock = SYSTEM_CLOCK) -> int:
    """Expire everything that is due, batch by batch; returns how many (0 when
    another process is sweeping: it expires them)."""
    total = 0
    while True:
        async with database.sessions() as session, session.begin():
            if not await claim_round(session, Job.EXPIRY_SWEEP):
                return total
            count = await sweep_expired(session, now=clock.now(), batch=batch)
        total += count
        if count < batch:
            return total


def expiry_sweeper(
    database: Database, interval: float, clock: Clock = SYSTEM_CLOCK
) -> contextlib.AbstractAsyncContextManager[None]:
    """Run the sweep every `interval` seconds for the lifetime of the context."""

    async def round() -> None:
        expired = await sweep_all(database, clock=clock)
        if expired:
            log.info("expiry_sweep", expired=expired)

    return periodic("expiry_sweep", interval, round, wait_first=True)
