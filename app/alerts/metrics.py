"""Prometheus metrics of the alert sweep."""

from __future__ import annotations

from prometheus_client import Counter

ALERTS_RAISED = Counter(
    "mandate_vault_alerts_raised", "Alerts raised by the sweep, by type.", ["type"]
)
ALERTS_RESOLVED = Counter(
    "mandate_vault_alerts_resolved",
    "Alerts resolved, by type and how (`cleared` by the sweep, `manual`).",
    ["type", "resolution"],
)
SWEEP_FAILURES = Counter(
    "mandate_vault_alert_sweep_failures", "Alert sweeps that failed (retried next round)."
)
