from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.repository import WebhookRepository
from app.models import Webhook
from tests.mandates.conftest import clock, mandates, session, tenant_id, trust  # noqa: F401
from tests.mandates.test_jwks_url import jwks_server, url_setup  # noqa: F401

SEALED = "not-a-real-sealed-secret"


async def add_webhook(
    db: AsyncSession,
    tenant: uuid.UUID,
    *,
    event_types: list[str] | None = None,
    enabled: bool = True,
    url: str = "https://hooks.example.com/in",
) -> Webhook:
    row = Webhook(url=url, secret=SEALED, event_types=event_types or [], is_active=enabled)
    return await WebhookRepository(db, tenant).add(row)
