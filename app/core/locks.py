"""Advisory locks that let one process at a time run a round of a periodic job.

Every server process runs the background jobs; on PostgreSQL a round first takes
`pg_try_advisory_xact_lock(JOB_LOCK, job)` in its own transaction and is skipped
when another process holds it (the lock ends with the transaction, so a process
that dies frees it). SQLite has one writer at a time and serialises rounds by
itself. The alert sweep (`app.alerts.repository`), the audit sealer and retention
hold locks of their own.
"""

from __future__ import annotations

import enum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

JOB_LOCK = 0x4D564A42  # "MVJB"


class Job(enum.IntEnum):
    EXPIRY_SWEEP = 1
    ACTIVITY_ROLLUP = 2


async def claim_round(session: AsyncSession, job: Job) -> bool:
    """Whether this transaction may run a round of `job` (always on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    claimed = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:lock, :job)"),
        {"lock": JOB_LOCK, "job": int(job)},
    )
    return bool(claimed)
