"""The fast canonical encoder equals rfc8785 byte for byte, or both refuse."""

from __future__ import annotations

import enum
import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.canonical import MAX_DEPTH, CanonicalFormError, canonical_json
from app.audit.chain import (
    PLATFORM_CHAIN,
    AuditRow,
    UnhashableRow,
    chain_id_for,
    check_entry,
    entry_hash,
    format_time,
    genesis_hash,
    record_hash,
    row_record,
)

# Every code point, lone surrogates included, and the places where orderings differ.
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)
tricky_char = st.sampled_from(
    [
        "a",
        "B",
        "\x00",
        "\x1f",
        "\x7f",
        '"',
        "\\",
        "é",
        "\u2028",
        "\ue000",
        "\uffff",
        "😀",
        "\U0010ffff",
    ]
)
text = st.text(st.one_of(any_char, tricky_char), max_size=12)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.integers(min_value=-(2**53) - 2, max_value=2**53 + 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([0.0, -0.0, 1.0, 1e16, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 0.1]),
    text,
)
json_value = st.recursive(
    scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(text, children, max_size=5),
    ),
    max_leaves=30,
)


def _reference(value: object) -> bytes | None:
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        # rfc8785 lets a lone surrogate in a key out as UnicodeEncodeError when it sorts.
        return None


def _ours(value: object) -> bytes | None:
    try:
        return canonical_json(value)
    except CanonicalFormError:
        return None


@settings(max_examples=1500, deadline=None)
@given(json_value)
def test_equals_rfc8785_on_json_values(value: object) -> None:
    assert _ours(value) == _reference(value)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(st.sampled_from("aB\ue000😀é_"), max_size=3), st.integers(0, 9)))
def test_key_order_is_utf16_even_beyond_the_bmp(value: dict[str, int]) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    "value",
    [
        {"colour": Colour.RED},
        {"level": Level.HIGH},
        (1, "two", [3.5]),
        {"a": {"b": [1e16, -0.0, 1.0]}},
        {"é": 1, "e": 2, "😀": 3, "\ue000": 4},
    ],
)
def test_subclasses_floats_and_non_ascii_keys_take_the_reference_path(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        {"x": float("inf")},
        2**53,
        -(2**53),
        {"s": "\ud800"},
        {1: "not a string key"},
        # orjson would write these; RFC 8785 has no encoding for them.
        {"when": datetime(2026, 1, 1, tzinfo=UTC)},
        {"id": uuid.uuid4()},
        {"amount": Decimal("1.10")},
        {"raw": b"bytes"},
        {1.5},
    ],
)
def test_values_without_an_encoding_are_refused(value: object) -> None:
    with pytest.raises(CanonicalFormError):
        canonical_json(value)


def test_nesting_is_bounded() -> None:
    value: object = "leaf"
    for _ in range(MAX_DEPTH):
        value = [value]
    canonical_json(value)
    with pytest.raises(CanonicalFormError, match="nested"):
        canonical_json([value])


# --- row records ---------------------------------------------------------------------------

CHAIN = "5b1a5c4e-7d0e-4f57-9d7e-2d3c0f7b9a11"


def _row(**overrides: object) -> AuditRow:
    values: dict[str, object] = {
        "chain_id": CHAIN,
        "seq": 1,
        "timestamp": datetime(2026, 3, 1, 9, 30, 15, 120000, tzinfo=UTC),
        "actor_type": "api_key",
        "actor_id": "k-1",
        "actor_role": "customer_admin",
        "action": "mandate.created",
        "resource_type": "mandate",
        "resource_id": "m-1",
        "outcome": "VALID",
        "request_id": "req-1",
        "ip_address": "203.0.113.9",
        "details": {"issuer_did": "did:web:bank.example", "n": 3},
    }
    values.update(overrides)
    return AuditRow(**values)  # type: ignore[arg-type]


