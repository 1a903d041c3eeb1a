"""GET /api/v1/admin/db over HTTP: platform admins only, on both databases."""

from __future__ import annotations


async def test_platform_admin_sees_the_database_report(client, world, settings):
    response = await client.get("/api/v1/admin/db", headers=world.admin.key())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"]["reachable"] is True
    assert body["status"]["engine"] == settings.backend
    assert body["monitor"]["database_size_bytes"] > 0
    assert body["monitor"]["engine"] == settings.backend


async def test_tenant_admins_are_refused(client, world):
    response = await client.get("/api/v1/admin/db", headers=world.a["customer_admin"].key())
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    anonymous = await client.get("/api/v1/admin/db")
    assert anonymous.status_code == 401
