"""The JSON columns' codec: orjson's speed, the standard library's values."""

from __future__ import annotations

import json

import pytest

from app.core import jsoncodec


@pytest.mark.parametrize("text", ["{}", "[]", b"{}", b"[]"])
def test_empty_containers_are_new_each_time(text):
    first, second = jsoncodec.loads(text), jsoncodec.loads(text)
    assert first == json.loads(text)
    assert type(first) is type(json.loads(text))
    first_container: list | dict = first
    if isinstance(first_container, dict):
        first_container["changed"] = True
    else:
        first_container.append("changed")
    assert second == json.loads(text)  # a row's value is never another row's


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '["shop.example"]',
        '""',
        "12",
        '{"n": 12345678901234567890123}',  # past 64 bits: read exactly
        '["\\ud800"]',  # a lone surrogate: orjson refuses it, json reads it
        '{"amount": 1.5, "nested": {"k": [1, 2, null, true]}}',
    ],
)
def test_values_are_what_the_standard_library_reads(text):
    assert jsoncodec.loads(text) == json.loads(text)
    assert jsoncodec.loads(text.encode()) == json.loads(text)  # as bytes, too


def test_long_integers_keep_every_digit_both_ways():
    value = {"n": 2**70}
    assert jsoncodec.loads(jsoncodec.dumps(value)) == value
