"""Endpoint URLs: registration checks, canonical form, DNS with every answer checked."""

from __future__ import annotations

import time
from ipaddress import ip_address

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.webhooks.addresses import AddressClass
from app.webhooks.resolve import SystemResolver, resolve_endpoint
from app.webhooks.urls import (
    MAX_URL_LENGTH,
    EndpointUrl,
    UrlPolicy,
    UrlRefusal,
    UrlRefused,
    check_url,
)
from tests.webhooks.conftest import LOCAL_POLICY, StaticResolver

STRICT = UrlPolicy()
HTTP_PUBLIC = UrlPolicy(allow_http=True)

SSRF_URLS = [
    ("http://127.0.0.1/hook", AddressClass.LOOPBACK),
    ("http://127.0.0.1:8080/hook", AddressClass.LOOPBACK),
    ("http://[::1]/hook", AddressClass.LOOPBACK),
    ("http://[::ffff:127.0.0.1]/hook", AddressClass.LOOPBACK),
    ("http://localhost/hook", AddressClass.LOOPBACK),
    ("http://api.localhost/hook", AddressClass.LOOPBACK),
    ("http://2130706433/hook", AddressClass.LOOPBACK),
    ("http://0177.0.0.1/hook", AddressClass.LOOPBACK),
    ("http://0x7f.0.0.1/hook", AddressClass.LOOPBACK),
    ("http://0x7f000001/hook", AddressClass.LOOPBACK),
    ("http://127.1/hook", AddressClass.LOOPBACK),
    ("http://017700000001/hook", AddressClass.LOOPBACK),
    ("http://10.0.0.1/hook", AddressClass.PRIVATE),
    ("http://012.0.0.1/hook", AddressClass.PRIVATE),
    ("http://167772161/hook", AddressClass.PRIVATE),
    ("http://[fd00::1]/hook", AddressClass.PRIVATE),
    ("http://169.254.1.1/hook", AddressClass.LINK_LOCAL),
    ("http://100.64.0.1/hook", AddressClass.SHARED),
]
ALWAYS_REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", AddressClass.METADATA),
    ("http://2852039166/latest/meta-data/", AddressClass.METADATA),
    ("http://0xa9.0xfe.0xa9.0xfe/", AddressClass.METADATA),
    ("http://[::ffff:169.254.169.254]/", AddressClass.METADATA),
    ("http://[fd00:ec2::254]/", AddressClass.METADATA),
    ("http://168.63.129.16/", AddressClass.METADATA),
    ("http://0.0.0.0/", AddressClass.UNSPECIFIED),
    ("http://0/", AddressClass.UNSPECIFIED),
    ("http://[::]/", AddressClass.UNSPECIFIED),
    ("http://224.0.0.1/", AddressClass.MULTICAST),
    ("http://255.255.255.255/", AddressClass.RESERVED),
]


@pytest.mark.parametrize(("url", "address_class"), SSRF_URLS + ALWAYS_REFUSED)
def test_local_destinations_are_refused_at_registration(
    url: str, address_class: AddressClass
) -> None:
    with pytest.raises(UrlRefused) as caught:
        check_url(url, HTTP_PUBLIC)
    assert caught.value.code is UrlRefusal.ADDRESS_NOT_ALLOWED
    assert caught.value.address_class is address_class


@pytest.mark.parametrize(("url", "address_class"), SSRF_URLS)
def test_private_networks_switch_allows_them_in_canonical_form(
    url: str, address_class: AddressClass
) -> None:
    endpoint = check_url(url, LOCAL_POLICY)
    assert endpoint.url.endswith("/hook")
    if endpoint.address is not None:
        # Numeric forms are stored as the address they denote, so every reader agrees.
        assert endpoint.host == endpoint.address.compressed
        assert httpx.URL(endpoint.url).host == endpoint.host


