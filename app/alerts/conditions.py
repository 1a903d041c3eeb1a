"""What the vault raises alerts about: each type, its severity, and a condition.

A `Condition` is one thing found true by a sweep (this mandate expires within a
week, this tenant's `signature_invalid` failures are above the threshold...).
Its `key` names it across sweeps, so a condition seen again is the same alert,
not a new one. Pure: the detectors (`detectors.py`) produce conditions from the
database, the sweep (`sweep.py`) turns them into alert rows.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]


class AlertType(enum.StrEnum):
    MANDATE_EXPIRING = "mandate_expiring"
    VERIFICATION_FAILURES = "verification_failures"
    WEBHOOK_FAILING = "webhook_failing"
    WEBHOOK_DISABLED = "webhook_disabled"
    ISSUER_KEYS_FAILING = "issuer_keys_failing"
    BACKUP_STALE = "backup_stale"
    AUDIT_CHAIN_BROKEN = "audit_chain_broken"


class Recurrence(enum.Enum):
    """Whether a condition can come back once its alert is resolved."""

    ONCE = "once"  # one alert per key, ever (a mandate expires once)
    AGAIN = "again"  # a new alert each time the condition returns after clearing


@dataclass(frozen=True, slots=True)
class AlertSpec:
    severity: Severity
    recurrence: Recurrence
    description: str


SPECS: dict[AlertType, AlertSpec] = {
    AlertType.MANDATE_EXPIRING: AlertSpec(
        "warning",
        Recurrence.ONCE,
        "An active mandate expires within ALERT_EXPIRING_DAYS; one alert per mandate.",
    ),
    AlertType.VERIFICATION_FAILURES: AlertSpec(
        "warning",
        Recurrence.AGAIN,
        "Submissions refused with one code reached ALERT_FAILURE_THRESHOLD within "
        "ALERT_FAILURE_WINDOW_MINUTES.",
    ),
    AlertType.WEBHOOK_FAILING: AlertSpec(
        "warning",
        Recurrence.AGAIN,
        "A webhook endpoint has failed every attempt for ALERT_WEBHOOK_FAILING_MINUTES.",
    ),
    AlertType.WEBHOOK_DISABLED: AlertSpec(
        "critical",
        Recurrence.AGAIN,
        "A webhook endpoint was disabled by the vault (410 Gone, or failing too long).",
    ),
    AlertType.ISSUER_KEYS_FAILING: AlertSpec(
        "warning",
        Recurrence.AGAIN,
        "An issuer's key source (JWKS URL or DID document) has failed to refresh for "
        "ALERT_ISSUER_FAILING_MINUTES.",
    ),
    AlertType.BACKUP_STALE: AlertSpec(
        "critical",
        Recurrence.AGAIN,
        "Platform: the newest complete backup is older than ALERT_BACKUP_MAX_AGE_HOURS, "
        "or there is none.",
    ),
    AlertType.AUDIT_CHAIN_BROKEN: AlertSpec(
        "critical",
        Recurrence.AGAIN,
        "A scheduled verification (AUDIT_VERIFY_SECONDS) found the audit chain broken: "
        "a row edited, deleted, inserted or reordered behind the vault's back.",
    ),
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition found true; `tenant_id` None is a platform condition."""

    type: AlertType
    key: str
    tenant_id: uuid.UUID | None
    title: str
    message: str
    mandate_id: uuid.UUID | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return SPECS[self.type].severity
