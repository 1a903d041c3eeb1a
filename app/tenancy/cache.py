"""A short-lived, per-process cache of resolved credentials.

Keyed by the SHA-256 of an API key or by an access token's session id, it saves
the database lookup on the hot path. Bounds on staleness:

- in the process that makes a change (revoking a key, logging out, deactivating
  a user or a tenant, changing a role) the cache is cleared at once;
- in other processes an entry lives at most `AUTH_CACHE_TTL_SECONDS` (5 s by
  default), so a revocation takes effect everywhere within that time.
"""

from __future__ import annotations

import time
from typing import Any


class AuthCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}
        # key id -> monotonic time of the last `last_used_at` write from this process
        self.last_used_written: dict[Any, float] = {}

    def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        """Forget everything: used on any change to who may do what."""
        self._entries.clear()
