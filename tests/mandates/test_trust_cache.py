"""The issuer rows a process reuses: a change through the process takes effect at
its commit; a change it did not make (another server process, or SQL) within
TRUST_CACHE_SECONDS."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select, text

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


async def _setup(database: Database) -> tuple[uuid.UUID, MintingIssuer]:
    issuer = MintingIssuer()
    async with database.sessions.begin() as session:
        tenant = Tenant(name="T", slug=f"t-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        await issuer.register(session, tenant.id)
    return tenant.id, issuer


async def _code(database, trust, settings, tenant_id, issuer) -> str:
    async with database.sessions() as session:
        service = MandateService(session, tenant_id, ACTOR, trust, settings)
        outcome = await service.ingest(MandateCreate(vc_jwt=issuer.token()))
        await session.commit()
    return outcome.result.code.value


async def test_a_change_through_the_process_takes_effect_at_its_commit(database_url):
    settings = make_settings(database_url, trust_cache_seconds=60)
    database = Database(settings)
    try:
        async with httpx.AsyncClient() as http:
            trust = TrustLoader(JwksClient(http, settings, ManualClock()), database)
            tenant_id, issuer = await _setup(database)
            assert await _code(database, trust, settings, tenant_id, issuer) == "VALID"
            async with database.sessions.begin() as session:  # an ORM change, committed
                stored = await session.scalar(select(Issuer).where(Issuer.did == issuer.did))
                assert stored is not None
                stored.status = "revoked"
            assert await _code(database, trust, settings, tenant_id, issuer) == "ISSUER_REVOKED"
    finally:
        await database.dispose()


async def test_a_change_made_elsewhere_takes_effect_within_the_bound(database_url):
    settings = make_settings(database_url, trust_cache_seconds=0.5)
    database = Database(settings)
    try:
        async with httpx.AsyncClient() as http:
            trust = TrustLoader(JwksClient(http, settings, ManualClock()), database)
            tenant_id, issuer = await _setup(database)
            assert await _code(database, trust, settings, tenant_id, issuer) == "VALID"
            async with database.sessions.begin() as session:  # plain SQL: nothing is noted
                await session.execute(
                    text("UPDATE issuers SET status = 'revoked' WHERE did = :did"),
                    {"did": issuer.did},
                )
            assert await _code(database, trust, settings, tenant_id, issuer) == "VALID"
            await asyncio.sleep(0.6)
            assert await _code(database, trust, settings, tenant_id, issuer) == "ISSUER_REVOKED"
    finally:
        await database.dispose()


async def test_a_change_rolled_back_is_never_held(database_url):
    settings = make_settings(database_url, trust_cache_seconds=60)
    database = Database(settings)
    try:
        async with httpx.AsyncClient() as http:
            trust = TrustLoader(JwksClient(http, settings, ManualClock()), database)
            tenant_id, issuer = await _setup(database)
            assert await _code(database, trust, settings, tenant_id, issuer) == "VALID"
            async with database.sessions() as session:
                stored = await session.scalar(select(Issuer).where(Issuer.did == issuer.did))
                assert stored is not None
                stored.status = "revoked"
                await session.flush()  # this transaction sees its own change...
                service = MandateService(session, tenant_id, ACTOR, trust, settings)
                outcome = await service.ingest(MandateCreate(vc_jwt=issuer.token()))
                assert outcome.result.code.value == "ISSUER_REVOKED"
                await session.rollback()  # ...which never happened
            assert await _code(database, trust, settings, tenant_id, issuer) == "VALID"
    finally:
        await database.dispose()
