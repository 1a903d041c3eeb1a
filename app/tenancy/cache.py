"""A short-lived, per-process cache of resolved credentials.

Keyed by the SHA-256 of an API key or by an access token's session id, it saves
the database lookup on the hot path (a hit touches neither the database nor
Redis). Bounds on staleness after a change to who may do what (revoking a key,
signing out, deactivating a user or a tenant, changing a role):

- in the process that makes the change the cache is cleared at once, and again
  when the change's transaction commits;
- with REDIS_URL set, every other server process is told on Redis pub/sub when
  the change commits and clears its cache on hearing it (milliseconds;
  `app.tenancy.invalidation`);
- without Redis, or while Redis cannot be reached, an entry lives at most
  `AUTH_CACHE_TTL_SECONDS` (5 s by default) and is then checked against the
  database again: that is the bound in every other process.

A lookup that was in flight while the cache was cleared does not store its
answer (it may have read the state before the change).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.tenancy.invalidation import clear_on_commit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class AuthCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}
        # key -> the generation in which a lookup of it missed; a lookup's answer is
        # stored only if no clear happened since (the generation is unchanged).
        self._misses: dict[str, int] = {}
        self._generation = 0
        # key id -> monotonic time of the last `last_used_at` write from this process
        self.last_used_written: dict[Any, float] = {}
        # Tells the other processes (set by `app.tenancy.invalidation` with Redis).
        self.broadcast: Callable[[], None] | None = None

    def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            if entry is not None:
                self._entries.pop(key, None)
            if len(self._misses) >= self.max_entries:
                self._misses.clear()
            self._misses[key] = self._generation
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        if self._misses.pop(key, None) != self._generation or self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self, session: AsyncSession | None = None) -> None:
        """Forget everything: used on any change to who may do what. Given the
        change's session, the cache is cleared again and the other processes are
        told once it commits; without one (the change is already committed) they
        are told now."""
        self.forget()
        if session is not None:
            clear_on_commit(session, self)
        elif self.broadcast is not None:
            self.broadcast()

    def committed(self) -> None:
        """A change cleared earlier has committed: clear again, tell the others."""
        self.forget()
        if self.broadcast is not None:
            self.broadcast()

    def forget(self) -> None:
        """Clear this process's entries only (another process said something changed)."""
        self._generation += 1
        self._entries.clear()
        self._misses.clear()