@pytest.mark.parametrize(("url", "address_class"), ALWAYS_REFUSED)
def test_metadata_and_unroutable_addresses_stay_refused_with_the_switch(
    url: str, address_class: AddressClass
) -> None:
    with pytest.raises(UrlRefused) as caught:
        check_url(url, LOCAL_POLICY)
    assert caught.value.address_class is address_class


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("", UrlRefusal.SCHEME_NOT_ALLOWED),
        ("hooks.example.com/x", UrlRefusal.SCHEME_NOT_ALLOWED),
        ("ftp://hooks.example.com/x", UrlRefusal.SCHEME_NOT_ALLOWED),
        ("file:///etc/passwd", UrlRefusal.SCHEME_NOT_ALLOWED),
        ("gopher://hooks.example.com/", UrlRefusal.SCHEME_NOT_ALLOWED),
        ("javascript:alert(1)", UrlRefusal.SCHEME_NOT_ALLOWED),
        ("http://hooks.example.com/x", UrlRefusal.HTTPS_REQUIRED),
        ("https://user:pw@hooks.example.com/", UrlRefusal.CREDENTIALS_NOT_ALLOWED),
        ("https://user@hooks.example.com/", UrlRefusal.CREDENTIALS_NOT_ALLOWED),
        ("https://hooks.example.com@169.254.169.254/", UrlRefusal.CREDENTIALS_NOT_ALLOWED),
        ("https://hooks.example.com:0/", UrlRefusal.INVALID_PORT),
        ("https://hooks.example.com:65536/", UrlRefusal.INVALID_PORT),
        ("https://hooks.example.com:8o/", UrlRefusal.INVALID_PORT),
        ("https://hooks.example.com:+443/", UrlRefusal.INVALID_PORT),
        ("https://:443/", UrlRefusal.INVALID_HOST),
        ("https:///path", UrlRefusal.INVALID_HOST),
        ("https://1.2.3.4.5/", UrlRefusal.INVALID_HOST),
        ("https://256.0.0.1/", UrlRefusal.INVALID_HOST),
        ("https://08.0.0.1/", UrlRefusal.INVALID_HOST),
        ("https://a..b/", UrlRefusal.INVALID_HOST),
        ("https://-bad.example.com/", UrlRefusal.INVALID_HOST),
        ("https://ex%41mple.com/", UrlRefusal.INVALID_HOST),
        ("https://[fe80::1%25eth0]/", UrlRefusal.INVALID_HOST),
        ("https://[not:an:address]/", UrlRefusal.INVALID_URL),
        ("https://[1.2.3.4]/", UrlRefusal.INVALID_URL),
        ("https://hooks.example.com/a b", UrlRefusal.INVALID_URL),
        ("https://hooks.example.com/\n", UrlRefusal.INVALID_URL),
        ("https://hooks.example.com\\@evil.example/", UrlRefusal.INVALID_URL),
        ("https://hooks.example.com/#frag", UrlRefusal.INVALID_URL),
        ("https://hooks.example.com/caf\u00e9", UrlRefusal.INVALID_URL),
        (" https://hooks.example.com/", UrlRefusal.INVALID_URL),
    ],
)
def test_refusals_have_stable_codes(url: str, code: UrlRefusal) -> None:
    with pytest.raises(UrlRefused) as caught:
        check_url(url, STRICT)
    assert caught.value.code is code
    assert isinstance(caught.value, ValueError)  # pydantic validators turn it into a 422


def test_length_limit_is_2048_characters() -> None:
    base = "https://hooks.example.com/"
    exact = base + "a" * (MAX_URL_LENGTH - len(base))
    assert check_url(exact, STRICT).url == exact
    with pytest.raises(UrlRefused) as caught:
        check_url(exact + "a", STRICT)
    assert caught.value.code is UrlRefusal.URL_TOO_LONG


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Hooks.Example.COM/In?x=1", "https://hooks.example.com/In?x=1"),
        ("https://hooks.example.com", "https://hooks.example.com/"),
        ("https://hooks.example.com:443/x", "https://hooks.example.com/x"),
        ("https://hooks.example.com:8443/x", "https://hooks.example.com:8443/x"),
        ("https://hooks.example.com./x", "https://hooks.example.com/x"),
        ("https://b\u00fccher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://8.8.8.8/x", "https://8.8.8.8/x"),
        ("https://134744072/x", "https://8.8.8.8/x"),
        ("https://[2606:4700:4700:0::1111]/x", "https://[2606:4700:4700::1111]/x"),
        ("https://hooks.example.com/p%20q?a=%2F", "https://hooks.example.com/p%20q?a=%2F"),
    ],
)
def test_canonical_form(url: str, canonical: str) -> None:
    endpoint = check_url(url, STRICT)
    assert endpoint.url == canonical
    assert check_url(endpoint.url, STRICT) == endpoint


async def test_names_resolving_to_private_addresses_are_refused_at_registration() -> None:
    resolver = StaticResolver({"internal.example.com": ["10.0.0.1"]})
    with pytest.raises(UrlRefused) as caught:
        await resolve_endpoint("https://internal.example.com/hook", STRICT, resolver=resolver)
    assert caught.value.code is UrlRefusal.ADDRESS_NOT_ALLOWED
    assert caught.value.address_class is AddressClass.PRIVATE
    allowed = await resolve_endpoint(
        "https://internal.example.com/hook", LOCAL_POLICY, resolver=resolver
    )
    assert allowed.addresses == (ip_address("10.0.0.1"),)


