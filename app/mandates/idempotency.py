"""Idempotency-Key rules for POST requests: what a key may look like, how a
request is fingerprinted, and how long an answer is kept. The use case itself is
`MandateService.submit`; the rows live behind `IdempotencyRepository`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from app.core.errors import Unprocessable

IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """A client's Idempotency-Key and the fingerprint of the request it came with."""

    key: str
    request_sha256: str

    @classmethod
    def of(cls, key: str, method: str, path: str, body: bytes) -> IdempotentRequest:
        return cls(check_key(key), request_hash(method, path, body))


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise Unprocessable(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            code="invalid_idempotency_key",
        )
    return key


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\x00".join((method.encode(), path.encode(), body))).hexdigest()
