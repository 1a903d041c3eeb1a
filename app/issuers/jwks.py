"""Fetching issuers' JWKS documents over HTTP, with the limits a verifier needs.

Bounded: a timeout on every fetch, a size cap read as a stream, no redirects.
Cached: a document is refreshed after `JWKS_REFRESH_SECONDS`; a failed refresh
keeps the last good keys. A token naming an unknown `kid` may trigger one
early refetch per URL every `JWKS_MIN_REFETCH_SECONDS`, no more.

Isolated, so one tenant's slow or broken issuer costs the others nothing:

- single flight: at most one fetch per URL is in flight; callers asking for the
  same URL meanwhile wait for that one (it runs as its own task, so a caller
  that gives up does not cancel it for the others);
- negative cache: a URL that failed is not asked again for
  `JWKS_BACKOFF_SECONDS`, doubling per consecutive failure up to
  `JWKS_BACKOFF_MAX_SECONDS`, each wait shortened by a random fraction (jitter,
  so many processes do not retry in step); a success clears it;
- a per-tenant cap (`JWKS_MAX_FETCHES_PER_TENANT`) on fetches in flight: past
  it a fetch is not started and the last good keys are used.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections import Counter
from typing import Any

import httpx
import orjson

from app.core.clock import SYSTEM_CLOCK, Clock
from app.core.config import Settings
from app.core.logging import get_logger
from app.keys import InvalidKeyMaterial, keys_from_jwks

log = get_logger(__name__)


class JwksFetchError(Exception):
    """The JWKS document could not be fetched or is not a usable key set."""

    def __init__(self, reason: str, *, attempted: bool = True) -> None:
        super().__init__(reason)
        # False when no request was sent (backing off, or the tenant's cap was reached).
        self.attempted = attempted


def check_jwks_url(url: str, *, allow_http: bool) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise JwksFetchError("jwks_url is not a valid URL") from None
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise JwksFetchError("jwks_url must be an https:// URL")
    if parsed.scheme == "http" and not allow_http:
        raise JwksFetchError("jwks_url must use https (set JWKS_ALLOW_HTTP=true for local testing)")
    if parsed.userinfo:
        raise JwksFetchError("jwks_url must not carry credentials")
    return str(parsed)


@dataclasses.dataclass(slots=True)
class _Failing:
    """A URL's run of consecutive failures and when it may be asked again."""

    failures: int
    retry_at: float
    reason: str


class JwksClient:
    def __init__(
        self, http: httpx.AsyncClient, settings: Settings, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.http = http
        self.settings = settings
        self.clock = clock
        self._last_attempt: dict[str, float] = {}
        self._failing: dict[str, _Failing] = {}
        self._inflight: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._per_tenant: Counter[uuid.UUID | None] = Counter()
        self._random = random.Random()

    async def fetch(
        self, url: str, *, tenant: uuid.UUID | None = None, explicit: bool = False
    ) -> dict[str, Any]:
        """GET and validate a JWKS; raises JwksFetchError with a reason.

        `tenant` is the one the fetch is made for (its cap applies). `explicit`
        (an operator registering or changing an issuer) skips the negative cache.
        """
        check_jwks_url(url, allow_http=self.settings.jwks_allow_http)
        running = self._inflight.get(url)
        if running is None:
            failing = self._failing.get(url)
            now = self.clock.monotonic()
            if failing is not None and not explicit and now < failing.retry_at:
                raise JwksFetchError(
                    f"{failing.reason}; not asked again for {failing.retry_at - now:.0f} s",
                    attempted=False,
                )
            cap = self.settings.jwks_max_fetches_per_tenant
            if self._per_tenant[tenant] >= cap:
                raise JwksFetchError(
                    f"{cap} key fetches of this tenant are already in flight", attempted=False
                )
            running = self._start(url, tenant)
        # shield: a caller that is cancelled (its client went away) leaves the
        # fetch running for everyone else waiting on it.
        return await asyncio.shield(running)

    def _start(self, url: str, tenant: uuid.UUID | None) -> asyncio.Task[dict[str, Any]]:
        self._last_attempt[url] = self.clock.monotonic()
        self._per_tenant[tenant] += 1
        task = asyncio.get_running_loop().create_task(self._get(url))
        self._inflight[url] = task

        def finished(done: asyncio.Task[dict[str, Any]]) -> None:
            self._inflight.pop(url, None)
            self._per_tenant[tenant] -= 1
            if self._per_tenant[tenant] <= 0:
                del self._per_tenant[tenant]
            if done.cancelled():
                return
            error = done.exception()  # also marks it retrieved when nobody waited
            if error is None:
                self._failing.pop(url, None)
            elif isinstance(error, JwksFetchError):
                self._failed(url, str(error))

        task.add_done_callback(finished)
        return task

    def _failed(self, url: str, reason: str) -> None:
        previous = self._failing.get(url)
        failures = previous.failures + 1 if previous else 1
        settings = self.settings
        wait = min(
            settings.jwks_backoff_max_seconds,
            settings.jwks_backoff_seconds * 2 ** min(failures - 1, 30),
        )
        wait *= 1 - settings.jwks_backoff_jitter * self._random.random()
        self._failing[url] = _Failing(failures, self.clock.monotonic() + wait, reason)
        log.warning(
            "jwks_fetch_failed", url=url, reason=reason, failures=failures, retry_in=round(wait, 1)
        )

    def backoff(self, url: str) -> float:
        """Seconds before a failing URL is asked again (0 when it is not failing)."""
        failing = self._failing.get(url)
        return max(0.0, failing.retry_at - self.clock.monotonic()) if failing else 0.0

    async def _get(self, url: str) -> dict[str, Any]:
        limit = self.settings.jwks_max_bytes
        try:
            async with self.http.stream(
                "GET",
                url,
                timeout=self.settings.jwks_fetch_timeout,
                follow_redirects=False,
                headers={"Accept": "application/jwk-set+json, application/json"},
            ) as response:
                if response.status_code != 200:
                    raise JwksFetchError(f"jwks_url answered HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise JwksFetchError(f"jwks_url document is larger than {limit} bytes")
        except httpx.TimeoutException:
            raise JwksFetchError("jwks_url did not answer in time") from None
        except httpx.HTTPError as error:
            raise JwksFetchError(
                f"jwks_url could not be fetched ({type(error).__name__})"
            ) from None
        try:
            document = orjson.loads(bytes(body))
            keys_from_jwks(document)
        except orjson.JSONDecodeError:
            raise JwksFetchError("jwks_url did not return JSON") from None
        except InvalidKeyMaterial as error:
            raise JwksFetchError(f"jwks_url returned an unusable key set: {error}") from None
        return document

    def may_refetch(self, url: str) -> bool:
        """One early refetch per URL per JWKS_MIN_REFETCH_SECONDS."""
        last = self._last_attempt.get(url)
        elapsed = self.clock.monotonic() - last if last is not None else None
        return elapsed is None or elapsed >= self.settings.jwks_min_refetch_seconds

    def is_stale(self, fetched_at_epoch: float | None) -> bool:
        if fetched_at_epoch is None:
            return True
        age = self.clock.now().timestamp() - fetched_at_epoch
        return age >= self.settings.jwks_refresh_seconds

    async def aclose(self) -> None:
        """Cancel fetches still in flight (shutdown)."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
