"""Sending one delivery attempt: bounded in time and size, and never raising for the network.

`send_attempt` posts signed bytes to a pinned target and reads at most an excerpt
of the answer as a stream (a 10 MiB body is never held); `attempt_delivery` is
the whole send path of a worker: check and resolve the URL again, sign with a
fresh timestamp, send. Both return an `AttemptResult`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from app.webhooks.resolve import DEFAULT_DNS_TIMEOUT, PinnedTarget, Resolver, resolve_endpoint
from app.webhooks.results import AttemptOutcome, AttemptResult
from app.webhooks.retry import parse_retry_after
from app.webhooks.signing import SigningKey, unix_now, webhook_headers
from app.webhooks.transport import DestinationNotPinned, pinned
from app.webhooks.urls import UrlPolicy, UrlRefusal, UrlRefused

_ERROR_CHARS = 500
_LOCATION_CHARS = 200


@dataclass(frozen=True, slots=True)
class AttemptLimits:
    """Time and size bounds of one attempt."""

    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    excerpt_bytes: int = 4096
    dns_timeout: float = DEFAULT_DNS_TIMEOUT


def classify_status(status_code: int) -> AttemptOutcome:
    """The outcome an HTTP status means for a webhook."""
    if 200 <= status_code < 300:
        return AttemptOutcome.SUCCESS
    if 300 <= status_code < 400:
        return AttemptOutcome.REDIRECT
    if status_code == 410:
        return AttemptOutcome.GONE
    if status_code in (429, 503):
        return AttemptOutcome.THROTTLED
    return AttemptOutcome.HTTP_ERROR


async def send_attempt(
    client: httpx.AsyncClient,
    target: PinnedTarget,
    headers: Mapping[str, str],
    body: bytes,
    *,
    limits: AttemptLimits,
) -> AttemptResult:
    """POST `body` to the target's checked addresses; the result, never a network exception."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    deadline = loop.time() + limits.total_timeout
    timeout = httpx.Timeout(limits.total_timeout, connect=limits.connect_timeout)
    request = client.build_request(
        "POST",
        target.url,
        content=body,
        headers={"content-type": "application/json", **headers},
        timeout=timeout,
    )
    with pinned(target):
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.send(request, stream=True, follow_redirects=False)
        except TimeoutError:
            return _failed(AttemptOutcome.TIMEOUT, started, "no answer within the total timeout")
        except httpx.TimeoutException as error:
            return _failed(AttemptOutcome.TIMEOUT, started, _describe(error))
        except httpx.HTTPError as error:
            return _failed(_network_outcome(error), started, _describe(error))
        except OSError as error:
            return _failed(AttemptOutcome.CONNECT_FAILED, started, _describe(error))
        try:
            excerpt, truncated, read_error = await _read_excerpt(
                response, limits.excerpt_bytes, deadline
            )
        finally:
            await response.aclose()
    status = response.status_code
    outcome = classify_status(status)
    error_text = read_error
    if outcome is AttemptOutcome.REDIRECT:
        location = response.headers.get("location", "")[:_LOCATION_CHARS]
        error_text = f"redirect to {location or '(no Location)'} not followed"
    elif outcome is not AttemptOutcome.SUCCESS and error_text is None:
        error_text = f"HTTP {status}"
    retry_after = (
        parse_retry_after(response.headers.get("retry-after"), now=datetime.now(UTC))
        if outcome is AttemptOutcome.THROTTLED
        else None
    )
    return AttemptResult(
        outcome=outcome,
        status_code=status,
        elapsed_ms=_elapsed_ms(started),
        response_excerpt=excerpt,
        response_truncated=truncated,
        error=error_text,
        retry_after_seconds=retry_after,
        remote_address=_remote_address(response),
    )


async def attempt_delivery(
    client: httpx.AsyncClient,
    *,
    url: str,
    message_id: str,
    body: bytes,
    keys: Sequence[SigningKey],
    policy: UrlPolicy,
    resolver: Resolver,
    limits: AttemptLimits,
) -> AttemptResult:
    """Check and resolve `url` now, sign `body` with `keys` at this second, and send it.

    Network failures and refused destinations are results; only a caller's bug (a
    message id that is not `[A-Za-z0-9_-]`, no keys) raises WebhookSignatureError.
    """
    started = time.perf_counter()
    try:
        target = await resolve_endpoint(url, policy, resolver=resolver, timeout=limits.dns_timeout)
    except UrlRefused as refusal:
        dns_codes = (UrlRefusal.HOST_NOT_FOUND, UrlRefusal.DNS_TIMEOUT)
        outcome = AttemptOutcome.DNS_FAILED if refusal.code in dns_codes else AttemptOutcome.BLOCKED
        return _failed(outcome, started, f"{refusal.code.value}: {refusal}")
    headers = webhook_headers(message_id, unix_now(), body, keys)
    return await send_attempt(client, target, headers, body, limits=limits)


async def _read_excerpt(
    response: httpx.Response, cap: int, deadline: float
) -> tuple[str, bool, str | None]:
    """At most `cap` bytes of the body, read as it arrives; the rest is never downloaded."""
    kept = bytearray()
    truncated = False
    try:
        async with asyncio.timeout_at(deadline):
            async for chunk in response.aiter_raw():
                room = cap - len(kept)
                if len(chunk) > room:
                    kept += chunk[:room]
                    truncated = True
                    break
                kept += chunk
    except TimeoutError:
        return _text(kept), True, "the body did not arrive within the total timeout"
    except httpx.HTTPError as error:
        return _text(kept), True, f"the body could not be read: {_describe(error)}"
    return _text(kept), truncated, None


def _text(data: bytearray) -> str:
    # The cut may fall inside a character; a replacement mark is kinder than a crash.
    return data.decode("utf-8", errors="replace")


def _network_outcome(error: httpx.HTTPError) -> AttemptOutcome:
    if _caused_by_tls(error):
        return AttemptOutcome.TLS_FAILED
    if isinstance(error, httpx.ConnectError):
        cause = error.__cause__
        if isinstance(cause, DestinationNotPinned):
            return AttemptOutcome.BLOCKED
        return AttemptOutcome.CONNECT_FAILED
    return AttemptOutcome.PROTOCOL_ERROR


def _caused_by_tls(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _remote_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    peer = stream.get_extra_info("server_addr")
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:_ERROR_CHARS]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _failed(outcome: AttemptOutcome, started: float, error: str) -> AttemptResult:
    return AttemptResult(
        outcome=outcome, elapsed_ms=_elapsed_ms(started), error=error[:_ERROR_CHARS]
    )
