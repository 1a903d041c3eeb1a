"""Opaque, signed keyset cursors for every paged list: (sort key, value, id, direction).

A cursor points after the last row of a page (the next page) or before its
first row (the previous page). It is only accepted with the sort it was made
for and with an intact signature, so a client can neither forge a position
nor change the query under a cursor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson

from app.core.errors import Unprocessable

_SIG_BYTES = 16


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: rows after (value, id) in the sort, or before it."""

    value: datetime
    id: uuid.UUID
    before: bool = False


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"mandate-vault/cursor/v1\x00" + secret.encode()).digest()

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_SIG_BYTES]

    def encode(self, sort: str, value: datetime, row_id: uuid.UUID, *, before: bool = False) -> str:
        fields = [sort, value.isoformat(), row_id.hex] + (["b"] if before else [])
        body = orjson.dumps(fields)
        return base64.urlsafe_b64encode(body + self._sign(body)).rstrip(b"=").decode()

    def decode(self, cursor: str, sort: str) -> Position:
        invalid = Unprocessable(
            "cursor is not valid for this query", code="invalid_cursor", field="cursor"
        )
        if len(cursor) > 512:
            raise invalid
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError):
            raise invalid from None
        body, signature = raw[:-_SIG_BYTES], raw[-_SIG_BYTES:]
        if len(raw) <= _SIG_BYTES or not hmac.compare_digest(signature, self._sign(body)):
            raise invalid
        try:
            cursor_sort, value, row_id, *direction = orjson.loads(body)
            if cursor_sort != sort or direction not in ([], ["b"]):
                raise invalid
            return Position(datetime.fromisoformat(value), uuid.UUID(hex=row_id), bool(direction))
        except (ValueError, TypeError, orjson.JSONDecodeError):
            raise invalid from None
