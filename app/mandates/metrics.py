"""Mandates ingested, by verification code and what became of them."""

from __future__ import annotations

import enum

from prometheus_client import Counter

from app.core.metrics import REGISTRY


class Disposition(enum.StrEnum):
    STORED = "stored"  # verified and kept
    DUPLICATE = "duplicate"  # this tenant holds the same token already
    REJECTED = "rejected"  # refused with the verification code


MANDATES_INGESTED = Counter(
    "mandate_vault_mandates_ingested",
    "Mandates submitted (API, batch, import, seed), by verification code and outcome.",
    ["code", "outcome"],
    registry=REGISTRY,
)


def count_ingested(code: str, disposition: Disposition, count: int = 1) -> None:
    MANDATES_INGESTED.labels(code, disposition.value).inc(count)
