"""The issuer rows a process reuses: a change through the process takes effect at
its commit; a change it did not make (another server process, or SQL) within
TRUST_CACHE_SECONDS; a change that rolls back is never held."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.database import Database
from app.issuers.jwks import JwksClient
from app.issuers.trust import TrustLoader
from app.mandates.schemas import MandateCreate
from app.mandates.service import MandateService
from app.models import Issuer, Tenant
from tests.clock import ManualClock
from tests.conftest import make_settings
from tests.mandates.conftest import ACTOR
from tests.mandates.minting import MintingIssuer


@dataclass
class Vault:
    """One tenant trusting one issuer, and the process's trust loader."""

    settings: Settings
    database: Database
    trust: TrustLoader
    tenant_id: uuid.UUID
    issuer: MintingIssuer

    async def code(self, session: AsyncSession | None = None) -> str:
        """The verification code of a fresh token, ingested in `session` or its own unit."""
        if session is not None:
            return await self._ingest(session)
        async with self.database.sessions() as own:
            code = await self._ingest(own)
            await own.commit()
        return code

    async def _ingest(self, session: AsyncSession) -> str:
        service = MandateService(session, self.tenant_id, ACTOR, self.trust, self.settings)
        outcome = await service.ingest(MandateCreate(vc_jwt=self.issuer.token()))
        return outcome.result.code.value


@contextlib.asynccontextmanager
async def vault(database_url: str, trust_cache_seconds: float) -> AsyncIterator[Vault]:
    settings = make_settings(database_url, trust_cache_seconds=trust_cache_seconds)
    database = Database(settings)
    try:
        async with httpx.AsyncClient() as http:
            trust = TrustLoader(JwksClient(http, settings, ManualClock()), database)
            issuer = MintingIssuer()
            async with database.sessions.begin() as session:
                tenant = Tenant(name="T", slug=f"t-{uuid.uuid4().hex[:8]}")
                session.add(tenant)
                await session.flush()
                await issuer.register(session, tenant.id)
            yield Vault(settings, database, trust, tenant.id, issuer)
    finally:
        await database.dispose()


async def _stored_issuer(session: AsyncSession, did: str) -> Issuer:
    stored = await session.scalar(select(Issuer).where(Issuer.did == did))
    assert stored is not None
    return stored


async def test_a_change_through_the_process_takes_effect_at_its_commit(database_url):
    async with vault(database_url, 60) as v:
        assert await v.code() == "VALID"
        async with v.database.sessions.begin() as session:  # an ORM change, committed
            (await _stored_issuer(session, v.issuer.did)).status = "revoked"
        assert await v.code() == "ISSUER_REVOKED"


async def test_a_change_made_elsewhere_takes_effect_within_the_bound(database_url):
    async with vault(database_url, 0.5) as v:
        assert await v.code() == "VALID"
        async with v.database.sessions.begin() as session:  # plain SQL: nothing is noted
            await session.execute(
                text("UPDATE issuers SET status = 'revoked' WHERE did = :did"),
                {"did": v.issuer.did},
            )
        assert await v.code() == "VALID"
        await asyncio.sleep(0.6)
        assert await v.code() == "ISSUER_REVOKED"


async def test_a_change_rolled_back_is_never_held(database_url):
    async with vault(database_url, 60) as v:
        assert await v.code() == "VALID"
        async with v.database.sessions() as session:
            (await _stored_issuer(session, v.issuer.did)).status = "revoked"
            await session.flush()  # this transaction sees its own change...
            assert await v.code(session) == "ISSUER_REVOKED"
            await session.rollback()  # ...which never happened
        assert await v.code() == "VALID"
