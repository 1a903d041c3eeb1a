"""Endpoint URLs: the checks made when one is registered, before any DNS lookup.

`check_url` refuses what is never a webhook target and returns the URL in one
canonical form (numeric hosts as dotted quads, names lower-case ASCII), which
is what gets stored, so every later reader parses the same destination.
Every refusal is a `UrlRefused` (a ValueError) with a stable code.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv6Address

import httpx

from app.webhooks.addresses import (
    AddressClass,
    IPAddress,
    NumericHostError,
    classify,
    is_allowed,
    parse_numeric_ipv4,
)

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
# Host names of letters, digits, hyphens and underscores in labels of at most 63.
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")


class UrlRefusal(StrEnum):
    INVALID_URL = "invalid_url"
    URL_TOO_LONG = "url_too_long"
    SCHEME_NOT_ALLOWED = "scheme_not_allowed"
    HTTPS_REQUIRED = "https_required"
    CREDENTIALS_NOT_ALLOWED = "credentials_not_allowed"
    INVALID_HOST = "invalid_host"
    INVALID_PORT = "invalid_port"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    HOST_NOT_FOUND = "host_not_found"
    DNS_TIMEOUT = "dns_timeout"


class UrlRefused(ValueError):
    """A webhook URL that may not be used; `code` is stable, `str()` says why."""

    def __init__(
        self, code: UrlRefusal, message: str, address_class: AddressClass | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.address_class = address_class


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Where webhooks may go: by default https to public addresses only."""

    allow_http: bool = False
    allow_private_networks: bool = False
    max_length: int = MAX_URL_LENGTH


