"""An httpx client whose connections go only to addresses that were checked.

The request URL keeps the endpoint's host name, so the Host header, TLS SNI and
certificate verification are all for the name; the network backend underneath
replaces the name by the address pinned for the current task (`pinned(target)`)
and refuses to connect anywhere without one, so no DNS lookup ever happens here.
Connections are pooled by host name: two names on one address never share one.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpcore
import httpx

from app.webhooks.resolve import PinnedTarget

USER_AGENT = "MandateVault-Webhooks/1"

_PINNED: ContextVar[PinnedTarget | None] = ContextVar("webhook_pinned_target", default=None)


class DestinationNotPinned(httpcore.ConnectError):
    """A connection was asked for without a checked address for that host and port."""


@contextmanager
def pinned(target: PinnedTarget) -> Iterator[None]:
    """Connections opened in this block for the target's host go to its checked addresses."""
    token = _PINNED.set(target)
    try:
        yield
    finally:
        _PINNED.reset(token)


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects to the pinned addresses of the current task, in order, and nowhere else."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        target = _PINNED.get()
        if target is None or target.host != host or target.port != port:
            raise DestinationNotPinned(f"no checked address for {host}:{port}; not connecting")
        last_error: Exception | None = None
        for address in target.addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        if last_error is None:
            raise DestinationNotPinned(f"no checked address for {host}:{port}; not connecting")
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationNotPinned("webhooks are never sent over a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool built on the pinned backend."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx.Limits | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        chosen = limits or httpx.Limits(
            max_connections=100, max_keepalive_connections=50, keepalive_expiry=30.0
        )
        super().__init__(verify=context, trust_env=False, limits=chosen)
        # httpx offers no parameter for the network backend; the pool it built above
        # is replaced by the same pool on ours (httpx is pinned, and a test connects
        # to a host name that does not resolve, so a change here cannot go unnoticed).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=chosen.max_connections,
            max_keepalive_connections=chosen.max_keepalive_connections,
            keepalive_expiry=chosen.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=PinnedNetworkBackend(network_backend),
        )


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing a receiver sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class DeliveryClient(httpx.AsyncClient):
    """An AsyncClient without cookies: no receiver leaves state that a later delivery
    (perhaps another tenant's, to the same host) would carry; parsing them is costly too."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NoCookies()

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None


def build_delivery_client(
    *,
    ssl_context: ssl.SSLContext | None = None,
    limits: httpx.Limits | None = None,
    user_agent: str = USER_AGENT,
) -> httpx.AsyncClient:
    """The client for webhook attempts: pinned, no env proxies, no redirects, no cookies."""
    # Identity encoding: an excerpt is never inflated, so no decompression bomb.
    return DeliveryClient(
        transport=PinnedTransport(ssl_context=ssl_context, limits=limits),
        trust_env=False,
        follow_redirects=False,
        headers={"user-agent": user_agent, "accept-encoding": "identity"},
    )
