"""Small row factories shared by the tests (plain dicts, or model instances)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.models import Mandate, Tenant


def new_customer(**values) -> Tenant:
    slug = values.pop("slug", f"t-{uuid.uuid4().hex[:10]}")
    return Tenant(name=values.pop("name", "Tenant"), slug=slug, **values)


def mandate_row(tenant_id, **values):
    now = datetime.now(UTC)
    token = uuid.uuid4().hex
    row = {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "vc_jwt": f"a.{token}.c",
        "token_sha256": token + token[:32],
        "mandate_type": "generic",
        "issuer_did": "did:web:bank.example",
        "subject_did": "did:example:agent",
        "expires_at": now + timedelta(days=1),
        "verification_status": "VALID",
        "verified_at": now,
        "created_at": now,
        "updated_at": now,
        "merchants": ["m1"],
        "labels": {},
        "details": {"n": 1},
        "verification_details": {},
    }
    row.update(values)
    return row


def audit_row(tenant_id, when=None, **values):
    row = {
        "tenant_id": tenant_id,
        "chain_id": "platform" if tenant_id is None else str(tenant_id),
        "timestamp": when or datetime.now(UTC),
        "actor_type": "system",
        "action": "test.event",
        "details": {},
    }
    row.update(values)
    return row


def new_mandate(tenant_id, **values) -> Mandate:
    return Mandate(**mandate_row(tenant_id, **values))
