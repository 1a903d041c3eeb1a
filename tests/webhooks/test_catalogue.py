"""The event catalogue: every type documented, payloads valid against their published schemas."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.webhooks import event_data as d
from app.webhooks.catalogue import (
    CATALOGUE,
    EventError,
    EventErrorCode,
    EventType,
    build_event,
    encode_payload,
    event_schema,
    event_types_document,
    parse_event,
)
from tests.webhooks.samples import AT, ID, SAMPLES

ROOT = Path(__file__).resolve().parents[2]
ISSUE_TYPES = {
    "mandate.created",
    "mandate.verification_failed",
    "mandate.revoked",
    "mandate.expired",
    "mandate.deleted",
    "mandate.restored",
    "mandate.expiring",
    "issuer.suspended",
    "issuer.revoked",
    "issuer.keys_refresh_failed",
    "webhook.disabled",
    "alert.raised",
    "webhook.test",
    "ap2.presentation.approved",
    "ap2.presentation.rejected",
    "ap2.receipt.stored",
    "ap2.open_mandate.revoked",
}
RAW_TOKEN_FIELDS = {"vc_jwt", "sd_jwt", "token", "jwt", "receipt", "secret"}


def test_the_catalogue_has_exactly_the_issue_types_and_a_sample_each() -> None:
    assert {spec.event_type.value for spec in CATALOGUE.values()} == ISSUE_TYPES
    assert set(SAMPLES) == set(EventType)
    for spec in CATALOGUE.values():
        assert isinstance(SAMPLES[spec.event_type], spec.data_model)


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_each_payload_validates_against_its_schema_and_parses_back(event_type: EventType) -> None:
    event = build_event(event_type, SAMPLES[event_type], timestamp=AT)
    schema = event_schema(event_type)
    jsonschema.Draft202012Validator.check_schema(schema)
    document = orjson.loads(event.body)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        document
    )
    assert set(document) == {"type", "timestamp", "data"}
    assert document["type"] == event_type.value
    assert document["timestamp"] == "2026-06-01T12:30:00Z"
    parsed = parse_event(event.body)
    assert (parsed.type, parsed.timestamp, parsed.data) == (event_type, AT, SAMPLES[event_type])


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_a_payload_of_another_type_fails_the_schema(event_type: EventType) -> None:
    other = next(
        t for t in EventType if CATALOGUE[t].data_model is not CATALOGUE[event_type].data_model
    )
    document = orjson.loads(build_event(other, SAMPLES[other], timestamp=AT).body)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, event_schema(event_type))


def test_payloads_are_thin_no_raw_tokens_or_secrets() -> None:
    for event_type in EventType:
        names = _property_names(event_schema(event_type))
        assert not names & RAW_TOKEN_FIELDS, event_type


def test_published_schemas_let_fields_be_added_within_a_version() -> None:
    schema = event_schema(EventType.MANDATE_REVOKED)
    document = orjson.loads(
        build_event(
            EventType.MANDATE_REVOKED, SAMPLES[EventType.MANDATE_REVOKED], timestamp=AT
        ).body
    )
    document["data"]["added_later"] = 1
    document["added_later"] = True
    jsonschema.validate(document, schema)


def test_event_types_document_lists_versions_and_schema_ids() -> None:
    document = event_types_document()
    assert [entry["type"] for entry in document] == [t.value for t in CATALOGUE]
    for entry in document:
        assert entry["version"] == 1
        assert entry["schema"]["$id"] == f"urn:mandate-vault:webhook-event:{entry['type']}:v1"
        assert entry["description"]
    document[0]["schema"]["title"] = "changed"
    assert event_types_document()[0]["schema"]["title"] != "changed"  # callers get copies
    json.dumps(document)


def test_payload_bytes_are_the_same_after_a_jsonb_style_round_trip() -> None:
    event = build_event(EventType.MANDATE_CREATED, SAMPLES[EventType.MANDATE_CREATED], timestamp=AT)
    reordered = json.loads(json.dumps(event.payload))
    shuffled = {key: reordered[key] for key in reversed(list(reordered))}
    shuffled["data"] = {
        key: shuffled["data"][key] for key in sorted(shuffled["data"], reverse=True)
    }
    assert encode_payload(shuffled) == event.body


def test_event_ids_and_message_ids() -> None:
    given_id = uuid.uuid4()
    event = build_event(
        EventType.WEBHOOK_TEST, d.WebhookTest(webhook_id=ID), timestamp=AT, event_id=given_id
    )
    assert event.id == given_id
    assert event.message_id == f"msg_{given_id.hex}"
    other = build_event(EventType.WEBHOOK_TEST, d.WebhookTest(webhook_id=ID), timestamp=AT)
    assert other.id != given_id


def test_timestamps_are_stored_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = build_event(
        EventType.MANDATE_EXPIRED,
        d.MandateExpired(mandate_id=ID, expires_at=datetime(2026, 6, 1, 14, 30, tzinfo=plus_two)),
        timestamp=datetime(2026, 6, 1, 14, 30, tzinfo=plus_two),
    )
    assert event.payload["timestamp"] == "2026-06-01T12:30:00Z"
    assert event.payload["data"]["expires_at"] == "2026-06-01T12:30:00Z"


def test_build_refuses_the_wrong_model_unknown_types_and_naive_times() -> None:
    with pytest.raises(EventError) as mismatch:
        build_event(EventType.MANDATE_CREATED, SAMPLES[EventType.MANDATE_REVOKED], timestamp=AT)
    assert mismatch.value.code is EventErrorCode.DATA_MISMATCH
    with pytest.raises(EventError) as unknown:
        build_event("mandate.exploded", SAMPLES[EventType.MANDATE_REVOKED], timestamp=AT)
    assert unknown.value.code is EventErrorCode.UNKNOWN_TYPE
    with pytest.raises(EventError) as naive:
        build_event(
            EventType.WEBHOOK_TEST, SAMPLES[EventType.WEBHOOK_TEST], timestamp=datetime(2026, 1, 1)
        )
    assert naive.value.code is EventErrorCode.INVALID_PAYLOAD


@pytest.mark.parametrize(
    "values",
    [
        {"mandate_id": "not-a-uuid", "expires_at": AT},
        {"mandate_id": ID, "expires_at": datetime(2026, 1, 1)},
        {"mandate_id": ID, "expires_at": AT, "vc_jwt": "eyJ..."},
    ],
)
def test_data_models_refuse_bad_values_and_unknown_fields(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        d.MandateExpired(**values)


def test_amounts_are_decimal_strings_and_never_nan() -> None:
    sample = SAMPLES[EventType.MANDATE_CREATED]
    assert (
        build_event(EventType.MANDATE_CREATED, sample, timestamp=AT).payload["data"]["amount_limit"]
        == "250.00"
    )
    with pytest.raises(ValidationError):
        d.MandateCreated(**{**sample.model_dump(), "amount_limit": "NaN"})


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_are_refused_with_event_error_only(body: bytes) -> None:
    with pytest.raises(EventError):
        parse_event(body)


def test_parse_event_refuses_unknown_types_and_bad_data() -> None:
    with pytest.raises(EventError) as unknown:
        parse_event(b'{"type":"x.y","timestamp":"2026-01-01T00:00:00Z","data":{}}')
    assert unknown.value.code is EventErrorCode.UNKNOWN_TYPE
    with pytest.raises(EventError) as bad:
        parse_event(b'{"type":"webhook.test","timestamp":"2026-01-01T00:00:00Z","data":{}}')
    assert bad.value.code is EventErrorCode.INVALID_PAYLOAD


def test_docs_describe_every_event_type_with_its_fields() -> None:
    text = (ROOT / "docs" / "webhooks.md").read_text()
    for event_type in EventType:
        row = next(
            (line for line in text.splitlines() if line.startswith(f"| `{event_type.value}`")), None
        )
        assert row is not None, f"docs/webhooks.md has no table row for {event_type.value}"
        fields = set(CATALOGUE[event_type].data_model.model_fields)
        documented = set(re.findall(r"`([a-z_0-9]+)`", row))
        assert fields <= documented, (event_type.value, fields - documented)


def _property_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                names |= set(value)
            names |= _property_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= _property_names(item)
    return names


def test_the_payload_verification_codes_are_the_engines() -> None:
    from typing import get_args

    from app.mandates.verification import Code
    from app.webhooks import event_data

    assert set(get_args(event_data.Code)) == {code.value for code in Code}
