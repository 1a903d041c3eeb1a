"""Signatures: our headers verify with the `standardwebhooks` library, and ours refuses forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.webhooks.signing import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SignatureErrorCode,
    SigningKey,
    WebhookSignatureError,
    message_id_for,
    new_secret,
    parse_secret,
    sign,
    unix_now,
    verify,
    webhook_headers,
)

BODY = b'{"data":{"mandate_id":"m1"},"timestamp":"2026-01-01T00:00:00Z","type":"mandate.created"}'


def headers_for(body: bytes, *secrets: str, timestamp: int | None = None) -> dict[str, str]:
    keys = [SigningKey.from_secret(secret) for secret in secrets]
    return webhook_headers("msg_abc123", timestamp or unix_now(), body, keys)


def test_new_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_one_secret_verifies_with_the_standard_library() -> None:
    secret = new_secret()
    headers = headers_for(BODY, secret)
    assert set(headers) == {HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE}
    assert headers[HEADER_SIGNATURE].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers) == {
        "data": {"mandate_id": "m1"},
        "timestamp": "2026-01-01T00:00:00Z",
        "type": "mandate.created",
    }


def test_during_rotation_either_secret_verifies_with_the_standard_library() -> None:
    old, new = new_secret(), new_secret()
    headers = headers_for(BODY, new, old)
    assert len(headers[HEADER_SIGNATURE].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),
        lambda h, b: (h, b.replace(b"m1", b"m2")),
        lambda h, b: ({**h, HEADER_ID: "msg_other"}, b),
        lambda h, b: ({**h, HEADER_TIMESTAMP: str(int(h[HEADER_TIMESTAMP]) + 1)}, b),
    ],
    ids=["body-appended", "body-changed", "id-changed", "timestamp-changed"],
)
def test_tampering_is_refused_by_both_verifiers(tamper) -> None:
    secret = new_secret()
    headers, body = tamper(headers_for(BODY, secret), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookSignatureError) as caught:
        verify(headers, body, [secret])
    assert caught.value.code is SignatureErrorCode.NO_MATCHING_SIGNATURE


def test_our_verifier_accepts_what_the_standard_library_signs() -> None:
    secret = new_secret()
    now = datetime.now(UTC).replace(microsecond=0)
    signature = Webhook(secret).sign("msg_lib", now, BODY.decode())
    headers = {
        "Webhook-Id": "msg_lib",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": f"v1a,garbage {signature}",
    }
    verified = verify(headers, BODY, [new_secret(), secret])
    assert verified.message_id == "msg_lib"
    assert verified.timestamp == now


def test_timestamp_tolerance_both_ways() -> None:
    secret = new_secret()
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    stamp = int(now.timestamp())
    headers = headers_for(BODY, secret, timestamp=stamp)
    assert (
        verify(headers, BODY, [secret], now=now + timedelta(minutes=4)).message_id == "msg_abc123"
    )
    with pytest.raises(WebhookSignatureError) as old:
        verify(headers, BODY, [secret], now=now + timedelta(minutes=6))
    assert old.value.code is SignatureErrorCode.TIMESTAMP_TOO_OLD
    with pytest.raises(WebhookSignatureError) as future:
        verify(headers, BODY, [secret], now=now - timedelta(minutes=6))
    assert future.value.code is SignatureErrorCode.TIMESTAMP_TOO_NEW


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, SignatureErrorCode.MISSING_HEADERS),
        ({HEADER_ID: "m", HEADER_TIMESTAMP: "1"}, SignatureErrorCode.MISSING_HEADERS),
        (
            {HEADER_ID: "m", HEADER_TIMESTAMP: "12.5", HEADER_SIGNATURE: "v1,AA=="},
            SignatureErrorCode.INVALID_TIMESTAMP,
        ),
        (
            {HEADER_ID: "m", HEADER_TIMESTAMP: "9" * 400, HEADER_SIGNATURE: "v1,AA=="},
            SignatureErrorCode.INVALID_TIMESTAMP,
        ),
        (
            {HEADER_ID: "m", HEADER_TIMESTAMP: "-5", HEADER_SIGNATURE: "v1,AA=="},
            SignatureErrorCode.INVALID_TIMESTAMP,
        ),
    ],
)
def test_malformed_headers_have_codes(headers, code) -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        verify(headers, BODY, [new_secret()])
    assert caught.value.code is code


@given(
    signature=st.text(max_size=300),
    timestamp=st.text(max_size=20),
    message_id=st.text(max_size=40),
    body=st.binary(max_size=200),
)
def test_hostile_headers_only_ever_raise_the_documented_error(
    signature: str, timestamp: str, message_id: str, body: bytes
) -> None:
    headers = {HEADER_ID: message_id, HEADER_TIMESTAMP: timestamp, HEADER_SIGNATURE: signature}
    with pytest.raises(WebhookSignatureError):
        verify(headers, body, [new_secret()])


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "whsec_",
        "abc",
        "whsec_!!!!",
        "whsec_" + base64.b64encode(b"k" * 23).decode(),
        "whsec_" + base64.b64encode(b"k" * 65).decode(),
        "whsec_" + base64.b64encode(b"k" * 32).decode() + "\n",
        "whsec_é",
    ],
)
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        parse_secret(secret)
    assert caught.value.code is SignatureErrorCode.INVALID_SECRET


def test_a_svix_style_24_byte_secret_is_accepted() -> None:
    secret = "whsec_" + base64.b64encode(b"s" * 24).decode()
    key = SigningKey.from_secret(secret)
    headers = webhook_headers("msg_1", unix_now(), BODY, [key])
    Webhook(secret).verify(BODY, headers)


def test_message_ids_are_stable_and_dotless() -> None:
    event_id = uuid.uuid4()
    assert message_id_for(event_id) == message_id_for(event_id) == f"msg_{event_id.hex}"
    key = SigningKey.from_secret(new_secret())
    for bad in ("", "a.b", "x" * 256, "msg 1"):
        with pytest.raises(WebhookSignatureError) as caught:
            webhook_headers(bad, 1, BODY, [key])
        assert caught.value.code is SignatureErrorCode.INVALID_MESSAGE_ID
    with pytest.raises(WebhookSignatureError):
        webhook_headers("msg_1", 1, BODY, [])


def test_the_signature_is_hmac_sha256_over_id_timestamp_body() -> None:
    key_bytes = b"\x01" * 32
    key = SigningKey(key_bytes)
    expected = hmac.new(key_bytes, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    assert sign(key, "msg_1", 1700000000, BODY) == "v1," + base64.b64encode(expected).decode()
    assert repr(key_bytes) not in repr(key)  # keys stay out of logs and tracebacks


def test_the_by_hand_verifier_in_the_docs_works() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    snippet = next(
        block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify" in block
    )
    namespace: dict[str, object] = {}
    exec(snippet, namespace)  # the receiver example exactly as documented
    documented_verify = namespace["verify"]
    secret, other = new_secret(), new_secret()
    headers = headers_for(BODY, other, secret)
    assert documented_verify(secret, headers, BODY) is True
    assert documented_verify(new_secret(), headers, BODY) is False
    assert documented_verify(secret, headers, BODY + b" ") is False
