from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.actor import Actor
from app.issuers.schemas import IssuerCreate
from app.issuers.service import IssuerService
from app.issuers.trust import TrustLoader
from app.mandates.service import MandateService
from app.models import Tenant

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "public.json"
ACTOR = Actor("api_key", "test-key")


def load_vectors() -> dict:
    return json.loads(VECTORS.read_text())


@pytest.fixture
async def session(database) -> AsyncIterator[AsyncSession]:
    async with database.sessions() as session:
        yield session
        await session.rollback()


async def new_tenant(session: AsyncSession, name: str = "Tenant") -> uuid.UUID:
    tenant = Tenant(name=name, slug=f"{name.lower()}-{uuid.uuid4().hex[:8]}")
    session.add(tenant)
    await session.flush()
    return tenant.id


@pytest.fixture
async def tenant_id(session) -> uuid.UUID:
    return await new_tenant(session)


@pytest.fixture
def trust() -> TrustLoader:
    return TrustLoader(None)


@pytest.fixture
def mandates(session, tenant_id, trust, settings) -> MandateService:
    return MandateService(session, tenant_id, ACTOR, trust, settings)


async def register_vector_issuers(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    issuers = IssuerService(session, tenant_id, ACTOR, None)
    for body in load_vectors()["issuers"].values():
        await issuers.create(IssuerCreate.model_validate(body))


@pytest.fixture
async def world(database, settings):
    from tests.tenancy.conftest import build_world

    return await build_world(database, settings)
