"""Events of the truststore that more than one use case writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.outbox import emit
from app.webhooks import event_data as events
from app.webhooks.catalogue import EventType


async def emit_keys_refresh_failed(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    row: Any,
    error: str,
    at: datetime,
    last_success_at: datetime | None,
) -> None:
    """`issuer.keys_refresh_failed` for `tenant_id`, in `session`'s transaction."""
    await emit(
        session,
        tenant_id=tenant_id,
        event_type=EventType.ISSUER_KEYS_REFRESH_FAILED,
        data=events.IssuerKeysRefreshFailed(
            issuer_id=row.id,
            issuer_did=row.did,
            jwks_url=row.jwks_url or "",
            error=error[:1000],
            failed_at=at,
            last_success_at=last_success_at,
        ),
        now=at,
    )
