"""Fixed-window rate limits: in-memory per process, or shared through Redis.

`hit(bucket, limit)` counts one request in the current one-minute window and
answers how many seconds to wait when the limit is exceeded (None otherwise).
When Redis cannot be reached the limiter lets the request through and logs it:
an outage of the limiter must not become an outage of the vault.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from app.core.logging import get_logger

log = get_logger(__name__)
WINDOW_SECONDS = 60


class RateLimiter(Protocol):
    async def hit(self, bucket: str, limit: int, window: int = WINDOW_SECONDS) -> int | None: ...

    async def close(self) -> None: ...


def _retry_after(now: float, window: int) -> int:
    return max(1, math.ceil((math.floor(now / window) + 1) * window - now))


class MemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, bucket: str, limit: int, window: int = WINDOW_SECONDS) -> int | None:
        if limit <= 0:
            return None
        now = self._clock()
        current = int(now // window)
        slot, count = self._counts.get(bucket, (current, 0))
        count = count + 1 if slot == current else 1
        self._counts[bucket] = (current, count)
        if len(self._counts) > 100_000:
            self._prune(current)
        return _retry_after(now, window) if count > limit else None

    def _prune(self, current: int) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[0] == current}

    async def close(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    def __init__(
        self, url: str, prefix: str = "mv:rl:", clock: Callable[[], float] = time.time
    ) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._prefix = prefix
        self._clock = clock

    async def hit(self, bucket: str, limit: int, window: int = WINDOW_SECONDS) -> int | None:
        if limit <= 0:
            return None
        now = self._clock()
        key = f"{self._prefix}{bucket}:{int(now // window)}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, window + 1)
                count, _ = await pipe.execute()
        except Exception as error:  # the limiter fails open, loudly
            log.warning("rate_limiter_unavailable", error=type(error).__name__)
            return None
        return _retry_after(now, window) if int(count) > limit else None

    async def close(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(redis_url: str | None, prefix: str = "mv:") -> RateLimiter:
    """Shared through Redis (keys `{prefix}rl:...`) when a URL is given, else in memory."""
    return RedisRateLimiter(redis_url, prefix=f"{prefix}rl:") if redis_url else MemoryRateLimiter()
