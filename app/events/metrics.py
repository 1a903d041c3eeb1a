"""Prometheus metrics of event delivery.

Queue depth and the oldest pending age are read from the database when the
metrics are scraped (`app.events.repository.queue_stats`), not kept here.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from app.core.metrics import REGISTRY

EVENTS_EMITTED = Counter(
    "mandate_vault_webhook_events",
    "Events written to the outbox, by type (with or without subscribed endpoints).",
    ["type"],
    registry=REGISTRY,
)
DELIVERY_ATTEMPTS = Counter(
    "mandate_vault_webhook_attempts",
    "Webhook delivery attempts, by outcome (success, http_error, gone, throttled, timeout...).",
    ["outcome"],
    registry=REGISTRY,
)
DELIVERIES_FINISHED = Counter(
    "mandate_vault_webhook_deliveries",
    "Deliveries that reached a verdict: delivered, retry, give_up, disable_endpoint.",
    ["verdict"],
    registry=REGISTRY,
)
ATTEMPT_SECONDS = Histogram(
    "mandate_vault_webhook_attempt_seconds",
    "Time of one delivery attempt (DNS, connect, send, read the excerpt).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
    registry=REGISTRY,
)
