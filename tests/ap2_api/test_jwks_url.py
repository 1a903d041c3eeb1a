"""v0.2 roots and receipts signed by issuers whose keys live at a jwks_url, fetched on
demand before the request's transaction, against a real local HTTP server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.models import Mandate
from tests.ap2.minting import Party, party, root_hop, sign
from tests.ap2.scenarios import NOW_TS, open_payment
from tests.ap2_api.helpers import count, payment_chain
from tests.mandates.test_jwks_url import JwksServer

URL = "/api/v1/ap2/presentations"
ROOT_DID = "did:web:url-provider.example"
RECEIPT_DID = "did:web:url-merchant.example"


def _serve(server: JwksServer, *parties: Party) -> None:
    server.body = json.dumps({"keys": [p.public_jwk() for p in parties]}).encode()
    server.status = 200


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.httpd.shutdown()


@pytest.fixture
async def url_api(settings, clock, database) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings.model_copy(
        update={
            "jwks_allow_http": True,
            "jwks_fetch_timeout": 1,
            "jwks_min_refetch_seconds": 1,
            "jwks_refresh_seconds": 3600,
        }
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def _register(api: httpx.AsyncClient, world: Any, did: str, url: str) -> None:
    response = await api.post(
        "/api/v1/issuers",
        json={"did": did, "jwks_url": url},
        headers=world.a["customer_admin"].key(),
    )
    assert response.status_code == 201, response.text


def _presentation(issuer: Party) -> dict[str, Any]:
    agent = party()
    root = root_hop(open_payment(agent), issuer)
    return payment_chain(NOW_TS, agent=agent, root=root).body()


async def test_root_key_rotated_at_the_url_is_fetched_before_verifying(
    url_api, world, database, jwks_server, clock
):
    headers = world.a["customer_user"].key()
    first = party("url-k1")
    _serve(jwks_server, first)
    await _register(url_api, world, ROOT_DID, jwks_server.url)
    hits = jwks_server.hits
    approved = await url_api.post(URL, json=_presentation(first), headers=headers)
    assert approved.status_code == 200, approved.text
    assert jwks_server.hits == hits  # fresh keys: no fetch

    # The issuer rotates: a kid the stored keys lack makes one fetch, then it verifies.
    clock.advance(1.5)
    second = party("url-k2")
    _serve(jwks_server, first, second)
    rotated = await url_api.post(URL, json=_presentation(second), headers=headers)
    assert rotated.status_code == 200, rotated.text
    assert jwks_server.hits == hits + 1

    # A kid nobody serves: at most one early refetch per JWKS_MIN_REFETCH_SECONDS.
    stranger = party("url-k3")
    for _ in range(3):
        refused = await url_api.post(URL, json=_presentation(stranger), headers=headers)
        assert refused.status_code == 422
        assert refused.json()["code"] == "invalid_credential"
    assert jwks_server.hits <= hits + 2
    assert await count(database, Mandate) == 2


async def test_receipt_key_fetched_from_the_url(url_api, world, database, jwks_server, clock):
    headers = world.a["customer_user"].key()
    root_issuer = party("url-root")
    _serve(jwks_server, root_issuer)
    await _register(url_api, world, ROOT_DID, jwks_server.url)
    approved = await url_api.post(URL, json=_presentation(root_issuer), headers=headers)
    assert approved.status_code == 200, approved.text

    # The merchant's key appears at the URL only after registration.
    clock.advance(1.5)
    merchant = party("url-merchant-1")
    _serve(jwks_server, root_issuer, merchant)
    stored = await url_api.get(f"/api/v1/mandates/{approved.json()['mandate_id']}", headers=headers)
    reference = stored.json()["reference"]
    receipt = sign(
        {"alg": "ES256", "typ": "JWT", "kid": "url-merchant-1"},
        {
            "iss": ROOT_DID,
            "iat": NOW_TS,
            "reference": reference,
            "status": "Success",
            "payment_id": "pay-1",
            "psp_confirmation_id": "psp-1",
            "network_confirmation_id": "net-1",
        },
        merchant.key,
    )
    response = await url_api.post(
        "/api/v1/ap2/receipts", json={"receipt": receipt}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["issuer_did"] == ROOT_DID
