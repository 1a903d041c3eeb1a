"""The alerts API on both databases: reading, filters and pages, acknowledging
and resolving, roles, tenant isolation and the bad inputs."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from app.models import Alert, AuditLog
from tests.alerts.conftest import alerts_of
from tests.clock import ManualClock

PROBLEM = "application/problem+json"


async def add_alert(database, tenant_id, **values) -> uuid.UUID:
    now = ManualClock().now()
    row = {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "alert_type": "mandate_expiring",
        "dedupe_key": uuid.uuid4().hex,
        "severity": "warning",
        "title": "Mandate expires in 3 days",
        "message": "renew it",
        "details": {},
        "created_at": now,
    }
    row.update(values)
    async with database.sessions() as session, session.begin():
        await session.execute(insert(Alert), [row])
    return row["id"]


def key(world, role="customer_admin", tenant="a"):
    return getattr(world, tenant)[role].key()


async def test_list_filter_and_page_newest_first(client, world, database):
    now = ManualClock().now()
    ids = [
        await add_alert(database, world.tenant_a, created_at=now - timedelta(minutes=i))
        for i in range(5)
    ]
    failing = await add_alert(
        database,
        world.tenant_a,
        alert_type="verification_failures",
        severity="warning",
        created_at=now - timedelta(hours=1),
    )
    await add_alert(database, world.tenant_b)
    await add_alert(database, None, alert_type="backup_stale", severity="critical")

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/v1/alerts", params=params, headers=key(world, "readonly"))
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(i) for i in ids] + [str(failing)]  # newest first, only tenant A's

    only = await client.get(
        "/api/v1/alerts", params={"type": "verification_failures"}, headers=key(world)
    )
    assert [a["id"] for a in only.json()["items"]] == [str(failing)]
    assert only.json()["items"][0]["state"] == "open"
    critical = await client.get(
        "/api/v1/alerts", params={"severity": "critical"}, headers=key(world)
    )
    assert critical.json()["items"] == []


async def test_acknowledge_then_resolve(client, world, database):
    alert_id = await add_alert(database, world.tenant_a)
    path = f"/api/v1/alerts/{alert_id}"
    user = world.a["customer_user"]
    acked = await client.post(path + "/acknowledge", headers=user.key())
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert body["state"] == "acknowledged"
    assert body["acknowledged_by"] == f"api_key:{user.key_id}"
    again = await client.post(path + "/acknowledge", headers=user.key())
    assert again.json()["acknowledged_at"] == body["acknowledged_at"]  # unchanged

    listed = await client.get(
        "/api/v1/alerts", params={"state": "acknowledged"}, headers=key(world)
    )
    assert [a["id"] for a in listed.json()["items"]] == [str(alert_id)]
    assert (
        await client.get("/api/v1/alerts", params={"state": "open"}, headers=key(world))
    ).json()["items"] == []

    resolved = await client.post(path + "/resolve", headers=key(world))
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["state"], resolved.json()["resolution"]) == ("resolved", "manual")
    twice = await client.post(path + "/resolve", headers=key(world))
    assert twice.json()["resolved_at"] == resolved.json()["resolved_at"]
    late = await client.post(path + "/acknowledge", headers=key(world))
    assert (late.status_code, late.json()["code"]) == (409, "alert_resolved")
    assert late.headers["content-type"] == PROBLEM

    async with database.sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditLog.action)
                .where(AuditLog.resource_id == str(alert_id))
                .order_by(AuditLog.id)
            )
        )
    assert actions == ["alert.acknowledged", "alert.resolved"]


async def test_roles(client, world, database):
    alert_id = await add_alert(database, world.tenant_a)
    readonly = world.a["readonly"].key()
    assert (await client.get(f"/api/v1/alerts/{alert_id}", headers=readonly)).status_code == 200
    for action in ("acknowledge", "resolve"):
        refused = await client.post(f"/api/v1/alerts/{alert_id}/{action}", headers=readonly)
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    (alert,) = await alerts_of(database)
    assert alert.acknowledged_at is None
    assert alert.resolved_at is None


async def test_another_tenants_alert_answers_404(client, world, database):
    theirs = await add_alert(database, world.tenant_b)
    platform = await add_alert(database, None, alert_type="backup_stale", severity="critical")
    for alert_id in (theirs, platform, uuid.uuid4()):
        path = f"/api/v1/alerts/{alert_id}"
        for method, suffix in (("GET", ""), ("POST", "/acknowledge"), ("POST", "/resolve")):
            response = await client.request(method, path + suffix, headers=key(world))
            assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
    async with database.sessions() as session:
        touched = await session.scalar(
            select(func.count()).select_from(Alert).where(Alert.acknowledged_at.is_not(None))
        )
    assert touched == 0


async def test_platform_admin_sees_platform_alerts_or_a_named_tenants(client, world, database):
    platform = await add_alert(database, None, alert_type="backup_stale", severity="critical")
    tenant = await add_alert(database, world.tenant_a)
    admin = world.admin.key()
    own = await client.get("/api/v1/alerts", headers=admin)
    assert [a["id"] for a in own.json()["items"]] == [str(platform)]
    named = await client.get(
        "/api/v1/alerts", headers={**admin, "X-Tenant-ID": str(world.tenant_a)}
    )
    assert [a["id"] for a in named.json()["items"]] == [str(tenant)]
    resolved = await client.post(f"/api/v1/alerts/{platform}/resolve", headers=admin)
    assert resolved.json()["state"] == "resolved"


async def test_alert_types_are_listed(client, world):
    response = await client.get("/api/v1/alert-types", headers=key(world, "readonly"))
    types = {t["type"]: t for t in response.json()}
    assert types["mandate_expiring"]["raised_again"] is False
    assert types["backup_stale"]["severity"] == "critical"
    assert set(types) >= {"verification_failures", "issuer_keys_failing"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "bogus"}, "type"),
        ({"severity": "loud"}, "severity"),
        ({"state": "gone"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"mandate_id": "not-a-uuid"}, "mandate_id"),
        ({"other": "1"}, "other"),
    ],
)
async def test_bad_filters_name_the_field(client, world, params, field):
    response = await client.get("/api/v1/alerts", params=params, headers=key(world))
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert field in response.json()["detail"]


async def test_bad_ids_and_cursors(client, world):
    bad = await client.get("/api/v1/alerts/not-a-uuid", headers=key(world))
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")
    forged = await client.get("/api/v1/alerts", params={"cursor": "eyJ4Ijox"}, headers=key(world))
    assert (forged.status_code, forged.json()["code"]) == (422, "invalid_cursor")