def test_row_record_has_the_documented_members() -> None:
    record = row_record(_row(), 7, "ab" * 32)
    assert record == {
        "v": 1,
        "chain": CHAIN,
        "seq": 7,
        "time": "2026-03-01T09:30:15.120000Z",
        "actor_type": "api_key",
        "actor_id": "k-1",
        "actor_role": "customer_admin",
        "action": "mandate.created",
        "resource_type": "mandate",
        "resource_id": "m-1",
        "outcome": "VALID",
        "request_id": "req-1",
        "ip_address": "203.0.113.9",
        "details": {"issuer_did": "did:web:bank.example", "n": 3},
        "prev_hash": "ab" * 32,
    }
    expected = hashlib.sha256(rfc8785.dumps(record)).hexdigest()
    assert entry_hash(_row(), 7, "ab" * 32) == expected == record_hash(record)


detail_values = st.dictionaries(text, json_value, max_size=4)


@settings(max_examples=800, deadline=None)
@given(
    details=st.one_of(detail_values, json_value),
    actor_id=st.one_of(st.none(), text),
    seq=st.integers(min_value=1, max_value=2**53 - 1),
    micro=st.integers(min_value=0, max_value=999_999),
)
def test_entry_hash_equals_sha256_of_rfc8785(
    details: object, actor_id: str | None, seq: int, micro: int
) -> None:
    row = _row(
        details=details,
        actor_id=actor_id,
        timestamp=datetime(2026, 1, 1, microsecond=micro, tzinfo=UTC),
    )
    record = row_record(row, seq, "00" * 32)
    reference = _reference(record)
    if reference is None:
        with pytest.raises(UnhashableRow):
            entry_hash(row, seq, "00" * 32)
    else:
        assert entry_hash(row, seq, "00" * 32) == hashlib.sha256(reference).hexdigest()


def test_time_has_one_textual_form() -> None:
    assert format_time(datetime(2026, 3, 1, 9, 0, tzinfo=UTC)) == "2026-03-01T09:00:00.000000Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 3, 1, 11, 0, 0, 5, tzinfo=plus_two)) == (
        "2026-03-01T09:00:00.000005Z"
    )
    assert format_time(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"
    with pytest.raises(UnhashableRow, match="time zone"):
        format_time(datetime(2026, 3, 1))
    with pytest.raises(UnhashableRow):
        format_time("2026-03-01T09:00:00Z")  # type: ignore[arg-type]


def test_the_same_moment_in_two_zones_hashes_the_same() -> None:
    utc = _row(timestamp=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    local = _row(timestamp=datetime(2026, 3, 1, 4, 0, tzinfo=timezone(timedelta(hours=-5))))
    assert entry_hash(utc, 1, "") == entry_hash(local, 1, "")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"actor_id": uuid.uuid4()}, "actor_id"),
        ({"resource_id": 12}, "resource_id"),
        ({"action": None}, "action"),
        ({"chain_id": uuid.UUID(CHAIN)}, "chain"),
        ({"timestamp": datetime(2026, 1, 1)}, "time zone"),
        ({"details": {"x": float("nan")}}, "NaN"),
        ({"details": {"big": 2**60}}, "safe range"),
        ({"details": {"when": datetime(2026, 1, 1, tzinfo=UTC)}}, "not a JSON value"),
    ],
)
def test_rows_that_cannot_be_hashed_are_refused_before_insert(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(UnhashableRow, match=message):
        check_entry(_row(**overrides))


def test_seq_and_prev_hash_are_checked() -> None:
    for seq in (0, -1, 2**53, True, 1.0):
        with pytest.raises(UnhashableRow, match="seq"):
            entry_hash(_row(), seq, "")  # type: ignore[arg-type]
    with pytest.raises(UnhashableRow, match="prev_hash"):
        entry_hash(_row(), 1, None)  # type: ignore[arg-type]


def test_chains_have_their_own_genesis() -> None:
    tenant = uuid.uuid4()
    assert chain_id_for(tenant) == str(tenant) == chain_id_for(str(tenant).upper())
    assert chain_id_for(None) == PLATFORM_CHAIN
    assert genesis_hash(str(tenant)) != genesis_hash(PLATFORM_CHAIN)
    assert len(genesis_hash(PLATFORM_CHAIN)) == 64
    with pytest.raises(ValueError, match="UUID"):
        chain_id_for("not-a-uuid")
