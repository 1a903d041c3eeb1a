"""Retention on both engines: batches, anchors that keep the audit chain provable."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from app.audit.vault_keys import load_keyring
from app.audit.worker import checkpoint_once, seal_all
from app.core.database import Database
from app.dbops.retention import next_run, run_retention
from app.models import Alert, AuditAnchor, AuditLog, Mandate, Tenant
from tests.conftest import make_settings
from tests.dbops.dbops_data import run_cli
from tests.factories import audit_row, mandate_row

NOW = datetime.now(UTC)


async def chained_log(database: Database, tenants: list[uuid.UUID], ages_days: list[int]) -> None:
    """One audit row per age, round-robin over tenants, committed unsealed and then
    sealed into each tenant's chain (seq, prev_hash = previous row_hash) and checkpointed."""
    rows = [
        audit_row(tenants[i % len(tenants)], NOW - timedelta(days=age))
        for i, age in enumerate(ages_days)
    ]
    async with database.sessions() as session, session.begin():
        await session.execute(insert(AuditLog), rows)
    await seal_all(database)
    # Retention only cuts rows under a signed checkpoint.
    keyring = await load_keyring(database, database.settings)
    await checkpoint_once(database, keyring, database.settings, force=True)


async def make_tenants(database: Database, n: int) -> list[uuid.UUID]:
    async with database.sessions() as session, session.begin():
        tenants = [Tenant(name="t", slug=f"t-{uuid.uuid4().hex[:10]}") for _ in range(n)]
        session.add_all(tenants)
    return [t.id for t in tenants]


async def test_audit_retention_cuts_a_prefix_in_batches_and_anchors_it(database_url):
    settings = make_settings(database_url, audit_retention_days=365, retention_batch_size=7)
    database = Database(settings)
    try:
        tenants = await make_tenants(database, 3)
        # 40 old rows, 10 recent, then 2 old rows written after recent ones
        # (clock skew): those two stay, the log is only cut as a prefix.
        ages = [400 + (40 - i) for i in range(40)] + [10] * 10 + [500, 500]
        await chained_log(database, tenants, ages)

        dry = await run_retention(database, dry_run=True)
        assert dry["audit_log"]["eligible"] == 40
        assert dry["audit_log"]["kept_out_of_order"] == 2
        async with database.sessions() as session:
            assert len((await session.scalars(select(AuditLog.id))).all()) == 52

        report = await run_retention(database)
        assert report["audit_log"]["deleted"] == 40
        assert report["batches"] >= 40 // 7
        assert report["longest_transaction_ms"] > 0
        assert report["audit_log"]["anchors"] == 3

        async with database.sessions() as session:
            kept = (
                (
                    await session.execute(
                        select(AuditLog)
                        .where(AuditLog.tenant_id.is_not(None))
                        .order_by(AuditLog.id)
                    )
                )
                .scalars()
                .all()
            )
            anchors = (await session.execute(select(AuditAnchor))).scalars().all()
        assert len(kept) == 12
        by_tenant = {a.tenant_id: a for a in anchors}
        assert sum(a.rows_removed for a in anchors) == 40
        for tenant in tenants:
            first_kept = next(r for r in kept if r.tenant_id == tenant)
            # The chain stays provable: the first kept row points at the anchor.
            assert first_kept.prev_hash == by_tenant[tenant].last_row_hash
            assert by_tenant[tenant].last_id < first_kept.id
            assert first_kept.seq == by_tenant[tenant].last_seq + 1

        again = await run_retention(database)
        assert again["audit_log"]["deleted"] == 0
    finally:
        await database.dispose()


