"""The pure core of webhook delivery (Standard Webhooks): no database, no routes.

signing     secrets, the three headers, a verifier for our own tools
rotation    sealed secrets at rest and their rotation window
event_data  the versioned `data` model of each event type
catalogue   the event types, the envelope, payload bytes, JSON Schemas
addresses   address classes (SSRF) and the numeric IPv4 forms parsers accept
urls        registration checks and the canonical URL to store
resolve     bounded DNS with every answer checked: a PinnedTarget
transport   an httpx client that connects only to pinned addresses
attempt     one attempt, never raising for the network: an AttemptResult
retry       schedule, jitter, Retry-After, give up, disable: pure decisions
"""

from app.webhooks.attempt import AttemptLimits, attempt_delivery, classify_status, send_attempt
from app.webhooks.catalogue import (
    CATALOGUE,
    Event,
    EventError,
    EventSpec,
    EventType,
    build_event,
    encode_payload,
    event_schema,
    event_types_document,
    parse_event,
)
from app.webhooks.resolve import PinnedTarget, Resolver, SystemResolver, resolve_endpoint
from app.webhooks.results import AttemptOutcome, AttemptResult
from app.webhooks.retry import (
    Decision,
    DisableReason,
    EndpointHealth,
    RetryPolicy,
    Verdict,
    decide,
    parse_retry_after,
    record_outcome,
)
from app.webhooks.rotation import StoredSecrets, issue_secrets, rotate_secrets, signing_keys
from app.webhooks.signing import (
    SigningKey,
    WebhookSignatureError,
    message_id_for,
    new_secret,
    verify,
    webhook_headers,
)
from app.webhooks.transport import build_delivery_client
from app.webhooks.urls import EndpointUrl, UrlPolicy, UrlRefusal, UrlRefused, check_url

__all__ = [
    "CATALOGUE",
    "AttemptLimits",
    "AttemptOutcome",
    "AttemptResult",
    "Decision",
    "DisableReason",
    "EndpointHealth",
    "EndpointUrl",
    "Event",
    "EventError",
    "EventSpec",
    "EventType",
    "PinnedTarget",
    "Resolver",
    "RetryPolicy",
    "SigningKey",
    "StoredSecrets",
    "SystemResolver",
    "UrlPolicy",
    "UrlRefusal",
    "UrlRefused",
    "Verdict",
    "WebhookSignatureError",
    "attempt_delivery",
    "build_delivery_client",
    "build_event",
    "check_url",
    "classify_status",
    "decide",
    "encode_payload",
    "event_schema",
    "event_types_document",
    "issue_secrets",
    "message_id_for",
    "new_secret",
    "parse_event",
    "parse_retry_after",
    "record_outcome",
    "resolve_endpoint",
    "rotate_secrets",
    "send_attempt",
    "signing_keys",
    "verify",
    "webhook_headers",
]
