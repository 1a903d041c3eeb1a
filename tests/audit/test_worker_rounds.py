"""The sealer's rounds on both databases: an idle round is one read and leaves the
lock alone; `work_pending` answers yes exactly when sealing or signing is due."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.audit.chain_repository import checkpoint_due, work_pending
from app.audit.vault_keys import load_keyring
from app.audit.worker import (
    AUDIT_LOCK_KEY,
    VERIFICATION_FAILED_HOOKS,
    AuditWorker,
    checkpoint_once,
    seal_all,
)
from app.core.database import Database
from tests.audit.test_chain_db import tenant, write
from tests.conftest import make_settings

MAX_ROWS = 10
MAX_AGE = 60.0


@pytest.fixture
def settings(database_url):
    return make_settings(
        database_url,
        audit_checkpoint_max_rows=MAX_ROWS,
        audit_checkpoint_seconds=MAX_AGE,
        audit_seal_interval=0,
    )


async def pending(db: Database, now: datetime, max_rows: int = MAX_ROWS) -> bool:
    async with db.fresh_reads() as session:
        return await work_pending(session, now, max_rows=max_rows, max_age_seconds=MAX_AGE)


async def due(db: Database, now: datetime, max_rows: int = MAX_ROWS) -> list[str]:
    async with db.write_engine.connect() as connection:
        return await checkpoint_due(connection, now, max_rows=max_rows, max_age_seconds=MAX_AGE)


async def all_done(db: Database, settings) -> None:
    """Everything sealed and signed, the template's own rows included."""
    await seal_all(db)
    await checkpoint_once(db, await load_keyring(db, settings), settings, force=True)


async def lock_holders(db: Database) -> int:
    """Sessions holding the sealer's advisory lock on this database (PostgreSQL): the
    lock is per database, and parallel tests run sealers on databases of their own."""
    async with db.write_engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"k": AUDIT_LOCK_KEY},
        )
        return int(found.scalar_one())


async def test_work_pending_follows_sealing_and_the_checkpoint_rules(database, settings):
    await all_done(database, settings)
    now = datetime.now(UTC)
    assert not await pending(database, now)
    chain = await tenant(database)
    await write(database, chain, 3)
    assert await pending(database, now), "rows to seal"
    await seal_all(database)
    # Sealed, never signed: due at once.
    assert await pending(database, now)
    assert await due(database, now) == [str(chain)]
    await checkpoint_once(database, await load_keyring(database, settings), settings, force=True)
    assert not await pending(database, now)
    assert await due(database, now) == []
    await write(database, chain, 2)
    await seal_all(database)
    later = datetime.now(UTC)
    # Two rows since a fresh checkpoint: due once MAX_ROWS wait, or MAX_AGE has passed.
    assert not await pending(database, later)
    assert await due(database, later) == []
    assert await pending(database, later, max_rows=2)
    assert await due(database, later, max_rows=2) == [str(chain)]
    assert not await pending(database, later, max_rows=3)
    aged = later + timedelta(seconds=MAX_AGE + 1)
    assert await pending(database, aged)
    assert await due(database, aged) == [str(chain)]


async def test_an_idle_round_leaves_the_lock_and_a_busy_one_takes_it(database, settings):
    await all_done(database, settings)
    worker = AuditWorker(database, settings)
    try:
        assert not await worker.has_work()
        await worker.round()
        assert not worker._lock.held
        assert worker._lock.connection is None
        if database.backend == "postgresql":
            assert await lock_holders(database) == 0
        chain = await tenant(database)
        await write(database, chain, 4)
        assert await worker.has_work()
        await worker.round()
        assert not await worker.has_work(), "sealed and signed in one round"
        async with database.write_engine.connect() as connection:
            unsealed = await connection.execute(
                text("SELECT count(*) FROM audit_log WHERE seq IS NULL")
            )
            assert unsealed.scalar_one() == 0
        if database.backend == "postgresql":
            assert worker._lock.held
            assert await lock_holders(database) == 1
    finally:
        await worker.close()


async def test_an_idle_vault_is_still_verified_on_schedule(database_url):
    settings = make_settings(
        database_url,
        audit_seal_interval=0.05,
        audit_verify_seconds=0.2,
        audit_checkpoint_seconds=60,
    )
    db = Database(settings)
    broken: list[str] = []

    async def hook(_database: Database, report) -> None:
        broken.append(report.chain_id)

    VERIFICATION_FAILED_HOOKS.append(hook)
    worker = AuditWorker(db, settings)
    try:
        chain = await tenant(db)
        await write(db, chain, 3)
        await all_done(db, settings)
        async with db.write_engine.begin() as connection:
            await connection.execute(
                text("UPDATE audit_log SET action = 'forged' WHERE chain_id = :c AND seq = 2"),
                {"c": str(chain)},
            )
        assert not await worker.has_work(), "nothing to seal or sign: every round is idle"
        running = asyncio.create_task(worker.run())
        deadline = asyncio.get_running_loop().time() + 20
        while str(chain) not in broken and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        worker.stop()
        await running
        assert str(chain) in broken
    finally:
        VERIFICATION_FAILED_HOOKS.remove(hook)
        await worker.close()
        await db.dispose()
