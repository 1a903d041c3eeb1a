"""Fetching issuers' JWKS documents over HTTP, with the limits a verifier needs.

Bounded: a timeout on every fetch, a size cap read as a stream, no redirects.
Cached: a document is refreshed after `JWKS_REFRESH_SECONDS`; a failed refresh
keeps the last good keys. A token naming an unknown `kid` may trigger one
early refetch per URL every `JWKS_MIN_REFETCH_SECONDS`, no more.
"""

from __future__ import annotations

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


class JwksClient:
    def __init__(
        self, http: httpx.AsyncClient, settings: Settings, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.http = http
        self.settings = settings
        self.clock = clock
        self._last_attempt: dict[str, float] = {}

    async def fetch(self, url: str) -> dict[str, Any]:
        """GET and validate a JWKS; raises JwksFetchError with a reason."""
        check_jwks_url(url, allow_http=self.settings.jwks_allow_http)
        self._last_attempt[url] = self.clock.monotonic()
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
