"""Standard Webhooks signatures: secrets, the three headers, and a verifier for our tools.

A message is signed with HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`
and the header carries `v1,<base64 digest>`; several secrets (a rotation window)
give several space-separated signatures, any of which a receiver may accept.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
SECRET_BYTES = 32
# The spec allows 24 to 64 bytes of key; tenants may bring their own within that range.
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
DEFAULT_TOLERANCE = timedelta(minutes=5)

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

# Message ids never contain a dot, so `id.timestamp.body` has one reading.
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_MAX_SIGNATURE_HEADER = 4096


class SignatureErrorCode(StrEnum):
    INVALID_SECRET = "invalid_secret"
    INVALID_MESSAGE_ID = "invalid_message_id"
    MISSING_HEADERS = "missing_headers"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    TIMESTAMP_TOO_NEW = "timestamp_too_new"
    NO_MATCHING_SIGNATURE = "no_matching_signature"


class WebhookSignatureError(Exception):
    """A secret, message id or signed message that does not pass; `code` is stable."""

    def __init__(self, code: SignatureErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A `whsec_` secret decoded once, ready to sign many messages."""

    key: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str) -> SigningKey:
        return cls(parse_secret(secret))


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """What a good signature vouches for."""

    message_id: str
    timestamp: datetime


def new_secret() -> str:
    """A fresh random signing secret, `whsec_` + base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def parse_secret(secret: str) -> bytes:
    """The key bytes of a `whsec_` secret; raises WebhookSignatureError(INVALID_SECRET)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise WebhookSignatureError(
            SignatureErrorCode.INVALID_SECRET, f"a signing secret starts with {SECRET_PREFIX}"
        )
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise WebhookSignatureError(
            SignatureErrorCode.INVALID_SECRET, "a signing secret is whsec_ + standard base64"
        ) from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise WebhookSignatureError(
            SignatureErrorCode.INVALID_SECRET,
            f"a signing secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes of key",
        )
    return key


def message_id_for(event_id: uuid.UUID) -> str:
    """The `webhook-id` of an event: stable across retries, so receivers can dedupe."""
    return f"msg_{event_id.hex}"


def check_message_id(message_id: str) -> str:
    """The id itself, or WebhookSignatureError(INVALID_MESSAGE_ID)."""
    if not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id):
        raise WebhookSignatureError(
            SignatureErrorCode.INVALID_MESSAGE_ID,
            "a message id is 1 to 255 characters of A-Z a-z 0-9 _ -",
        )
    return message_id


def sign(key: SigningKey, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of the message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.digest(key.key, signed, "sha256")
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def webhook_headers(
    message_id: str, timestamp: int, body: bytes, keys: Sequence[SigningKey]
) -> dict[str, str]:
    """The three Standard Webhooks headers, one signature per key (current key first)."""
    if not keys:
        raise WebhookSignatureError(SignatureErrorCode.INVALID_SECRET, "no signing key given")
    check_message_id(message_id)
    return {
        HEADER_ID: message_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: " ".join(sign(key, message_id, timestamp, body) for key in keys),
    }


def unix_now() -> int:
    """The current time as whole UNIX seconds, the unit of `webhook-timestamp`."""
    return int(time.time())


def verify(
    headers: Mapping[str, str],
    body: bytes,
    keys: Sequence[SigningKey | str],
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> VerifiedMessage:
    """Check a received message against any of `keys`; raises WebhookSignatureError."""
    prepared = [key if isinstance(key, SigningKey) else SigningKey.from_secret(key) for key in keys]
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get(HEADER_ID)
    timestamp_text = lowered.get(HEADER_TIMESTAMP)
    signatures = lowered.get(HEADER_SIGNATURE)
    if not (message_id and timestamp_text and signatures):
        raise WebhookSignatureError(
            SignatureErrorCode.MISSING_HEADERS,
            f"{HEADER_ID}, {HEADER_TIMESTAMP} and {HEADER_SIGNATURE} are all required",
        )
    if not (timestamp_text.isascii() and timestamp_text.isdigit() and len(timestamp_text) <= 12):
        raise WebhookSignatureError(
            SignatureErrorCode.INVALID_TIMESTAMP, f"{HEADER_TIMESTAMP} is not UNIX seconds"
        )
    timestamp = int(timestamp_text)
    current = (now or datetime.now(UTC)).timestamp()
    if timestamp < current - tolerance.total_seconds():
        raise WebhookSignatureError(SignatureErrorCode.TIMESTAMP_TOO_OLD, "message is too old")
    if timestamp > current + tolerance.total_seconds():
        raise WebhookSignatureError(
            SignatureErrorCode.TIMESTAMP_TOO_NEW, "message is from the future"
        )
    offered = _offered_digests(signatures)
    signed = f"{message_id}.{timestamp_text}.".encode() + body
    for key in prepared:
        expected = hmac.digest(key.key, signed, "sha256")
        # Compare against every offered digest so timing says nothing of which matched.
        if any(hmac.compare_digest(expected, digest) for digest in offered):
            return VerifiedMessage(message_id, datetime.fromtimestamp(timestamp, UTC))
    raise WebhookSignatureError(
        SignatureErrorCode.NO_MATCHING_SIGNATURE, "no signature matches any of the secrets"
    )


def _offered_digests(header: str) -> list[bytes]:
    digests: list[bytes] = []
    for item in header[:_MAX_SIGNATURE_HEADER].split():
        version, _, encoded = item.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            digests.append(base64.b64decode(encoded.encode("ascii"), validate=True))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            continue
    return digests
