"""Idempotency-Key handling for POST requests.

The first request with a key is processed and its answer stored with a hash of
the request. A retry with the same key and the same request gets the stored
answer again; the same key with a different request is refused. Keys are
remembered for IDEMPOTENCY_TTL.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Unprocessable
from app.models import IdempotencyKey

IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise Unprocessable(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            code="invalid_idempotency_key",
        )
    return key


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\x00".join((method.encode(), path.encode(), body))).hexdigest()


async def stored_answer(
    session: AsyncSession, tenant_id: uuid.UUID, key: str, digest: str
) -> IdempotencyKey | None:
    row = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key
        )
    )
    if row is None:
        return None
    if row.created_at <= datetime.now(UTC) - IDEMPOTENCY_TTL:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id))
        return None
    if row.request_sha256 != digest:
        raise Unprocessable(
            "this Idempotency-Key was already used with a different request",
            code="idempotency_key_reused",
        )
    return row


async def remember(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key: str,
    digest: str,
    status: int,
    body: dict[str, Any],
) -> None:
    try:
        async with session.begin_nested():
            session.add(
                IdempotencyKey(
                    tenant_id=tenant_id,
                    key=key,
                    request_sha256=digest,
                    response_status=status,
                    response_body=body,
                )
            )
    except IntegrityError:
        # A concurrent retry stored its answer first; both describe the same outcome.
        pass
