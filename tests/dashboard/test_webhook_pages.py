"""The webhooks pages in-process (httpx on the app), on both databases: add,
edit, reveal and rotate the secret, test, log, resend, recover, remove, and the
bad inputs; the API's rules hold because the pages call the same service."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from app.main import create_app
from app.models import AuditLog, Webhook, WebhookDelivery
from tests.dashboard.conftest import HTML, csrf_of, sign_in
from tests.webhooks.receiver import Receiver

SECRET = re.compile(r'value="(whsec_[A-Za-z0-9+/=]+)"')


@pytest.fixture
async def dash(settings):
    app = create_app(
        settings.model_copy(
            update={
                "rate_limit_enabled": False,
                "webhook_allow_private_networks": True,
                "webhook_allow_http": True,
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=HTML
        ) as client:
            yield client


async def signed_in(dash, world, role="customer_admin") -> str:
    assert (await sign_in(dash, world.a[role].email)).status_code == 303
    return csrf_of((await dash.get("/webhooks")).text)


async def add(dash, token, url, **extra) -> str:
    answer = await dash.post(
        "/webhooks", data={"csrf_token": token, "url": url, "enabled": "on", **extra}
    )
    assert answer.status_code == 200, answer.text[:800]
    assert "Endpoint added" in answer.text
    found = SECRET.search(answer.text)
    assert found
    return found.group(1)


async def only_webhook(database) -> Webhook:
    async with database.sessions() as session:
        (row,) = (await session.scalars(select(Webhook))).all()
        return row


async def test_add_reveal_rotate_test_resend_recover_and_remove(dash, world, database):
    token = await signed_in(dash, world)
    with Receiver() as receiver:
        secret = await add(
            dash, token, receiver.url("/in"), event_types=["mandate.revoked", "webhook.disabled"]
        )
        row = await only_webhook(database)
        assert row.event_types == ["mandate.revoked", "webhook.disabled"]
        listed = await dash.get("/webhooks")
        assert receiver.url("/in") in listed.text
        assert "healthy" in listed.text

        revealed = await dash.post(f"/webhooks/{row.id}/secret", data={"csrf_token": token})
        assert SECRET.search(revealed.text).group(1) == secret
        confirm = await dash.get(f"/webhooks/{row.id}/confirm/rotate")
        assert "Rotate the secret?" in confirm.text
        rotated = await dash.post(f"/webhooks/{row.id}/rotate", data={"csrf_token": token})
        assert SECRET.search(rotated.text).group(1) != secret
        assert "both the new and the old secret" in rotated.text

        sent = await dash.post(f"/webhooks/{row.id}/test", data={"csrf_token": token})
        assert sent.status_code == 303
        detail = await dash.get(sent.headers["location"])
        assert "webhook.test" in detail.text
        assert "A webhook.test event is on its way" in detail.text
        async with database.sessions() as session:
            delivery = (await session.scalars(select(WebhookDelivery))).one()
        resent = await dash.post(
            f"/webhooks/deliveries/{delivery.id}/resend", data={"csrf_token": token}
        )
        assert resent.status_code == 303
        assert "queued to be sent again" in (await dash.get(resent.headers["location"])).text

        bad_since = await dash.post(
            f"/webhooks/{row.id}/recover", data={"csrf_token": token, "since": "yesterday"}
        )
        assert bad_since.status_code == 422
        assert 'id="e-since"' in bad_since.text
        future = await dash.post(
            f"/webhooks/{row.id}/recover",
            data={"csrf_token": token, "since": "2999-01-01T00:00"},
        )
        assert future.status_code == 422
        recovered = await dash.post(
            f"/webhooks/{row.id}/recover",
            data={"csrf_token": token, "since": "2020-01-01T00:00"},
        )
        assert recovered.status_code == 303
        assert "0 deliveries queued again" in (await dash.get(recovered.headers["location"])).text

        edited = await dash.post(
            f"/webhooks/{row.id}",
            data={"csrf_token": token, "url": receiver.url("/other"), "description": "ops"},
        )
        assert edited.status_code == 303
        row = await only_webhook(database)
        assert (row.url, row.description, row.is_active, row.event_types) == (
            receiver.url("/other"),
            "ops",
            False,  # the box was not ticked
            [],
        )

        removed = await dash.post(f"/webhooks/{row.id}/delete", data={"csrf_token": token})
        assert removed.status_code == 303
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Webhook)) == 0
        actions = set(
            await session.scalars(
                select(AuditLog.action).where(AuditLog.resource_type == "webhook")
            )
        )
    assert {"webhook.created", "webhook.secret_read", "webhook.secret_rotated"} <= actions
    assert {"webhook.test_sent", "webhook.delivery_resent", "webhook.deleted"} <= actions


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"url": "ftp://hooks.example/in"}, "url", "starts with http:// or https://"),
        ({"url": "https://" + "a" * 2100 + ".example/"}, "url", ""),
        (
            {"url": "https://hooks.example/in", "event_types": ["nope.never"]},
            "event_types",
            "unknown",
        ),
        ({"url": ""}, "url", ""),
    ],
)
async def test_bad_endpoints_are_named_on_the_page_and_nothing_is_stored(
    dash, world, database, data, field, says
):
    token = await signed_in(dash, world)
    answer = await dash.post("/webhooks", data={"csrf_token": token, **data})
    assert answer.status_code == 422, answer.text[:500]
    assert f'id="e-{field}"' in answer.text or "field-error" in answer.text
    assert says in answer.text.lower()
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Webhook)) == 0


async def test_other_tenants_endpoints_are_404_and_readonly_is_403(dash, world, database):
    token = await signed_in(dash, world, "customer_admin")
    with Receiver() as receiver:
        await add(dash, token, receiver.url())
    row = await only_webhook(database)
    dash.cookies.clear()
    assert (await sign_in(dash, world.b["customer_admin"].email)).status_code == 303
    theirs = csrf_of((await dash.get("/webhooks")).text)
    assert (await dash.get(f"/webhooks/{row.id}")).status_code == 404
    for path in (f"/webhooks/{row.id}/secret", f"/webhooks/{row.id}/delete"):
        assert (await dash.post(path, data={"csrf_token": theirs})).status_code == 404, path
    dash.cookies.clear()
    assert (await sign_in(dash, world.a["readonly"].email)).status_code == 303
    assert (await dash.get("/webhooks")).status_code == 403
    assert (await only_webhook(database)).id == row.id
