"""Rendering answers: JSONBody (orjson, the standard encoder where orjson refuses) and
values_json (orjson from the values a plain model would hold, the same bytes as
pydantic; pydantic for the rest)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, computed_field, field_serializer

from app.mandates.schemas import MandatePage, MandateRead
from app.mandates.service import read_values
from app.web.responses import JSONBody, plain, values_json


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


# --- values_json: the same bytes as pydantic writes the model ---------------------------------

_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)
_TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none() | _ZONES
)
_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


_NOW = datetime(2026, 12, 4, tzinfo=UTC)


class _DriverUUID(uuid.UUID):
    """As asyncpg returns a uuid column: a subclass, which orjson does not write."""


def _mandate(details: dict, times: list[datetime], labels: dict[str, str]) -> MandateRead:
    row = _row(details, times, labels)
    return MandateRead.model_validate(read_values(row, _NOW, receipts=[details]))


@settings(max_examples=300, deadline=None)
@given(
    details=st.dictionaries(_TEXT, _JSON, max_size=5),
    times=st.lists(_TIMES, min_size=3, max_size=3),
    labels=st.dictionaries(_TEXT, _TEXT, max_size=3),
)
def test_a_mandate_page_is_written_as_pydantic_writes_it(details, times, labels):
    page = MandatePage(items=[_mandate(details, times, labels)] * 2, next_cursor="c")
    assert type(page.items[0].id) is _DriverUUID
    written = values_json(page.model_dump(), MandatePage)
    assert written.body == MandatePage.__pydantic_serializer__.to_json(page)
    one = page.items[0]
    assert values_json(dict(one), MandateRead).body == MandateRead.__pydantic_serializer__.to_json(
        one
    )


class _Aliased(BaseModel):
    value: int = Field(serialization_alias="shown")


class _Computed(BaseModel):
    value: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def double(self) -> int:
        return self.value * 2


class _Serialized(BaseModel):
    value: int

    @field_serializer("value")
    def _text(self, value: int) -> str:
        return f"#{value}"


class _Hidden(BaseModel):
    value: int
    secret: str = Field(exclude=True)


class _Money(BaseModel):
    amount: Decimal
    inner: _Aliased


def test_models_pydantic_writes_otherwise_go_through_pydantic():
    assert plain(MandateRead)
    assert plain(MandatePage)
    cases = [
        _Aliased(value=1),
        _Computed(value=2),
        _Serialized(value=3),
        _Hidden(value=4, secret="s"),
        _Money(amount=Decimal("1.10"), inner=_Aliased(value=5)),
    ]
    for model in cases:
        assert not plain(type(model))  # _Money: its nested model is not plain
        written = values_json(dict(model), type(model))
        assert written.body == type(model).__pydantic_serializer__.to_json(model)
    assert values_json(dict(cases[1]), _Computed).body == b'{"value":2,"double":4}'
    assert values_json(dict(cases[2]), _Serialized).body == b'{"value":"#3"}'
    assert values_json(dict(cases[3]), _Hidden).body == b'{"value":4}'
    assert values_json({"value": 2}, _Nested).body == b'{"value":2,"inner":null}'
    nested = {"value": 2, "inner": [{"value": 3}]}
    assert values_json(nested, _Nested).body == b'{"value":2,"inner":[{"value":3,"double":6}]}'
    money = {"amount": Decimal("1.10"), "inner": {"value": 5}}
    assert values_json(money, _Money).body == b'{"amount":"1.10","inner":{"value":5}}'


class _Nested(BaseModel):
    """Plain itself, holding a model that is not."""

    value: int
    inner: list[_Computed] | None = None


# --- values_json: a model's JSON from the values it would hold --------------------------------


def _row(details: dict, times: list[datetime], labels: dict[str, str], **extra) -> SimpleNamespace:
    """A stored mandate read by attribute, as the driver's rows give it."""
    return SimpleNamespace(
        id=_DriverUUID(int=uuid.uuid4().int),
        mandate_type="intent",
        issuer_did="did:web:issuer.example",
        subject_did="did:example:agent",
        jti=None,
        scope="payments:recurring",
        amount_limit=Decimal("100.5"),
        currency="EUR",
        merchants=["shop", "café"],
        labels=labels,
        details=details,
        issued_at=times[0],
        not_before=None,
        expires_at=times[1],
        # Revoked: the times may be naive, and an active mandate's expiry is compared.
        status="revoked",
        verification_status="VALID",
        verification_reason=None,
        verified_at=times[2],
        retention_days=30,
        revoked_at=times[2],
        revocation_reason="lost",
        deleted_at=None,
        created_at=times[0],
        updated_at=times[2],
        vc_jwt="eyJ.token.sig",
        **extra,
    )


@settings(max_examples=300, deadline=None)
@given(
    details=st.dictionaries(_TEXT, _JSON, max_size=5),
    times=st.lists(_TIMES, min_size=3, max_size=3),
    labels=st.dictionaries(_TEXT, _TEXT, max_size=3),
    token=st.booleans(),
)
def test_a_mandate_page_of_values_is_written_as_pydantic_writes_its_model(
    details, times, labels, token
):
    v01 = read_values(_row(details, times, labels), _NOW, include_token=token)
    v02 = read_values(
        _row(details, times, labels, format="ap2-v0.2", amount_minor=1999, reference="r"),
        _NOW,
        include_token=token,
        receipts=[details],
    )
    assert list(v01) == list(MandateRead.model_fields)
    page = {"items": [v01, v02], "next_cursor": "c", "prev_cursor": None}
    model = MandatePage.model_validate(page)
    assert values_json(page, MandatePage).body == MandatePage.__pydantic_serializer__.to_json(model)
    for values, one in zip((v01, v02), model.items, strict=True):
        assert values_json(values, MandateRead).body == one.model_dump_json().encode()


def test_values_json_answers_with_its_status():
    response = values_json({"value": 2}, _Computed, status_code=201)
    assert (response.status_code, response.headers["content-type"]) == (201, "application/json")
