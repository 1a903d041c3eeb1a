"""issuer.keys_refresh_failed: once when a background refresh starts failing, and on
every failed explicit refresh; written with the stored error, in its transaction."""

from __future__ import annotations

from sqlalchemy import select

from app.issuers.schemas import IssuerCreate
from app.issuers.service import IssuerService
from app.models import WebhookDelivery
from tests.events.conftest import add_webhook
from tests.mandates.conftest import ACTOR
from tests.mandates.minting import MintingIssuer


async def refresh_failures(database, webhook_id) -> list[dict]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(WebhookDelivery.payload).where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.event_type == "issuer.keys_refresh_failed",
            )
        )
        return [row["data"] for row in rows]


async def test_a_failing_jwks_url_emits_once_per_streak(url_setup, jwks_server, clock):
    async with url_setup.database.sessions.begin() as session:
        webhook = await add_webhook(session, url_setup.tenant_id)
    issuer = MintingIssuer(kid="k1")
    jwks_server.serve(issuer)
    row = await url_setup.register(IssuerCreate(did=issuer.did, jwks_url=jwks_server.url))
    assert (await url_setup.ingest(issuer.token())).created

    jwks_server.status = 500
    for _ in range(3):  # refreshes keep failing: one event for the streak
        clock.advance(2.5)
        await url_setup.ingest(issuer.token())
    [failed] = await refresh_failures(url_setup.database, webhook.id)
    assert failed["issuer_id"] == str(row.id)
    assert failed["jwks_url"] == jwks_server.url
    assert "500" in failed["error"]

    async with url_setup.database.sessions.begin() as session:
        service = IssuerService(session, url_setup.tenant_id, ACTOR, url_setup.client)
        answer = await service.refresh_keys(row.id)
    assert not answer.ok
    assert len(await refresh_failures(url_setup.database, webhook.id)) == 2
