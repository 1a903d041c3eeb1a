"""The webhook HTTP API on both databases: the endpoints, secrets, tests, the
delivery log, resend and recover, tenant isolation and every bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from app.core.database import Database
from app.events.deps import WEBHOOK_RESOLVER
from app.main import create_app
from app.models import AuditLog, Webhook, WebhookDelivery
from app.webhooks.catalogue import CATALOGUE
from tests.events.helpers import hook_settings
from tests.world import build_world

URL = "https://hooks.acme.example/in"


class MapResolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


RESOLVER = MapResolver(
    {"hooks.acme.example": ["93.184.216.34"], "internal.acme.example": ["10.0.0.1"]}
)


@pytest.fixture
def settings(database_url):
    # http:// allowed (tests), private networks refused: the SSRF checks are live.
    return hook_settings(database_url, webhook_allow_private_networks=False)


@pytest.fixture
async def database(settings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def world(database, settings):
    return await build_world(database, settings)


@pytest.fixture
async def client(settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    WEBHOOK_RESOLVER.set(app, RESOLVER)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def admin(world, tenant="a"):
    return getattr(world, tenant)["customer_admin"].key()


async def create(client, headers, **body) -> dict:
    response = await client.post("/api/v1/webhooks", json={"url": URL, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def count(database, model, *where) -> int:
    async with database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_register_read_change_remove(client, world, database):
    headers = admin(world)
    created = await create(client, headers, event_types=["mandate.revoked"], description="payments")
    assert created["secret"].startswith("whsec_")
    assert created["url"] == URL
    assert (created["enabled"], created["event_types"]) == (True, ["mandate.revoked"])
    webhook_id = created["id"]
    listed = (await client.get("/api/v1/webhooks", headers=headers)).json()
    assert [w["id"] for w in listed] == [webhook_id]
    assert "secret" not in listed[0]
    one = await client.get(f"/api/v1/webhooks/{webhook_id}", headers=headers)
    assert one.status_code == 200
    assert "secret" not in one.json()
    # Sealed at rest: the stored value is not the secret.
    async with database.sessions() as session:
        stored = await session.scalar(
            select(Webhook.secret).where(Webhook.id == uuid.UUID(webhook_id))
        )
    assert stored != created["secret"]
    assert created["secret"] not in stored

    secret = await client.get(f"/api/v1/webhooks/{webhook_id}/secret", headers=headers)
    assert secret.json() == {"secret": created["secret"], "previous_secret_expires_at": None}
    assert await count(database, AuditLog, AuditLog.action == "webhook.secret_read") == 1

    changed = await client.patch(
        f"/api/v1/webhooks/{webhook_id}",
        json={"enabled": False, "event_types": [], "description": None},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["enabled"], body["event_types"], body["disabled_reason"]) == (False, [], "manual")
    rotated = await client.post(f"/api/v1/webhooks/{webhook_id}/rotate-secret", headers=headers)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    mine = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    own = await client.post(
        f"/api/v1/webhooks/{webhook_id}/rotate-secret", json={"secret": mine}, headers=headers
    )
    assert own.json()["secret"] == mine
    gone = await client.delete(f"/api/v1/webhooks/{webhook_id}", headers=headers)
    assert gone.status_code == 204
    assert (await client.get(f"/api/v1/webhooks/{webhook_id}", headers=headers)).status_code == 404


async def test_only_webhooks_manage_and_only_in_its_own_tenant(client, world, database):
    created = await create(client, admin(world))
    webhook_id = created["id"]
    for role in ("customer_user", "readonly"):
        response = await client.get("/api/v1/webhooks", headers=world.a[role].key())
        assert response.status_code == 403, role
    other = admin(world, "b")
    assert (await client.get("/api/v1/webhooks", headers=other)).json() == []
    for method, path, body in [
        ("GET", f"/api/v1/webhooks/{webhook_id}", None),
        ("PATCH", f"/api/v1/webhooks/{webhook_id}", {"enabled": False}),
        ("DELETE", f"/api/v1/webhooks/{webhook_id}", None),
        ("GET", f"/api/v1/webhooks/{webhook_id}/secret", None),
        ("POST", f"/api/v1/webhooks/{webhook_id}/rotate-secret", None),
        ("POST", f"/api/v1/webhooks/{webhook_id}/test", None),
        ("GET", f"/api/v1/webhooks/{webhook_id}/deliveries", None),
        ("POST", f"/api/v1/webhooks/{webhook_id}/recover?since=2026-01-01T00:00:00Z", None),
    ]:
        response = await client.request(method, path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "webhook_not_found"
    # A resend of another tenant's delivery: 404, and nothing changes.
    sent = await client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=admin(world))
    assert sent.status_code == 202, sent.text
    delivery_id = sent.json()["delivery_id"]
    resend = await client.post(f"/api/v1/webhook-deliveries/{delivery_id}/resend", headers=other)
    assert resend.status_code == 404
    assert resend.json()["code"] == "delivery_not_found"
    assert (await client.get(f"/api/v1/webhooks/{webhook_id}", headers=admin(world))).json()[
        "enabled"
    ]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://hooks.acme.example/in", "scheme_not_allowed"),
        ("javascript:alert(1)", "scheme_not_allowed"),
        ("https://hooks.acme.example/" + "a" * 2030, "url_too_long"),
        ("http://127.0.0.1/in", "address_not_allowed"),
        ("http://[::1]/in", "address_not_allowed"),
        ("http://169.254.169.254/latest/meta-data", "address_not_allowed"),
        ("http://2130706433/in", "address_not_allowed"),
        ("http://0177.0.0.1/in", "address_not_allowed"),
        ("http://0x7f.1/in", "address_not_allowed"),
        ("http://localhost:8000/in", "address_not_allowed"),
        ("https://internal.acme.example/in", "address_not_allowed"),
        ("https://nowhere.acme.example/in", "host_not_found"),
        ("https://user:pw@hooks.acme.example/in", "credentials_not_allowed"),
        ("not a url", "invalid_url"),
    ],
)
async def test_refused_urls(client, world, database, url, code):
    response = await client.post("/api/v1/webhooks", json={"url": url}, headers=admin(world))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert await count(database, Webhook) == 0


async def test_a_url_of_exactly_2048_characters_is_taken(client, world):
    url = URL + "?" + "q" * (2048 - len(URL) - 1)
    assert len(url) == 2048
    assert (await create(client, admin(world), url=url))["url"] == url


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": URL, "event_types": ["mandate.exploded"]}, "validation_error"),
        ({"url": URL, "event_types": ["webhook.test"]}, "validation_error"),
        ({"url": URL, "event_types": "mandate.revoked"}, "validation_error"),
        ({"url": URL, "enabled": "yes"}, "validation_error"),
        ({"url": URL, "enabled": 1}, "validation_error"),
        ({"url": URL, "secret": "whsec_short"}, "invalid_secret"),
        ({"url": URL, "secret": "not-a-secret"}, "invalid_secret"),
        ({"url": URL, "surprise": True}, "validation_error"),
        ({"url": 42}, "validation_error"),
        ({}, "validation_error"),
    ],
)
async def test_bad_bodies(client, world, database, body, code):
    response = await client.post("/api/v1/webhooks", json=body, headers=admin(world))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert await count(database, Webhook) == 0


async def test_bad_changes_change_nothing(client, world):
    created = await create(client, admin(world))
    path = f"/api/v1/webhooks/{created['id']}"
    for body, code in [
        ({"enabled": "no"}, "validation_error"),
        ({"enabled": None}, "invalid_field"),
        ({"url": None}, "invalid_field"),
        ({"url": "http://10.1.2.3/in"}, "address_not_allowed"),
        ({"event_types": ["nope"]}, "validation_error"),
    ]:
        response = await client.patch(path, json=body, headers=admin(world))
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == code
    after = (await client.get(path, headers=admin(world))).json()
    assert (after["url"], after["enabled"]) == (URL, True)
    bad_secret = await client.post(
        f"{path}/rotate-secret", json={"secret": "whsec_!!"}, headers=admin(world)
    )
    assert bad_secret.status_code == 422
    assert bad_secret.json()["code"] == "invalid_secret"
    secret = (await client.get(f"{path}/secret", headers=admin(world))).json()
    assert secret["secret"] == created["secret"]


async def test_the_delivery_log_pages_and_filters(client, world, database):
    created = await create(client, admin(world))
    path = f"/api/v1/webhooks/{created['id']}"
    for _ in range(5):
        assert (await client.post(f"{path}/test", headers=admin(world))).status_code == 202
    first = await client.get(f"{path}/deliveries?limit=2", headers=admin(world))
    assert first.status_code == 200, first.text
    page = first.json()
    seen = [d["id"] for d in page["items"]]
    while page["next_cursor"]:
        page = (
            await client.get(
                f"{path}/deliveries",
                params={"limit": 2, "cursor": page["next_cursor"]},
                headers=admin(world),
            )
        ).json()
        seen += [d["id"] for d in page["items"]]
    assert len(seen) == len(set(seen)) == 5
    item = first.json()["items"][0]
    assert (item["status"], item["event_type"], item["attempts"]) == ("pending", "webhook.test", 0)
    assert item["message_id"] == f"msg_{uuid.UUID(item['event_id']).hex}"
    assert item["payload"]["data"] == {"webhook_id": created["id"]}
    filtered = await client.get(
        f"{path}/deliveries", params={"status": "succeeded"}, headers=admin(world)
    )
    assert filtered.json()["items"] == []
    by_type = await client.get(
        f"{path}/deliveries", params={"event_type": "webhook.test"}, headers=admin(world)
    )
    assert len(by_type.json()["items"]) == 5
    for params, code in [
        ({"status": "lost"}, "validation_error"),
        ({"event_type": "nope"}, "validation_error"),
        ({"since": "yesterday"}, "validation_error"),
        ({"since": "2026-01-01T00:00:00"}, "validation_error"),  # no zone
        ({"cursor": "!!!"}, "invalid_cursor"),
        ({"limit": 0}, "validation_error"),
    ]:
        response = await client.get(f"{path}/deliveries", params=params, headers=admin(world))
        assert response.status_code == 422, (params, response.text)
        assert response.json()["code"] == code


async def test_test_resend_recover(client, world, database):
    created = await create(client, admin(world))
    path = f"/api/v1/webhooks/{created['id']}"
    sent = (await client.post(f"{path}/test", headers=admin(world))).json()
    assert sent["message_id"].startswith("msg_")
    async with database.sessions.begin() as session:
        row = await session.get(WebhookDelivery, uuid.UUID(sent["delivery_id"]))
        assert row is not None
        row.status, row.attempts = "failed", 8
    resent = await client.post(
        f"/api/v1/webhook-deliveries/{sent['delivery_id']}/resend", headers=admin(world)
    )
    assert resent.status_code == 202, resent.text
    assert (resent.json()["status"], resent.json()["attempts"]) == ("pending", 0)
    assert resent.json()["message_id"] == sent["message_id"]
    missing = await client.post(
        f"/api/v1/webhook-deliveries/{uuid.uuid4()}/resend", headers=admin(world)
    )
    assert missing.status_code == 404
    async with database.sessions.begin() as session:
        row = await session.get(WebhookDelivery, uuid.UUID(sent["delivery_id"]))
        assert row is not None
        row.status = "failed"
    recovered = await client.post(
        f"{path}/recover", params={"since": "2000-01-01T00:00:00Z"}, headers=admin(world)
    )
    assert recovered.json() == {"requeued": 1}
    for since, code in [
        ("not-a-time", "validation_error"),
        ("2026-13-40T00:00:00Z", "validation_error"),
        ("", "validation_error"),
        ("2000-01-01T00:00:00", "invalid_since"),  # no zone
    ]:
        response = await client.post(
            f"{path}/recover", params={"since": since}, headers=admin(world)
        )
        assert response.status_code == 422, (since, response.text)
        assert response.json()["code"] == code
    future = await client.post(
        f"{path}/recover", params={"since": "2999-01-01T00:00:00Z"}, headers=admin(world)
    )
    assert future.json()["code"] == "invalid_since"
    no_since = await client.post(f"{path}/recover", headers=admin(world))
    assert no_since.status_code == 422
    await client.patch(path, json={"enabled": False}, headers=admin(world))
    disabled = await client.post(f"{path}/test", headers=admin(world))
    assert disabled.status_code == 409
    assert disabled.json()["code"] == "webhook_disabled"


async def test_event_types_list_the_catalogue(client, world):
    response = await client.get("/api/v1/event-types", headers=world.a["readonly"].key())
    assert response.status_code == 200
    types = response.json()
    assert [t["type"] for t in types] == [t.value for t in CATALOGUE]
    revoked = next(t for t in types if t["type"] == "mandate.revoked")
    assert revoked["version"] == 1
    assert revoked["schema"]["$id"] == "urn:mandate-vault:webhook-event:mandate.revoked:v1"
    assert "mandate_id" in revoked["schema"]["properties"]["data"]["properties"]
