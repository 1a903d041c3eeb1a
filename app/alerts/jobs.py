"""The alert sweep as background work: in the server every ALERT_SWEEP_SECONDS,
or once with `mandate-vault alerts sweep`. Each step is its own transaction, so
one failing detector does not hold back the others."""

from __future__ import annotations

import contextlib

from app.alerts.metrics import SWEEP_FAILURES
from app.alerts.repository import claim_sweep_step
from app.alerts.sweep import (
    DETECTORS,
    EXPIRY_BATCH,
    Publisher,
    SweepReport,
    purge_resolved,
    reconcile,
    sweep_expiring,
)
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Settings
from app.core.database import Database
from app.core.logging import get_logger
from app.core.periodic import periodic

log = get_logger(__name__)
EXPIRY_STEP, PURGE_STEP = 100, 101
MAX_EXPIRY_BATCHES = 200  # a sweep raises at most 100,000 expiry alerts; the next goes on


async def sweep_all(
    database: Database, settings: Settings, publish: Publisher, clock: Clock = SYSTEM_CLOCK
) -> SweepReport:
    """Every detector once, then the expiry horizon batch by batch, then the purge."""
    report = SweepReport()
    now = clock.now()
    for step, (type, detect) in enumerate(DETECTORS.items()):
        async with database.sessions() as session, session.begin():
            if await claim_sweep_step(session, step):
                found = await detect(session, settings, now)
                await reconcile(session, type, found, now, publish, report)
    for _ in range(MAX_EXPIRY_BATCHES):
        async with database.sessions() as session, session.begin():
            if not await claim_sweep_step(session, EXPIRY_STEP):
                break
            if await sweep_expiring(session, settings, now, publish, report) < EXPIRY_BATCH:
                break
    async with database.sessions() as session, session.begin():
        if await claim_sweep_step(session, PURGE_STEP):
            report.purged = await purge_resolved(session, settings, now)
    return report


def alert_sweeper(
    database: Database, settings: Settings, publish: Publisher, clock: Clock = SYSTEM_CLOCK
) -> contextlib.AbstractAsyncContextManager[None]:
    """Run the sweep every ALERT_SWEEP_SECONDS for the lifetime of the context."""

    async def round() -> None:
        report = await sweep_all(database, settings, publish, clock)
        if report.raised or report.resolved or report.purged:
            log.info("alert_sweep", **report.as_dict())

    return periodic(
        "alert_sweep", settings.alert_sweep_seconds, round, on_failure=SWEEP_FAILURES.inc
    )
