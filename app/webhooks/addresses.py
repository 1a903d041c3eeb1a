"""What kind of address a webhook would reach, and the numeric host forms parsers accept.

IPv6 addresses that carry an IPv4 address (mapped, NAT64 well-known prefix, 6to4)
are judged by the IPv4 address inside, since that is where the packets end up.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address


class AddressClass(StrEnum):
    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link_local"
    SHARED = "shared"
    METADATA = "metadata"
    MULTICAST = "multicast"
    UNSPECIFIED = "unspecified"
    RESERVED = "reserved"


# Reachable only on the machine's own networks: allowed when private networks are.
PRIVATE_CLASSES = frozenset(
    {AddressClass.LOOPBACK, AddressClass.PRIVATE, AddressClass.LINK_LOCAL, AddressClass.SHARED}
)

# Cloud instance metadata and host services: never a webhook target, whatever the
# settings say, since a development box in a cloud keeps credentials there.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, Oracle, OpenStack IMDS
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "169.254.0.23",  # Tencent Cloud
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure host (WireServer), a public address
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)

_SHARED_V4 = IPv4Network("100.64.0.0/10")
_RFC1918 = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16"))
_ULA = IPv6Network("fc00::/7")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address delivers to, if it carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def classify(address: IPAddress) -> AddressClass:
    """The class of one address (an IPv6 address carrying IPv4 is judged by that IPv4)."""
    if isinstance(address, IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return classify(inner)
        # A scope id (fe80::1%eth0) does not change what the address is.
        address = IPv6Address(int(address))
    if address in METADATA_ADDRESSES:
        return AddressClass.METADATA
    if address.is_unspecified:
        return AddressClass.UNSPECIFIED
    if address.is_loopback:
        return AddressClass.LOOPBACK
    if address.is_multicast:
        return AddressClass.MULTICAST
    if address.is_link_local:
        return AddressClass.LINK_LOCAL
    if isinstance(address, IPv4Address):
        if address in _SHARED_V4:
            return AddressClass.SHARED
        if any(address in network for network in _RFC1918):
            return AddressClass.PRIVATE
    elif address in _ULA or address.is_site_local:
        return AddressClass.PRIVATE
    if address.is_global and not address.is_reserved:
        return AddressClass.PUBLIC
    return AddressClass.RESERVED


def is_allowed(address_class: AddressClass, *, allow_private_networks: bool) -> bool:
    """Whether a webhook may be delivered to an address of this class."""
    if address_class is AddressClass.PUBLIC:
        return True
    return allow_private_networks and address_class in PRIVATE_CLASSES


def first_refused(
    addresses: Iterable[IPAddress], *, allow_private_networks: bool
) -> tuple[IPAddress, AddressClass] | None:
    """The first address that may not be reached, with its class, or None when all may."""
    for address in addresses:
        address_class = classify(address)
        if not is_allowed(address_class, allow_private_networks=allow_private_networks):
            return address, address_class
    return None


class NumericHostError(ValueError):
    """A host that ends in a number but is no IPv4 address in any accepted form."""


def parse_numeric_ipv4(host: str) -> IPv4Address | None:
    """The IPv4 address a numeric host denotes, or None for a host name.

    Accepts every form `inet_aton` and URL parsers accept: 1 to 4 parts, each
    decimal, octal (leading 0) or hex (0x), the last filling the remaining
    bytes (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`), and a trailing dot.
    A host whose last label is a number but that is none of these raises
    NumericHostError, so `1.2.3.4.5` never reaches DNS.
    """
    text = host[:-1] if host.endswith(".") else host
    parts = text.split(".")
    if not _is_number(parts[-1]):
        return None
    if len(parts) > 4:
        raise NumericHostError(f"{host!r} is not an IPv4 address")
    numbers = [_part_value(part, host) for part in parts]
    *leading, last = numbers
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(numbers)):
        raise NumericHostError(f"{host!r} is out of the IPv4 range")
    value = last
    for index, part in enumerate(leading):
        value += part << (8 * (3 - index))
    return IPv4Address(value)


_DIGITS = frozenset("0123456789")
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


def _is_number(part: str) -> bool:
    if part[:2] in ("0x", "0X"):
        return set(part[2:]) <= _HEX
    return part != "" and set(part) <= _DIGITS


def _part_value(part: str, host: str) -> int:
    # Every valid part has at most 12 characters (0x + 8 hex, 0 + 11 octal); a longer
    # one is refused before int() so a hostile host cannot make us parse a huge number.
    if 0 < len(part) <= 12:
        if part[:2] in ("0x", "0X") and set(part[2:]) <= _HEX:
            return int(part[2:], 16) if len(part) > 2 else 0
        if part[0] == "0" and set(part) <= _OCTAL:
            return int(part, 8)
        if set(part) <= _DIGITS and part[0] != "0":
            return int(part, 10)
    raise NumericHostError(f"{host!r} is not an IPv4 address")
