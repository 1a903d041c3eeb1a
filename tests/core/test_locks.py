"""The advisory lock a periodic job's round takes: one process at a time on PostgreSQL."""

from __future__ import annotations

from app.core.locks import Job, claim_round


async def test_a_round_is_claimed_by_one_transaction_at_a_time(database, engine_name):
    async with database.sessions() as first, first.begin():
        assert await claim_round(first, Job.EXPIRY_SWEEP)
        async with database.sessions() as second, second.begin():
            # SQLite has one writer at a time: every round may start (and queues there).
            assert await claim_round(second, Job.EXPIRY_SWEEP) is (engine_name == "sqlite")
            # Another job's lock is its own.
            assert await claim_round(second, Job.ACTIVITY_ROLLUP)
    # The lock ended with the first transaction.
    async with database.sessions() as third, third.begin():
        assert await claim_round(third, Job.EXPIRY_SWEEP)
