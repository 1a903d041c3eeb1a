"""The audit worker: seal committed rows, sign checkpoints, verify on a schedule.

One sealer per database. On PostgreSQL the server (or `mandate-vault audit
worker`) that holds the advisory lock AUDIT_LOCK_KEY seals; the others wait
and take over when it goes away. On SQLite every process may seal: passes
run inside BEGIN IMMEDIATE, so they are serialized by the database lock and
re-read each head inside the transaction.

A failed scheduled verification is logged at error level
(`audit_verification_failed`), counted in
`mandate_vault_audit_verification_failures_total`, and handed to every
callback in VERIFICATION_FAILED_HOOKS (where the alerts feature plugs in).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.audit import chain_repository as store
from app.audit.report import ChainReport
from app.audit.vault_keys import cached_keyring
from app.audit.verification import verify_stored_chain
from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Settings
from app.core.database import Database
from app.core.logging import get_logger
from app.core.metrics import REGISTRY
from app.signing import Keyring

log = get_logger(__name__)
STOP_GRACE_SECONDS = 10.0  # a round in flight at shutdown gets this long to finish
AUDIT_LOCK_KEY = 0x4D564155  # "MVAU": one sealer per PostgreSQL database

SEAL_LAG = Histogram(
    "mandate_vault_audit_seal_lag_seconds",
    "Time from an audit row's timestamp to its sealing.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
ROWS_SEALED = Counter(
    "mandate_vault_audit_rows_sealed", "Audit rows sealed into the hash chain.", registry=REGISTRY
)
CHECKPOINTS_SIGNED = Counter(
    "mandate_vault_audit_checkpoints_signed", "Signed audit checkpoints.", registry=REGISTRY
)
VERIFICATION_FAILURES = Counter(
    "mandate_vault_audit_verification_failures",
    "Scheduled audit chain verifications that found a broken chain.",
    registry=REGISTRY,
)
STUCK_CHAINS = Gauge(
    "mandate_vault_audit_stuck_chains",
    "Chains whose sealing stopped at a row that cannot be hashed.",
    registry=REGISTRY,
)

# Called with each broken ChainReport of a scheduled verification (alerts plug in here).
# Called with the database and each broken chain's report (the alerts feature
# registers one that raises an alert); a hook that fails is logged, never raised.
VERIFICATION_FAILED_HOOKS: list[Callable[[Database, ChainReport], Awaitable[None]]] = []


def _probe_engine(database: Database) -> AsyncEngine:
    """Where to look whether there is work: on SQLite a reader (deferred BEGIN), so an
    idle sealer never takes the write lock; on PostgreSQL the primary (no replica lag)."""
    if database.backend == "sqlite" and database.read_engine is not None:
        return database.read_engine
    return database.write_engine


async def seal_once(database: Database, clock: Clock = SYSTEM_CLOCK) -> store.SealResult:
    """One sealing transaction (at most SEAL_BATCH rows); none when nothing is pending."""
    async with _probe_engine(database).connect() as probe:
        pending = await store.any_unsealed(probe)
        await probe.rollback()
    if not pending:
        return store.SealResult()
    async with database.write_engine.begin() as connection:
        result = await store.seal_pending(connection, clock.now())
    for lag in result.lags:
        SEAL_LAG.observe(max(lag, 0.0))
    ROWS_SEALED.inc(result.rows)
    STUCK_CHAINS.set(len(result.stuck))
    for chain, reason in result.stuck.items():
        log.error("audit_row_unhashable", chain=chain, error=reason)
    return result


async def seal_all(database: Database, clock: Clock = SYSTEM_CLOCK) -> int:
    """Seal everything pending, pass after pass; returns the rows sealed."""
    total = 0
    while True:
        result = await seal_once(database, clock)
        total += result.rows
        if result.rows < store.SEAL_BATCH or result.stuck:
            return total


async def checkpoint_once(
    database: Database,
    keyring: Keyring,
    settings: Settings,
    clock: Clock = SYSTEM_CLOCK,
    *,
    force: bool = False,
    chains: list[str] | None = None,
) -> list[store.MadeCheckpoint]:
    """Sign the heads of the chains that are due (all with new rows when `force`)."""
    now = clock.now()
    async with _probe_engine(database).connect() as connection:
        due = await store.checkpoint_due(
            connection,
            now,
            max_rows=settings.audit_checkpoint_max_rows,
            max_age_seconds=settings.audit_checkpoint_seconds,
            force=force,
            chains=chains,
        )
        await connection.rollback()
    made: list[store.MadeCheckpoint] = []
    for chain in due:
        async with database.write_engine.begin() as connection:
            made += await store.checkpoint_chain(
                connection, chain, keyring, now, max_rows=settings.audit_checkpoint_max_rows
            )
    CHECKPOINTS_SIGNED.inc(len(made))
    return made


async def verify_all(
    database: Database,
    keyring: Keyring,
    settings: Settings,
    clock: Clock = SYSTEM_CLOCK,
    *,
    chains: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ChainReport]:
    reports = []
    async with database.write_engine.connect() as connection:
        names = chains if chains is not None else await store.chain_ids(connection)
        await connection.rollback()
    for chain in names:
        async with database.write_engine.connect() as connection:
            reports.append(
                await verify_stored_chain(
                    connection,
                    chain,
                    keyring.keyset(),
                    now=clock.now(),
                    retention_days=settings.audit_retention_days,
                    progress=progress,
                )
            )
            await connection.rollback()
    return reports


async def report_failures(database: Database, reports: list[ChainReport]) -> int:
    """Log, count and hand on every broken chain; returns how many."""
    broken = [report for report in reports if report.broken is not None]
    for report in broken:
        problem = report.broken
        assert problem is not None
        VERIFICATION_FAILURES.inc()
        log.error(
            "audit_verification_failed",
            chain=report.chain_id,
            problem=problem.problem.value,
            seq=problem.seq,
            message=problem.message,
        )
        for hook in VERIFICATION_FAILED_HOOKS:
            try:
                await hook(database, report)
            except Exception as error:  # a hook never stops the worker
                log.error("audit_verification_hook_failed", error=type(error).__name__)
    return len(broken)


@dataclass
class _Lock:
    """The PostgreSQL advisory lock that makes this process the sealer."""

    database: Database
    connection: AsyncConnection | None = None
    held: bool = False

    async def acquire(self) -> bool:
        if self.database.backend != "postgresql":
            return True
        if self.held and self.connection is not None:
            try:
                await self.connection.execute(text("SELECT 1"))
                await self.connection.commit()
                return True
            except Exception:
                await self.release()
        try:
            self.connection = await self.database.write_engine.connect()
            got = (
                await self.connection.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": AUDIT_LOCK_KEY}
                )
            ).scalar_one()
            await self.connection.commit()
        except Exception:
            await self.release()
            return False
        if not got:
            await self.release()
            return False
        self.held = True
        log.info("audit_sealer_started")
        return True

    async def release(self) -> None:
        connection, self.connection, self.held = self.connection, None, False
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()


@dataclass
class AuditWorker:
    database: Database
    settings: Settings
    clock: Clock = SYSTEM_CLOCK
    keyring: Keyring | None = None
    _lock: _Lock = field(init=False)
    _stop: asyncio.Event = field(init=False)

    def __post_init__(self) -> None:
        self._lock = _Lock(self.database)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Finish the round in flight, then return from `run`."""
        self._stop.set()

    async def _keyring(self) -> Keyring:
        if self.keyring is not None:  # given by the caller (tests, the CLI's first read)
            keyring, self.keyring = self.keyring, None
            return keyring
        return await cached_keyring(self.database, self.settings)

    async def has_work(self) -> bool:
        """Whether a round would seal or sign anything: one read, without the lock."""
        async with self.database.fresh_reads() as session:
            return await store.work_pending(
                session,
                self.clock.now(),
                max_rows=self.settings.audit_checkpoint_max_rows,
                max_age_seconds=self.settings.audit_checkpoint_seconds,
            )

    async def round(self) -> None:
        """One round: seal what is pending, then sign the chains that are due.

        An idle round is the one read of `has_work`: the lock is checked (or sought)
        only when there is something to do, so an idle sealer, or a process waiting
        for the lock, costs one statement per interval."""
        if not await self.has_work() or not await self._lock.acquire():
            return
        await seal_all(self.database, self.clock)
        await checkpoint_once(self.database, await self._keyring(), self.settings, self.clock)

    async def run(self) -> None:
        interval = self.settings.audit_seal_interval
        verify_every = self.settings.audit_verify_seconds
        loop = asyncio.get_running_loop()
        next_verify = loop.time() + verify_every if verify_every > 0 else None
        failing = False
        while not self._stop.is_set():
            try:
                await self.round()
                failing = False
                if next_verify is not None and loop.time() >= next_verify:
                    next_verify = loop.time() + verify_every
                    # By the sealer: the lock is sought here too, since an idle vault
                    # may have chosen none yet (rounds seek it only when there is work).
                    if await self._lock.acquire():
                        reports = await verify_all(
                            self.database, await self._keyring(), self.settings, self.clock
                        )
                        await report_failures(self.database, reports)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next round tries again
                if not failing:
                    log.warning("audit_worker_failed", error=f"{type(error).__name__}: {error}")
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)

    async def close(self) -> None:
        await self._lock.release()


@contextlib.asynccontextmanager
async def audit_worker(
    database: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[AuditWorker | None]:
    """Run the worker for the lifetime of the context (the app's lifespan)."""
    if settings.audit_seal_interval <= 0:
        yield None
        return
    worker = AuditWorker(database, settings, clock)
    task = asyncio.create_task(worker.run(), name="audit-worker")
    try:
        yield worker
    finally:
        # A round cancelled inside its transaction could leave SQLite's write lock
        # with a connection nobody closes: let it finish, cancel only if it hangs.
        worker.stop()
        try:
            await asyncio.wait_for(task, timeout=STOP_GRACE_SECONDS)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await worker.close()