@pytest.mark.parametrize(
    "answers",
    [
        ["93.184.216.34", "10.0.0.1"],
        ["93.184.216.34", "::ffff:127.0.0.1"],
        ["64:ff9b::a9fe:a9fe"],
        ["2002:a00:1::1"],
        ["169.254.169.254"],
        ["not-an-address"],
    ],
)
async def test_every_answer_is_checked(answers: list[str]) -> None:
    resolver = StaticResolver({"mixed.example.com": answers})
    with pytest.raises(UrlRefused) as caught:
        await resolve_endpoint("https://mixed.example.com/", STRICT, resolver=resolver)
    assert caught.value.code is UrlRefusal.ADDRESS_NOT_ALLOWED


async def test_public_answers_are_pinned_in_order_without_duplicates() -> None:
    resolver = StaticResolver(
        {"hooks.example.com": ["93.184.216.34", "2606:2800::1", "93.184.216.34"]}
    )
    target = await resolve_endpoint("https://hooks.example.com/in", STRICT, resolver=resolver)
    assert target.addresses == (ip_address("93.184.216.34"), ip_address("2606:2800::1"))
    assert (target.host, target.port, str(target.url)) == (
        "hooks.example.com",
        443,
        "https://hooks.example.com/in",
    )


async def test_ip_literals_need_no_lookup() -> None:
    resolver = StaticResolver()
    target = await resolve_endpoint("https://8.8.8.8/x", STRICT, resolver=resolver)
    assert target.addresses == (ip_address("8.8.8.8"),)
    assert resolver.lookups == []


async def test_unknown_hosts_and_slow_dns_are_refused_in_bounded_time() -> None:
    with pytest.raises(UrlRefused) as missing:
        await resolve_endpoint("https://nowhere.example.com/", STRICT, resolver=StaticResolver())
    assert missing.value.code is UrlRefusal.HOST_NOT_FOUND
    with pytest.raises(UrlRefused) as empty:
        await resolve_endpoint(
            "https://empty.example.com/", STRICT, resolver=StaticResolver({"empty.example.com": []})
        )
    assert empty.value.code is UrlRefusal.HOST_NOT_FOUND
    slow = StaticResolver({"slow.example.com": ["93.184.216.34"]}, delay=5)
    started = time.monotonic()
    with pytest.raises(UrlRefused) as timed_out:
        await resolve_endpoint("https://slow.example.com/", STRICT, resolver=slow, timeout=0.2)
    assert timed_out.value.code is UrlRefusal.DNS_TIMEOUT
    assert time.monotonic() - started < 1.0


async def test_the_system_resolver_finds_localhost_loopback_and_it_is_refused() -> None:
    with pytest.raises(UrlRefused) as caught:
        await resolve_endpoint(
            EndpointUrl("http://localhost/", "http", "localhost", 80, None),
            HTTP_PUBLIC,
            resolver=SystemResolver(),
        )
    assert caught.value.address_class is AddressClass.LOOPBACK
    target = await resolve_endpoint("http://localhost:9/", LOCAL_POLICY, resolver=SystemResolver())
    assert all(address.is_loopback for address in target.addresses)


_URLISH = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTPS", "ftp", "", "h"]),
    st.text(alphabet="abc019xX.-:[]@%_\u00e9", max_size=30),
    st.sampled_from(["", ":", ":80", ":0", ":99999", ":-1", ":08"]),
    st.text(alphabet="/?#&=a%2 \\", max_size=20),
)


_HOSTS = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}\.?", fullmatch=True),
    st.integers(0, 2**32 - 1).map(str),
    st.integers(0, 2**32 - 1).map(hex),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    st.sampled_from(["localhost", "b\u00fccher.example", "xn--bcher-kva.example", "0177.1"]),
)
_PLAUSIBLE = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    _HOSTS,
    st.sampled_from(["", ":443", ":8080", ":1"]),
    st.from_regex(
        r"(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}){0,3}(\?[A-Za-z0-9=&%]{0,12})?", fullmatch=True
    ),
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), _URLISH, _PLAUSIBLE))
def test_any_string_is_either_a_canonical_url_or_a_documented_refusal(raw: str) -> None:
    codes: list[UrlRefusal] = []
    for policy in (STRICT, LOCAL_POLICY):
        try:
            endpoint = check_url(raw, policy)
        except UrlRefused as refusal:
            codes.append(refusal.code)
            continue
        parsed = httpx.URL(endpoint.url)
        assert parsed.scheme in ("http", "https")
        assert parsed.raw_host.decode() == endpoint.host
        assert (parsed.port or {"http": 80, "https": 443}[parsed.scheme]) == endpoint.port
        assert len(endpoint.url) <= MAX_URL_LENGTH
        assert check_url(endpoint.url, policy) == endpoint
        if endpoint.address is not None and not policy.allow_private_networks:
            assert endpoint.address.is_global
    assert all(isinstance(code, UrlRefusal) for code in codes)
