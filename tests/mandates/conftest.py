from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.actor import Actor
from app.issuers.schemas import IssuerCreate, IssuerUpdate
from app.issuers.service import IssuerService
from app.issuers.trust import TrustLoader
from app.mandates.service import MandateService
from app.models import Tenant
from tests.clock import ManualClock
from tests.vectors.loader import ACTIVE, VectorSet, project_vectors, vector_set_params

ACTOR = Actor("api_key", "test-key")


@pytest.fixture(params=vector_set_params())
def vectors(request) -> VectorSet:
    """Each vector set in turn: the project's own, then the shared sample (skipped if absent)."""
    return request.param


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
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mandates(session, tenant_id, trust, settings, clock) -> MandateService:
    return MandateService(session, tenant_id, ACTOR, trust, settings, clock)


async def register_vector_issuers(
    session: AsyncSession, tenant_id: uuid.UUID, vectors: VectorSet | None = None
) -> None:
    """Register a set's issuers for a tenant (the project's set by default), then set statuses."""
    issuers = IssuerService(session, tenant_id, ACTOR, None)
    for issuer in (vectors or project_vectors()).issuers:
        row = await issuers.create(IssuerCreate.model_validate(issuer.body))
        if issuer.status != ACTIVE:
            await issuers.update(row.id, IssuerUpdate(status=issuer.status))
