"""Telling every server process that who may do what has changed.

A change (revoking a key, signing out, deactivating a user or a tenant, changing
a role) clears the `AuthCache` of the process that makes it. With REDIS_URL set,
once the change's transaction commits, that process publishes on the channel
`{REDIS_PREFIX}auth:changed`; every server process subscribes (`in_server`, a
background task of the lifespan) and clears its own cache when it hears one.
Publishing after the commit matters: a process told earlier could read the old
rows again and keep them for a whole TTL.

Nothing on the request path talks to Redis. When Redis cannot be reached the
subscriber reconnects with backoff (clearing its cache on every reconnect, since
it may have missed a message) and the cache's TTL (AUTH_CACHE_TTL_SECONDS) is the
bound meanwhile, as it is without Redis at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.logging import get_logger
from app.core.metrics import REGISTRY

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.tenancy.cache import AuthCache

log = get_logger(__name__)
_CHANGED = "mandate_vault.auth_changed"  # session.info: the caches to clear on commit
FIRST_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 10.0
POLL_SECONDS = 1.0
# Redis is asked about an idle subscription this often, so a dead connection
# (no RST from a vanished peer) is noticed and replaced.
HEALTH_CHECK_SECONDS = 5


SUBSCRIBED = Gauge(
    "mandate_vault_auth_invalidation_subscribed",
    "1 while this process hears other processes' auth changes on Redis",
    registry=REGISTRY,
)
MESSAGES = Counter(
    "mandate_vault_auth_invalidations_total",
    "Auth changes told to other processes, heard from them, or not sent",
    ["outcome"],
    registry=REGISTRY,
)


def channel(settings: Settings) -> str:
    return f"{settings.redis_prefix}auth:changed"


def _committed(session: Session) -> None:
    caches: set[AuthCache] | None = session.info.pop(_CHANGED, None)
    for cache in caches or ():
        cache.committed()


def clear_on_commit(session: AsyncSession, cache: AuthCache) -> None:
    """Clear `cache` again, and tell the other processes, when `session` commits."""
    if not event.contains(Session, "after_commit", _committed):
        event.listen(Session, "after_commit", _committed)
    session.info.setdefault(_CHANGED, set()).add(cache)


def _client(url: str) -> Any:
    import redis.asyncio as redis

    return redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=POLL_SECONDS + HEALTH_CHECK_SECONDS,
        health_check_interval=HEALTH_CHECK_SECONDS,
    )


class RedisInvalidation:
    """Publishes this process's committed changes and clears its cache on the others'."""

    def __init__(self, cache: AuthCache, url: str, channel: str) -> None:
        self.cache = cache
        self.channel = channel
        self.origin = f"{os.getpid()}:{uuid.uuid4().hex}".encode()
        self._redis = _client(url)
        self._due = asyncio.Event()
        self.listening = asyncio.Event()  # subscribed now (tests and the logs use it)
        self.heard = 0  # other processes' changes heard

    def request(self) -> None:
        """Publish soon (called on commit, from synchronous code on the loop)."""
        self._due.set()

    async def publish_due(self) -> None:
        """Publish once if a change is waiting; a failure leaves the others to the TTL."""
        if not self._due.is_set():
            return
        self._due.clear()
        try:
            await self._redis.publish(self.channel, self.origin)
            MESSAGES.labels("sent").inc()
        except Exception as error:
            MESSAGES.labels("not_sent").inc()
            log.warning(
                "auth_invalidation_not_sent",
                error=type(error).__name__,
                hint="other processes see the change within AUTH_CACHE_TTL_SECONDS",
            )

    async def publisher(self) -> None:
        while True:
            await self._due.wait()
            await self.publish_due()

    async def subscriber(self) -> None:
        delay = FIRST_RETRY_SECONDS
        failing = False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                # Changes made while we were not listening were not heard.
                self.cache.forget()
                self.listening.set()
                SUBSCRIBED.set(1)
                log.info(
                    "auth_invalidation_listening_again"
                    if failing
                    else "auth_invalidation_listening",
                    channel=self.channel,
                )
                failing, delay = False, FIRST_RETRY_SECONDS
                while True:
                    message = await pubsub.get_message(timeout=POLL_SECONDS)
                    if message is not None and message.get("data") != self.origin:
                        self.heard += 1
                        MESSAGES.labels("heard").inc()
                        self.cache.forget()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.listening.clear()
                SUBSCRIBED.set(0)
                if not failing:
                    log.warning(
                        "auth_invalidation_unavailable",
                        error=type(error).__name__,
                        hint="until Redis answers, other processes' changes hold within "
                        "AUTH_CACHE_TTL_SECONDS",
                    )
                failing = True
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, MAX_RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        await self._redis.aclose()


@contextlib.asynccontextmanager
async def in_server(
    cache: AuthCache, settings: Settings
) -> AsyncIterator[RedisInvalidation | None]:
    """Cross-process invalidation for the server's lifetime when REDIS_URL is set."""
    if not settings.redis_url:
        yield None
        return
    invalidation = RedisInvalidation(cache, settings.redis_url, channel(settings))
    cache.broadcast = invalidation.request
    tasks = [
        asyncio.create_task(invalidation.subscriber(), name="auth-invalidation-subscriber"),
        asyncio.create_task(invalidation.publisher(), name="auth-invalidation-publisher"),
    ]
    try:
        yield invalidation
    finally:
        cache.broadcast = None
        SUBSCRIBED.set(0)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # A change committed just before shutdown is still told.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(invalidation.publish_due(), timeout=1.0)
        await invalidation.aclose()


async def announce(settings: Settings) -> bool:
    """Tell the server processes of a change committed elsewhere (a command);
    False when there is no Redis or it cannot be reached (then the TTL bounds it)."""
    if not settings.redis_url:
        return False
    client = _client(settings.redis_url)
    try:
        await client.publish(channel(settings), f"cli:{os.getpid()}".encode())
    except Exception as error:
        log.warning("auth_invalidation_not_sent", error=type(error).__name__)
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
    return True
