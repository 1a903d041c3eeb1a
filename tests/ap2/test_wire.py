"""Wire primitives: strict JSON (integers told apart), base64url, H(s), and contract dates."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ap2.verification.dates import InvalidDate, clock_instant, parse_instant
from app.ap2.verification.wire import WireError, b64url, digest, load_json, split_jws
from app.keys import b64url_decode


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        (b"19900", 19900, int),
        (b"19900.0", 19900.0, float),
        (b"1.99e4", 19900.0, float),
        (b"1E2", 100.0, float),
        (b"true", True, bool),
        (b"-0", 0, int),
        (b'"19900"', "19900", str),
        (b" [1, 2] ", [1, 2], list),
        (b'{"a": {"b": null}}', {"a": {"b": None}}, dict),
        (b'"\\u00e9\\ud83d\\ude00"', "é😀", str),
    ],
)
def test_json_values_and_their_types(text: bytes, value: object, kind: type) -> None:
    parsed = load_json(text, "x")
    assert parsed == value
    assert type(parsed) is kind


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": 1, "a": 1}',
        b'{"x": {"a": 1, "b": 2, "a": 3}}',
        b'[{"k": 1, "k": 2}]',
        b"NaN",
        b"[Infinity]",
        b"-Infinity",
        b"1e400",
        b"[-1e999]",
        b"9" * 5000,
        b'"\\ud800"',
        b'{"\\udc00": 1}',
        b'"a\\u0000b"',
        b'{"\\u0000": 1}',
        b"\xef\xbb\xbf{}",
        b"\xff",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b'"\x01"',
        b"{} {}",
        b"[1,]",
        b"{'a': 1}",
        b"",
        b"[" * 100_000,
    ],
)
def test_json_refused(text: bytes) -> None:
    with pytest.raises(WireError):
        load_json(text, "x")


def test_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    assert load_json(b'"\\\\u0000"', "x") == "\\u0000"


@given(st.binary(min_size=1, max_size=80))
def test_b64url_matches_the_strict_reference_decoder(data: bytes) -> None:
    text = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64url(text, "x") == data == b64url_decode(text)


@given(st.text(alphabet="ABCabc019-_+/=. é", max_size=12))
def test_b64url_refuses_what_the_reference_refuses(text: str) -> None:
    if not text:
        with pytest.raises(WireError, match="empty"):
            b64url(text, "x")  # an empty segment is never a disclosure nor a JWT part
        return
    try:
        expected = b64url_decode(text)
    except ValueError:
        with pytest.raises(WireError):
            b64url(text, "x")
    else:
        assert b64url(text, "x") == expected


def test_digest_is_unpadded_base64url_sha256() -> None:
    for text in ("", "a", "eyJ~abc~", "x" * 4096):
        expected = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        assert digest(text) == expected.decode()
    assert len(digest("x")) == 43


def test_split_jws() -> None:
    jws = split_jws("eyJhIjoxfQ.e30.", "t")
    assert (jws.header_raw, jws.payload_raw, jws.signature) == (b'{"a":1}', b"{}", b"")
    assert jws.signing_input == b"eyJhIjoxfQ.e30"
    for bad in ("a.b", "a.b.c.d", ".e30.", "e30..", "e30.e30.!"):
        with pytest.raises(WireError):
            split_jws(bad, "t")


# --- dates ---------------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _seconds(moment: datetime) -> Fraction:
    return Fraction((moment - EPOCH) // timedelta(microseconds=1), 10**6)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        ("2026-05-01T12:30:00Z", datetime(2026, 5, 1, 12, 30, tzinfo=UTC)),
        ("2026-05-01T12:30:00+02:00", datetime(2026, 5, 1, 10, 30, tzinfo=UTC)),
        ("2026-05-01T00:30:00-05:30", datetime(2026, 5, 1, 6, 0, tzinfo=UTC)),
        ("2026-05-01T00:00:00-00:00", datetime(2026, 5, 1, tzinfo=UTC)),
        ("2024-02-29T23:59:59.5Z", datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=UTC)),
        ("2026-12-31T23:30:00-01:00", datetime(2027, 1, 1, 0, 30, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_dates_are_instants(text: str, moment: datetime) -> None:
    assert parse_instant(text) == _seconds(moment)


def test_fractions_beyond_microseconds_compare_exactly() -> None:
    assert parse_instant("2026-05-01T00:00:00.0000001Z") > parse_instant("2026-05-01")
    assert parse_instant("2026-05-01T00:00:00.000000Z") == parse_instant("2026-05-01")


@pytest.mark.parametrize(
    "text",
    [
        "2026-5-01",
        "2026-05-01T12:30Z",
        "2026-05-01T12:30:00",
        "2026-05-01 12:30:00Z",
        "2026-05-01t12:30:00z",
        "2026-02-30",
        "2025-02-29",
        "2026-13-01",
        "2026-00-10",
        "0000-01-01",
        "2026-05-01T24:00:00Z",
        "2026-05-01T23:60:00Z",
        "2026-05-01T23:59:60Z",
        "2026-05-01T12:00:00+24:00",
        "2026-05-01T12:00:00+0200",
        "2026-05-01T12:00:00.Z",
        "２０２６-05-01",
        "2026-05-01\n",
        "",
        20260501,
        None,
    ],
)
def test_dates_refused(text: object) -> None:
    with pytest.raises(InvalidDate):
        parse_instant(text)


def test_clock_instant_keeps_microseconds() -> None:
    moment = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=3)))
    assert clock_instant(moment) == parse_instant("2026-05-01T09:00:00.123456Z")