@dataclass(frozen=True, slots=True)
class EndpointUrl:
    """A URL that passed every check that needs no DNS."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress | None


def check_url(raw: str, policy: UrlPolicy) -> EndpointUrl:
    """The canonical form of a webhook URL, or UrlRefused; makes no DNS lookup."""
    if not isinstance(raw, str):
        raise UrlRefused(UrlRefusal.INVALID_URL, "a webhook URL is a string")
    return _check_url(raw, policy)


# Every attempt checks its stored URL again; the answer is a pure function of the
# text and the policy, so the few URLs a worker sends to are checked once each.
@functools.lru_cache(maxsize=1024)
def _check_url(raw: str, policy: UrlPolicy) -> EndpointUrl:
    if len(raw) > policy.max_length:
        raise UrlRefused(
            UrlRefusal.URL_TOO_LONG, f"a webhook URL has at most {policy.max_length} characters"
        )
    if _FORBIDDEN_CHARACTERS.search(raw):
        raise UrlRefused(
            UrlRefusal.INVALID_URL, "a webhook URL has no spaces, control characters or backslashes"
        )
    try:
        parts = urllib.parse.urlsplit(raw)
        scheme = parts.scheme.lower()
        netloc = parts.netloc
    except ValueError:
        raise UrlRefused(UrlRefusal.INVALID_URL, "not a URL") from None
    if scheme not in DEFAULT_PORTS:
        allowed = "http:// or https://" if policy.allow_http else "https://"
        raise UrlRefused(UrlRefusal.SCHEME_NOT_ALLOWED, f"a webhook URL starts with {allowed}")
    if scheme == "http" and not policy.allow_http:
        raise UrlRefused(UrlRefusal.HTTPS_REQUIRED, "a webhook URL must use https")
    if "@" in netloc:
        raise UrlRefused(UrlRefusal.CREDENTIALS_NOT_ALLOWED, "a webhook URL carries no credentials")
    if parts.fragment or raw.endswith("#"):
        raise UrlRefused(UrlRefusal.INVALID_URL, "a webhook URL has no #fragment")
    if not (parts.path + parts.query).isascii():
        raise UrlRefused(UrlRefusal.INVALID_URL, "percent-encode non-ASCII path and query text")
    host_text, port = _split_authority(netloc, scheme)
    host, address = _canonical_host(host_text)
    if address is not None:
        address_class = classify(address)
        if not is_allowed(address_class, allow_private_networks=policy.allow_private_networks):
            raise UrlRefused(
                UrlRefusal.ADDRESS_NOT_ALLOWED,
                f"webhooks may not be sent to {address_class.value} addresses",
                address_class,
            )
    elif is_localhost_name(host) and not policy.allow_private_networks:
        raise UrlRefused(
            UrlRefusal.ADDRESS_NOT_ALLOWED,
            "webhooks may not be sent to loopback addresses",
            AddressClass.LOOPBACK,
        )
    authority = f"[{host}]" if isinstance(address, IPv6Address) else host
    if port != DEFAULT_PORTS[scheme]:
        authority = f"{authority}:{port}"
    canonical = urllib.parse.urlunsplit((scheme, authority, parts.path or "/", parts.query, ""))
    if len(canonical) > policy.max_length:
        raise UrlRefused(
            UrlRefusal.URL_TOO_LONG, f"a webhook URL has at most {policy.max_length} characters"
        )
    _agree_with_httpx(canonical, host, port)
    return EndpointUrl(canonical, scheme, host, port, address)


def is_localhost_name(host: str) -> bool:
    """`localhost` and its subdomains, loopback by definition whatever DNS says."""
    return host == "localhost" or host.endswith(".localhost")


def _split_authority(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise UrlRefused(UrlRefusal.INVALID_HOST, "an IPv6 host is written [address]")
        host_text, rest = netloc[1:end], netloc[end + 1 :]
        if not host_text or ":" not in host_text:
            raise UrlRefused(UrlRefusal.INVALID_HOST, "brackets hold only an IPv6 address")
    else:
        host_text, colon, port_part = netloc.partition(":")
        rest = colon + port_part
    if not rest:
        port = DEFAULT_PORTS[scheme]
    elif rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit() and len(rest) <= 6:
        port = int(rest[1:])
    elif rest == ":":
        port = DEFAULT_PORTS[scheme]
    else:
        raise UrlRefused(UrlRefusal.INVALID_PORT, "a port is a number from 1 to 65535")
    if not 1 <= port <= 65535:
        raise UrlRefused(UrlRefusal.INVALID_PORT, "a port is a number from 1 to 65535")
    if not host_text:
        raise UrlRefused(UrlRefusal.INVALID_HOST, "a webhook URL names a host")
    return host_text, port


def _canonical_host(host_text: str) -> tuple[str, IPAddress | None]:
    if ":" in host_text:
        if "%" in host_text:
            raise UrlRefused(UrlRefusal.INVALID_HOST, "an IPv6 zone id is not allowed")
        try:
            address6 = IPv6Address(host_text)
        except ValueError:
            raise UrlRefused(UrlRefusal.INVALID_HOST, "not an IPv6 address") from None
        return address6.compressed, address6
    ascii_host = host_text.lower() if host_text.isascii() else _idna(host_text)
    try:
        address4 = parse_numeric_ipv4(ascii_host)
    except NumericHostError as error:
        raise UrlRefused(UrlRefusal.INVALID_HOST, str(error)) from None
    if address4 is not None:
        return str(address4), address4
    name = ascii_host.removesuffix(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise UrlRefused(
            UrlRefusal.INVALID_HOST, "a host name is dot-separated labels of letters, digits and -"
        )
    return name, None


def _idna(host_text: str) -> str:
    """An internationalised name in ASCII, encoded exactly as the sender will encode it."""
    try:
        return httpx.URL(scheme="https", host=host_text, path="/").raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError, TypeError):
        raise UrlRefused(UrlRefusal.INVALID_HOST, "not a valid host name") from None


def _agree_with_httpx(canonical: str, host: str, port: int) -> None:
    """Refuse a URL the sending library would read as another destination."""
    try:
        parsed = httpx.URL(canonical)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise UrlRefused(UrlRefusal.INVALID_URL, "not a URL the sender can use") from None
    seen_port = parsed.port or DEFAULT_PORTS.get(parsed.scheme, 0)
    if parsed.raw_host.decode("ascii") != host or seen_port != port:
        raise UrlRefused(UrlRefusal.INVALID_URL, "the URL's host is ambiguous")
