"""Prometheus metrics of event delivery.

Queue depth and the oldest pending age are read from the database when the
metrics are scraped (`app.events.repository.queue_stats`), not kept here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.core.clock import Clock
from app.core.database import Database
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


class QueueCollector(Collector):
    """Deliveries waiting and the age of the oldest due one, read when scraped."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self.figures: tuple[int, float] | None = None

    async def refresh(self) -> None:
        from app.events.repository import queue_stats

        async def read() -> tuple[int, float]:
            async with self.database.sessions() as session:
                return await queue_stats(session, self.clock.now())

        try:
            self.figures = await asyncio.wait_for(read(), self.database.settings.readiness_timeout)
        except Exception:  # an unreachable database leaves the gauges out, never the scrape
            self.figures = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.figures is None:
            return
        waiting, age = self.figures
        depth = GaugeMetricFamily(
            "mandate_vault_webhook_queue_depth",
            "Webhook deliveries pending or being sent (every tenant).",
        )
        depth.add_metric([], waiting)
        oldest = GaugeMetricFamily(
            "mandate_vault_webhook_oldest_pending_seconds",
            "How long the oldest due webhook delivery has waited (0: none due).",
        )
        oldest.add_metric([], age)
        yield depth
        yield oldest
