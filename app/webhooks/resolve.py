"""Resolving an endpoint's host, bounded in time, and checking every address it gives.

The result is a `PinnedTarget`: the URL with the addresses that were checked.
The transport connects to those addresses only (see `transport.py`), so there
is no second lookup for an attacker's DNS to answer differently.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Protocol

import httpx

from app.webhooks.addresses import IPAddress, first_refused
from app.webhooks.urls import EndpointUrl, UrlPolicy, UrlRefusal, UrlRefused, check_url

DEFAULT_DNS_TIMEOUT = 2.0
# More answers than this are not tried; they are still all checked.
MAX_CONNECT_ADDRESSES = 8


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> Sequence[str]:
        """The addresses (as text) `host` resolves to; raises OSError when it does not."""
        ...


class SystemResolver:
    """The system resolver (getaddrinfo), run off the event loop."""

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """An endpoint with the checked addresses its connection must go to."""

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


async def resolve_endpoint(
    url: str | EndpointUrl,
    policy: UrlPolicy,
    *,
    resolver: Resolver,
    timeout: float = DEFAULT_DNS_TIMEOUT,
) -> PinnedTarget:
    """Check `url`, resolve its host and check every address; raises UrlRefused."""
    endpoint = check_url(url, policy) if isinstance(url, str) else url
    if endpoint.address is not None:
        addresses: tuple[IPAddress, ...] = (endpoint.address,)
    else:
        addresses = await _lookup(endpoint, resolver, timeout)
    refused = first_refused(addresses, allow_private_networks=policy.allow_private_networks)
    if refused is not None:
        address, address_class = refused
        raise UrlRefused(
            UrlRefusal.ADDRESS_NOT_ALLOWED,
            f"{endpoint.host} resolves to {address} ({address_class.value}), "
            "where webhooks may not be sent",
            address_class,
        )
    return PinnedTarget(
        _parsed(endpoint.url), endpoint.host, endpoint.port, addresses[:MAX_CONNECT_ADDRESSES]
    )


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    return httpx.URL(url)


async def _lookup(
    endpoint: EndpointUrl, resolver: Resolver, timeout: float
) -> tuple[IPAddress, ...]:
    try:
        async with asyncio.timeout(timeout):
            answers = await resolver.resolve(endpoint.host, endpoint.port)
    except TimeoutError:
        raise UrlRefused(
            UrlRefusal.DNS_TIMEOUT, f"{endpoint.host} did not resolve within {timeout:g} s"
        ) from None
    except (OSError, UnicodeError):
        raise UrlRefused(UrlRefusal.HOST_NOT_FOUND, f"{endpoint.host} does not resolve") from None
    seen: dict[IPAddress, None] = {}
    for answer in answers:
        try:
            seen.setdefault(ip_address(answer), None)
        except ValueError:
            # An answer we cannot read is not one we can vouch for.
            raise UrlRefused(
                UrlRefusal.ADDRESS_NOT_ALLOWED, f"{endpoint.host} resolves to an unreadable address"
            ) from None
    if not seen:
        raise UrlRefused(UrlRefusal.HOST_NOT_FOUND, f"{endpoint.host} has no addresses")
    return tuple(seen)
