"""The roll-up job: every ACTIVITY_ROLLUP_SECONDS the hours that closed (plus a
grace period for transactions still committing) are counted into
`activity_hourly`, and every tenant's mandates are counted by status, in one
transaction that also moves the mark. Runs inside every server process; on
PostgreSQL a round takes the roll-up's advisory lock first and is skipped while
another process holds it (the mark's row lock orders them besides).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from app.activity.repository import (
    count_statuses_of_every_tenant,
    roll_up_every_tenant,
    rolled_up_to,
)
from app.activity.service import floor_hour
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.database import Database
from app.core.locks import Job, claim_round
from app.core.logging import get_logger
from app.core.periodic import periodic

log = get_logger(__name__)
# An event is counted in the hour of its timestamp; a transaction that began
# before the hour closed may commit a little later, so an hour is rolled up
# only once it has been closed this long.
GRACE = timedelta(minutes=5)
KEEP = timedelta(days=8)


async def roll_up(database: Database, now: datetime) -> int:
    """Roll up every closed hour not yet counted; returns the hourly rows written.
    The status counts are refreshed every time."""
    end = floor_hour(now - GRACE)
    oldest = end - KEEP
    async with database.sessions() as session, session.begin():
        if not await claim_round(session, Job.ACTIVITY_ROLLUP):
            return 0  # another process is rolling up
        mark = await rolled_up_to(session, lock=True)
        await count_statuses_of_every_tenant(session, now)
        start = oldest if mark is None or mark < oldest else mark
        if start >= end:
            return 0
        return await roll_up_every_tenant(session, start, end, oldest)


def activity_rollup(
    database: Database, interval: float, clock: Clock = SYSTEM_CLOCK
) -> contextlib.AbstractAsyncContextManager[None]:
    """Run the roll-up every `interval` seconds for the lifetime of the context."""

    async def round() -> None:
        written = await roll_up(database, clock.now())
        if written:
            log.info("activity_rollup", rows=written)

    return periodic("activity_rollup", interval, round)
