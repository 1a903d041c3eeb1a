"""Address classes for the SSRF guard, and the numeric host forms parsers accept."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.webhooks.addresses import (
    METADATA_ADDRESSES,
    AddressClass,
    NumericHostError,
    classify,
    first_refused,
    is_allowed,
    parse_numeric_ipv4,
)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", AddressClass.PUBLIC),
        ("2606:4700:4700::1111", AddressClass.PUBLIC),
        ("127.0.0.1", AddressClass.LOOPBACK),
        ("127.255.0.9", AddressClass.LOOPBACK),
        ("::1", AddressClass.LOOPBACK),
        ("10.0.0.1", AddressClass.PRIVATE),
        ("172.16.5.4", AddressClass.PRIVATE),
        ("192.168.1.1", AddressClass.PRIVATE),
        ("fd12:3456::1", AddressClass.PRIVATE),
        ("fec0::1", AddressClass.PRIVATE),
        ("169.254.10.10", AddressClass.LINK_LOCAL),
        ("fe80::1", AddressClass.LINK_LOCAL),
        ("fe80::1%eth0", AddressClass.LINK_LOCAL),
        ("100.64.0.1", AddressClass.SHARED),
        ("169.254.169.254", AddressClass.METADATA),
        ("100.100.100.200", AddressClass.METADATA),
        ("168.63.129.16", AddressClass.METADATA),
        ("fd00:ec2::254", AddressClass.METADATA),
        ("224.0.0.1", AddressClass.MULTICAST),
        ("ff02::1", AddressClass.MULTICAST),
        ("0.0.0.0", AddressClass.UNSPECIFIED),
        ("::", AddressClass.UNSPECIFIED),
        ("240.0.0.1", AddressClass.RESERVED),
        ("255.255.255.255", AddressClass.RESERVED),
        ("192.0.2.7", AddressClass.RESERVED),
        ("198.18.0.1", AddressClass.RESERVED),
        ("0.1.2.3", AddressClass.RESERVED),
        ("2001:db8::1", AddressClass.RESERVED),
        ("::127.0.0.1", AddressClass.RESERVED),
        ("64:ff9b:1::a00:1", AddressClass.RESERVED),
        # IPv6 that carries IPv4 is judged by the IPv4 inside.
        ("::ffff:127.0.0.1", AddressClass.LOOPBACK),
        ("::ffff:10.0.0.1", AddressClass.PRIVATE),
        ("::ffff:169.254.169.254", AddressClass.METADATA),
        ("::ffff:8.8.8.8", AddressClass.PUBLIC),
        ("64:ff9b::a00:1", AddressClass.PRIVATE),
        ("64:ff9b::a9fe:a9fe", AddressClass.METADATA),
        ("64:ff9b::808:808", AddressClass.PUBLIC),
        ("2002:7f00:1::", AddressClass.LOOPBACK),
        ("2002:0808:0808::1", AddressClass.PUBLIC),
    ],
)
def test_classify(address: str, expected: AddressClass) -> None:
    assert classify(ip_address(address)) is expected


def test_private_networks_switch_lifts_local_classes_but_never_metadata() -> None:
    for address_class in AddressClass:
        closed = is_allowed(address_class, allow_private_networks=False)
        opened = is_allowed(address_class, allow_private_networks=True)
        assert closed is (address_class is AddressClass.PUBLIC)
        if address_class in (
            AddressClass.METADATA,
            AddressClass.MULTICAST,
            AddressClass.UNSPECIFIED,
            AddressClass.RESERVED,
        ):
            assert not opened
        else:
            assert opened
    for address in METADATA_ADDRESSES:
        assert first_refused([address], allow_private_networks=True) is not None


def test_first_refused_names_the_bad_address_among_good_ones() -> None:
    answers = [ip_address("8.8.8.8"), ip_address("10.0.0.1"), ip_address("1.1.1.1")]
    assert first_refused(answers, allow_private_networks=False) == (
        ip_address("10.0.0.1"),
        AddressClass.PRIVATE,
    )
    assert first_refused(answers, allow_private_networks=True) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0177.0000.0000.0001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("012.0x0.0.01", "10.0.0.1"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("4294967295", "255.255.255.255"),
    ],
)
def test_numeric_forms_denote_their_address(host: str, expected: str) -> None:
    assert parse_numeric_ipv4(host) == IPv4Address(expected)


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.5",
        "08.1.1.1",
        "1..2",
        "256.1.1.1",
        "4294967296",
        "1.16777216",
        "a.1",
        "0x1.0x1g.1",
        "9" * 40,
    ],
)
def test_hosts_ending_in_a_number_that_are_no_address_are_refused(host: str) -> None:
    with pytest.raises(NumericHostError):
        parse_numeric_ipv4(host)


@pytest.mark.parametrize("host", ["example.com", "1.a", "x1", "0x1g", "0xbeefy.com", "", "."])
def test_names_are_not_numbers(host: str) -> None:
    assert parse_numeric_ipv4(host) is None


@given(st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=24))
def test_agrees_with_inet_aton_wherever_inet_aton_accepts(host: str) -> None:
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return
    assert parse_numeric_ipv4(host) == IPv4Address(packed)


@given(st.text(max_size=40))
def test_any_text_is_an_address_a_name_or_the_documented_error(host: str) -> None:
    try:
        result = parse_numeric_ipv4(host)
    except NumericHostError:
        return
    assert result is None or isinstance(result, IPv4Address)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_decimal_and_hex_integer_form(value: int) -> None:
    assert parse_numeric_ipv4(str(value)) == IPv4Address(value)
    assert parse_numeric_ipv4(hex(value)) == IPv4Address(value)
    assert parse_numeric_ipv4("0" + oct(value)[2:]) == IPv4Address(value)
