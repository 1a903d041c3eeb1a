"""JSONBody: orjson's rendering of a dict answer, the standard encoder where orjson refuses."""

from __future__ import annotations

import json

from app.web.responses import JSONBody


def _standard(content: object) -> bytes:
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def test_the_same_bytes_as_the_standard_encoder_for_an_answer():
    content = {
        "id": "0b9c7c7e-2b7e-4e55-9d8e-2f7d1f0f5a11",
        "amount_limit": "100.00",
        "merchants": ["shop", "café ☕"],
        "labels": {"team": "α"},
        "details": {"nested": [1, None, True, False, 2.5], "line\u2028sep": "</script>"},
        "retention_days": 30,
    }
    response = JSONBody(content, status_code=201)
    assert response.body == _standard(content)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"


def test_an_integer_past_64_bits_goes_through_the_standard_encoder():
    content = {"big": 2**70, "small": -(2**63)}
    assert JSONBody(content).body == b'{"big":1180591620717411303424,"small":-9223372036854775808}'


def test_a_float_keeps_its_value():
    content = {"tiny": 1e-7, "large": 1.5e300, "plain": 0.1}
    assert json.loads(JSONBody(content).body) == content
