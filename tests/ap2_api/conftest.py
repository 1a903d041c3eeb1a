from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from app.main import create_app
from tests.ap2.scenarios import NOW
from tests.ap2_api.helpers import issuer_bodies
from tests.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def api(settings, clock, database) -> AsyncIterator[httpx.AsyncClient]:
    """The app in process on the manual clock (the scenarios' chains are minted at NOW)."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@dataclass
class Tenant:
    headers: dict[str, str]
    other: dict[str, str]  # tenant B, with the same issuers registered
    readonly: dict[str, str]


async def register_issuers(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for body in issuer_bodies():
        response = await client.post("/api/v1/issuers", json=body, headers=headers)
        assert response.status_code == 201, response.text


@pytest.fixture
async def tenant(api, world) -> Tenant:
    a, b = world.a["customer_user"].key(), world.b["customer_user"].key()
    await register_issuers(api, world.a["customer_admin"].key())
    return Tenant(a, b, world.a["readonly"].key())