async def test_soft_deleted_mandates_are_purged_after_their_own_retention(database_url):
    database = Database(make_settings(database_url, retention_batch_size=2))
    try:
        (tenant,) = await make_tenants(database, 1)
        rows = {
            "live": mandate_row(tenant),
            "deleted-yesterday": mandate_row(tenant, deleted_at=NOW - timedelta(days=1)),
            "deleted-100d": mandate_row(tenant, deleted_at=NOW - timedelta(days=100)),
            "deleted-91d": mandate_row(tenant, deleted_at=NOW - timedelta(days=91)),
            "deleted-89d": mandate_row(tenant, deleted_at=NOW - timedelta(days=89)),
            "deleted-20d-keep-10": mandate_row(
                tenant, deleted_at=NOW - timedelta(days=20), retention_days=10
            ),
            "deleted-200d-keep-365": mandate_row(
                tenant, deleted_at=NOW - timedelta(days=200), retention_days=365
            ),
        }
        async with database.sessions() as session, session.begin():
            await session.execute(insert(Mandate), list(rows.values()))
            session.add(
                Alert(
                    tenant_id=tenant,
                    mandate_id=rows["deleted-100d"]["id"],
                    alert_type="x",
                    title="x",
                )
            )
        report = await run_retention(database)
        assert report["mandates"]["purged"] == 3
        async with database.sessions() as session:
            left = set((await session.scalars(select(Mandate.id))).all())
            alert_mandate = await session.scalar(select(Alert.mandate_id))
            purged = set(
                (
                    await session.scalars(
                        select(AuditLog.resource_id).where(AuditLog.action == "mandate.purged")
                    )
                ).all()
            )
        assert left == {
            rows[k]["id"]
            for k in ("live", "deleted-yesterday", "deleted-89d", "deleted-200d-keep-365")
        }
        assert alert_mandate is None  # the alert stays, unlinked
        gone = ("deleted-100d", "deleted-91d", "deleted-20d-keep-10")
        assert purged == {str(rows[k]["id"]) for k in gone}
    finally:
        await database.dispose()


def test_retention_cli(database_url, cli_env):
    async def setup():
        database = Database(make_settings(database_url))
        try:
            tenants = await make_tenants(database, 1)
            await chained_log(database, tenants, [800, 700, 1])
        finally:
            await database.dispose()

    asyncio.run(setup())
    dry = run_cli(cli_env, "retention", "run", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would delete 2 rows" in dry.output
    done = run_cli(cli_env, "retention", "run", "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["audit_log"]["deleted"] == 2
    assert report["mandates"]["purged"] == 0


def test_next_run_is_the_next_occurrence_in_utc():
    at = datetime(2026, 3, 1, 2, 59, tzinfo=UTC)
    assert next_run(at, "03:00") == datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    assert next_run(at.replace(hour=3), "03:00") == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert next_run(at, "00:30") == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)


async def test_the_service_runs_retention_on_schedule(database_url, monkeypatch):
    from app.dbops import retention
    from tests.conftest import app_client

    database = Database(make_settings(database_url))
    try:
        tenants = await make_tenants(database, 1)
        await chained_log(database, tenants, [900, 900, 2])
    finally:
        await database.dispose()
    monkeypatch.setattr(retention, "next_run", lambda now, _at: now + timedelta(seconds=0.05))
    async for _client in app_client(make_settings(database_url)):
        for _ in range(100):
            await asyncio.sleep(0.05)
            check = Database(make_settings(database_url))
            try:
                async with check.sessions() as session:
                    left = len(
                        (
                            await session.scalars(
                                select(AuditLog.id).where(AuditLog.tenant_id.is_not(None))
                            )
                        ).all()
                    )
            finally:
                await check.dispose()
            if left == 1:
                break
    assert left == 1


async def test_only_one_retention_run_at_a_time_on_postgres(database_url, engine_name):
    if engine_name != "postgres":
        return
    from sqlalchemy import text

    from app.dbops.retention import ADVISORY_LOCK_KEY

    database = Database(make_settings(database_url))
    try:
        tenants = await make_tenants(database, 1)
        await chained_log(database, tenants, [900])
        async with database.write_engine.connect() as holder:
            await holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            report = await run_retention(database)
            assert report["skipped"] == "another retention run holds the lock"
            await holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
        assert (await run_retention(database))["audit_log"]["deleted"] == 1
    finally:
        await database.dispose()
