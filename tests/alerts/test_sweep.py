"""The alert sweep on both databases: raised once, not repeated per sweep,
resolved when the condition clears, and never twice by concurrent sweeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, update

from app.alerts.sweep import MANUAL_QUIET
from app.models import AuditLog, Issuer, Mandate
from tests.alerts.conftest import FAILURES, alerts_of, tenant_key, write_backup
from tests.factories import audit_row, mandate_row, new_customer

DAY = 86400


async def new_tenant(database) -> object:
    async with database.sessions() as session, session.begin():
        tenant = new_customer()
        session.add(tenant)
    return tenant.id


async def add_mandates(database, *rows) -> None:
    async with database.sessions() as session, session.begin():
        await session.execute(insert(Mandate), list(rows))


async def reject(database, tenant_id, code, count, when) -> None:
    rows = [
        audit_row(tenant_id, when, action="mandate.rejected", outcome=code, row_hash=None)
        for _ in range(count)
    ]
    async with database.sessions() as session, session.begin():
        await session.execute(insert(AuditLog), rows)


async def test_an_expiring_mandate_is_alerted_once_and_clears_when_it_expires(
    database, settings, clock, sweep, published
):
    write_backup(settings_backups(settings), clock.now())
    tenant = await new_tenant(database)
    now = clock.now()
    soon = mandate_row(tenant, expires_at=now + timedelta(days=3))
    later = mandate_row(tenant, expires_at=now + timedelta(days=30))
    revoked = mandate_row(tenant, expires_at=now + timedelta(days=2), status="revoked")
    past = mandate_row(tenant, expires_at=now - timedelta(days=1))
    await add_mandates(database, soon, later, revoked, past)

    report = await sweep()
    (alert,) = await alerts_of(database, "mandate_expiring")
    assert (alert.mandate_id, alert.tenant_id, alert.severity) == (soon["id"], tenant, "warning")
    assert alert.title == "Mandate expires in 3 days"
    assert report.raised == {"mandate_expiring": 1}
    assert [a.id for a in published.alerts] == [alert.id]

    for _ in range(3):  # swept again and again: still the one alert
        clock.advance(600)
        assert (await sweep()).raised == {}
    assert len(await alerts_of(database, "mandate_expiring")) == 1

    clock.advance(3 * DAY)  # it has expired now: the condition cleared
    write_backup(settings_backups(settings), clock.now())
    report = await sweep()
    (alert,) = await alerts_of(database, "mandate_expiring")
    assert (alert.resolution, alert.resolved_by) == ("cleared", "system")
    assert report.resolved == {"mandate_expiring": 1}
    assert (await sweep()).raised == {}
    assert [a.type for a in published.alerts] == ["mandate_expiring"]


async def test_a_mandate_is_never_alerted_again_after_a_manual_resolve(
    database, settings, clock, sweep
):
    write_backup(settings_backups(settings), clock.now())
    tenant = await new_tenant(database)
    row = mandate_row(tenant, expires_at=clock.now() + timedelta(days=5))
    await add_mandates(database, row)
    await sweep()
    (alert,) = await alerts_of(database, "mandate_expiring")
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(type(alert))
            .where(type(alert).id == alert.id)
            .values(resolved_at=clock.now(), resolved_by="someone", resolution="manual")
        )
    clock.advance(2 * DAY)
    write_backup(settings_backups(settings), clock.now())
    assert (await sweep()).raised == {}
    assert len(await alerts_of(database, "mandate_expiring")) == 1


async def test_a_revoked_mandate_clears_its_expiry_alert(database, settings, clock, sweep):
    write_backup(settings_backups(settings), clock.now())
    tenant = await new_tenant(database)
    row = mandate_row(tenant, expires_at=clock.now() + timedelta(days=1))
    await add_mandates(database, row)
    await sweep()
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(Mandate).where(Mandate.id == row["id"]).values(status="revoked")
        )
    assert (await sweep()).resolved == {"mandate_expiring": 1}


async def test_verification_failures_above_the_threshold_raise_one_alert_per_code(
    database, settings, clock, sweep, published
):
    write_backup(settings_backups(settings), clock.now())
    a, b = await new_tenant(database), await new_tenant(database)
    now = clock.now()
    await reject(database, a, "SIG_INVALID", FAILURES, now - timedelta(minutes=5))
    await reject(database, a, "EXPIRED", FAILURES - 1, now - timedelta(minutes=5))
    await reject(database, b, "SIG_INVALID", FAILURES, now - timedelta(minutes=30))  # old
    assert (await sweep()).raised == {"verification_failures": 1}
    (alert,) = await alerts_of(database, "verification_failures")
    assert (alert.tenant_id, alert.dedupe_key) == (a, tenant_key(a, "SIG_INVALID"))
    assert alert.details["count"] == FAILURES
    assert alert.details["code"] == "SIG_INVALID"

    await reject(database, a, "SIG_INVALID", 10, now)  # the spike goes on
    clock.advance(60)
    assert (await sweep()).raised == {}

    # Below the threshold but above half of it: the alert stays open, no new one.
    clock.advance(10 * 60)
    await reject(database, a, "SIG_INVALID", FAILURES // 2, clock.now())
    clock.advance(6 * 60)  # only the last few are in the window now
    report = await sweep()
    assert (report.raised, report.resolved) == ({}, {})

    clock.advance(20 * 60)  # nothing in the window: cleared
    assert (await sweep()).resolved == {"verification_failures": 1}
    (alert,) = await alerts_of(database, "verification_failures")
    assert alert.resolution == "cleared"

    # A new spike later is a new alert.
    await reject(database, a, "SIG_INVALID", FAILURES, clock.now())
    assert (await sweep()).raised == {"verification_failures": 1}
    assert len(await alerts_of(database, "verification_failures")) == 2
    assert [p.type for p in published.alerts] == ["verification_failures"] * 2


async def test_failing_issuer_keys_alert_the_tenant_or_the_platform(
    database, settings, clock, sweep
):
    write_backup(settings_backups(settings), clock.now())
    tenant = await new_tenant(database)
    now = clock.now()
    async with database.sessions() as session, session.begin():
        own = Issuer(did="did:web:own.example", jwks_url="https://own.example/jwks")
        own.tenant_id = tenant
        own.jwks_failing_since = now - timedelta(minutes=90)
        own.jwks_error = "connect timeout"
        fresh = Issuer(did="did:web:fresh.example", jwks_url="https://fresh.example/jwks")
        fresh.tenant_id = tenant
        fresh.jwks_failing_since = now - timedelta(minutes=10)  # not an hour yet
        shared = Issuer(did="did:web:global.example", jwks_url="https://global.example/jwks")
        shared.jwks_failing_since = now - timedelta(hours=3)
        session.add_all([own, fresh, shared])
    assert (await sweep()).raised == {"issuer_keys_failing": 2}
    by_tenant = {a.tenant_id: a for a in await alerts_of(database, "issuer_keys_failing")}
    assert set(by_tenant) == {tenant, None}
    assert by_tenant[tenant].details["error"] == "connect timeout"
    assert by_tenant[None].details["did"] == "did:web:global.example"

    async with database.sessions() as session, session.begin():
        await session.execute(
            update(Issuer).where(Issuer.id == own.id).values(jwks_failing_since=None)
        )
    assert (await sweep()).resolved == {"issuer_keys_failing": 1}
    (still,) = [a for a in await alerts_of(database, "issuer_keys_failing") if not a.resolved_at]
    assert still.tenant_id is None


async def test_a_stale_backup_is_a_platform_alert_until_a_new_backup(
    database, settings, clock, sweep, published
):
    backups = settings_backups(settings)
    write_backup(backups, clock.now() - timedelta(hours=27))
    assert (await sweep()).raised == {"backup_stale": 1}
    (alert,) = await alerts_of(database, "backup_stale")
    assert (alert.tenant_id, alert.severity) == (None, "critical")
    assert alert.details["newest_backup_at"] is not None
    assert (await sweep()).raised == {}
    write_backup(backups, clock.now())
    assert (await sweep()).resolved == {"backup_stale": 1}
    assert [p.tenant_id for p in published.alerts] == [None]


async def test_no_backup_at_all_is_alerted(database, sweep):
    assert (await sweep()).raised == {"backup_stale": 1}
    (alert,) = await alerts_of(database, "backup_stale")
    assert alert.details["newest_backup_at"] is None


async def test_a_hand_resolved_alert_whose_condition_holds_comes_back_after_the_quiet_hour(
    database, clock, sweep
):
    await sweep()
    (alert,) = await alerts_of(database, "backup_stale")
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(type(alert))
            .where(type(alert).id == alert.id)
            .values(resolved_at=clock.now(), resolved_by="ops", resolution="manual")
        )
    clock.advance(MANUAL_QUIET.total_seconds() - 60)
    assert (await sweep()).raised == {}
    clock.advance(120)
    assert (await sweep()).raised == {"backup_stale": 1}
    assert [a.resolution for a in await alerts_of(database, "backup_stale")] == ["manual", None]


async def test_concurrent_sweeps_raise_each_alert_once(database, settings, clock, published, sweep):
    tenant = await new_tenant(database)
    rows = [mandate_row(tenant, expires_at=clock.now() + timedelta(days=2)) for _ in range(40)]
    await add_mandates(database, *rows)
    await reject(database, tenant, "SIG_INVALID", FAILURES, clock.now())
    reports = await asyncio.gather(*(sweep() for _ in range(4)), return_exceptions=True)
    # A sweep that lost a race on PostgreSQL may fail; the others (and the next) carry on.
    assert any(not isinstance(r, BaseException) for r in reports), reports
    await sweep()
    alerts = await alerts_of(database)
    keys = [(a.alert_type, a.dedupe_key) for a in alerts]
    assert len(keys) == len(set(keys)) == 40 + 2  # 40 mandates, one spike, the backup
    assert sorted(a.id for a in published.alerts) == sorted(a.id for a in alerts)


async def test_resolved_alerts_are_purged_after_the_retention(database, settings, clock, sweep):
    await sweep()
    write_backup(settings_backups(settings), clock.now())
    await sweep()
    (alert,) = await alerts_of(database, "backup_stale")
    assert alert.resolved_at is not None
    clock.advance((settings.alert_resolved_retention_days - 1) * DAY)
    write_backup(settings_backups(settings), clock.now())
    assert (await sweep()).purged == 0
    clock.advance(2 * DAY)
    write_backup(settings_backups(settings), clock.now())
    assert (await sweep()).purged == 1
    assert await alerts_of(database) == []


def settings_backups(settings) -> Path:
    return Path(settings.backup_dir)
