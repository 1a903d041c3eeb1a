"""Lifecycle on both databases: revoke, soft delete, restore, re-verify, patch, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.core.errors import Conflict, NotFound
from app.issuers.schemas import IssuerUpdate
from app.issuers.service import IssuerService
from app.mandates.schemas import MandateCreate, MandatePatch
from app.mandates.service import MandateService, sweep_expired
from app.models import AuditLog, Mandate
from tests.mandates.conftest import ACTOR, new_tenant
from tests.mandates.minting import MintingIssuer


@pytest.fixture
async def issuer(session, tenant_id):
    issuer = MintingIssuer()
    await issuer.register(session, tenant_id)
    return issuer


async def stored(mandates, issuer, **kwargs):
    outcome = await mandates.ingest(MandateCreate(vc_jwt=issuer.token(**kwargs)))
    assert outcome.created, outcome.result
    return outcome.mandate


async def actions(session, mandate_id) -> list[str]:
    rows = await session.scalars(
        select(AuditLog.action).where(AuditLog.resource_id == str(mandate_id)).order_by(AuditLog.id)
    )
    return list(rows)


async def test_revoke_delete_restore(session, mandates, issuer):
    mandate = await stored(mandates, issuer)
    revoked = await mandates.revoke(mandate.id, "customer asked")
    assert (revoked.status, revoked.revocation_reason) == ("revoked", "customer asked")
    assert (await mandates.revoke(mandate.id, "again")).revocation_reason == "customer asked"

    await mandates.delete(mandate.id)
    assert (await mandates.get(mandate.id)).status == "deleted"
    with pytest.raises(Conflict, match="restore it first"):
        await mandates.revoke(mandate.id, "x")
    restored = await mandates.restore(mandate.id)
    assert restored.status == "revoked"
    assert restored.deleted_at is None
    with pytest.raises(Conflict) as caught:
        await mandates.restore(mandate.id)
    assert caught.value.code == "not_deleted"
    assert await actions(session, mandate.id) == [
        "mandate.created",
        "mandate.revoked",
        "mandate.deleted",
        "mandate.restored",
    ]


async def test_restore_only_within_the_retention_window(session, mandates, issuer):
    mandate = await stored(mandates, issuer)
    await mandates.patch(mandate.id, MandatePatch(retention_days=1))
    await mandates.delete(mandate.id)
    row = await session.get(Mandate, mandate.id)
    row.deleted_at = datetime.now(UTC) - timedelta(days=2)
    await session.flush()
    with pytest.raises(Conflict) as caught:
        await mandates.restore(mandate.id)
    assert caught.value.code == "retention_expired"


async def test_reverify_sees_an_issuer_revoked_since(session, tenant_id, mandates, issuer):
    mandate = await stored(mandates, issuer)
    service = IssuerService(session, tenant_id, ACTOR, None)
    row = next(i for i in await service.list() if i.did == issuer.did)
    await service.update(row.id, IssuerUpdate(status="revoked"))
    result = await mandates.reverify(mandate.id)
    assert (result.code, result.valid) == ("ISSUER_REVOKED", False)
    assert (await mandates.get(mandate.id)).verification_status == "ISSUER_REVOKED"


async def test_keys_rotate_without_breaking_older_mandates(session, tenant_id, mandates, issuer):
    old = await stored(mandates, issuer)
    service = IssuerService(session, tenant_id, ACTOR, None)
    row = next(i for i in await service.list() if i.did == issuer.did)
    successor = MintingIssuer(did=issuer.did, kid="k2")
    await service.add_key(row.id, successor.jwks()["keys"][0])
    new = await stored(mandates, successor)
    assert (await mandates.reverify(old.id)).valid
    await service.remove_key(row.id, "k1")
    assert (await mandates.reverify(old.id)).code == "KEY_NOT_FOUND"
    assert (await mandates.reverify(new.id)).valid


async def test_expiry_is_exact_at_read_time_and_swept(session, mandates, issuer, clock):
    mandate = await stored(mandates, issuer, expires_in=1)
    assert mandates.view(await mandates.get(mandate.id)).status == "active"
    clock.advance(1.1)
    assert mandates.view(await mandates.get(mandate.id)).status == "expired"
    assert (await session.get(Mandate, mandate.id)).status == "active"
    assert await sweep_expired(session, now=clock.now()) == 1
    assert (await session.get(Mandate, mandate.id)).status == "expired"
    assert "mandate.expired" in await actions(session, mandate.id)
    assert await sweep_expired(session) == 0


async def test_other_tenants_ids_are_not_found(session, settings, trust, mandates, issuer):
    mandate = await stored(mandates, issuer)
    stranger = MandateService(session, await new_tenant(session, "Other"), ACTOR, trust, settings)
    for call in (stranger.get, stranger.delete, stranger.restore, stranger.reverify):
        with pytest.raises(NotFound):
            await call(mandate.id)
    with pytest.raises(NotFound):
        await stranger.revoke(mandate.id, "x")
