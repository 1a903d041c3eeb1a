"""A broken audit chain is an alert: the audit worker's scheduled verification
hands each broken chain's report to `raise_chain_alert` (registered by the
composition roots with `register()`), which raises a critical alert for the
tenant (or the platform) in a transaction of its own, `alert.raised` with it."""

from __future__ import annotations

import uuid

from app.alerts.conditions import AlertType, Condition
from app.alerts.publish import publish_raised
from app.alerts.sweep import raise_conditions
from app.audit.chain import PLATFORM_CHAIN
from app.audit.report import ChainReport
from app.audit.worker import VERIFICATION_FAILED_HOOKS
from app.core.clock import SYSTEM_CLOCK
from app.core.database import Database


def condition_of(report: ChainReport) -> Condition:
    problem = report.broken
    assert problem is not None
    tenant_id = None if report.chain_id == PLATFORM_CHAIN else uuid.UUID(report.chain_id)
    return Condition(
        type=AlertType.AUDIT_CHAIN_BROKEN,
        key=f"chain:{report.chain_id}",
        tenant_id=tenant_id,
        title=f"Audit chain broken at seq {problem.seq}",
        message=(
            f"{problem.message} ({problem.problem.value}). Run `mandate-vault audit verify"
            f" --tenant {report.chain_id}` for the full report, and treat the rows from "
            "there on as untrusted until the cause is known."
        ),
        details=report.to_json(),
    )


async def raise_chain_alert(database: Database, report: ChainReport) -> None:
    async with database.sessions() as session, session.begin():
        await raise_conditions(session, [condition_of(report)], SYSTEM_CLOCK.now(), publish_raised)


def register() -> None:
    """Hand broken chains to the alerts (once, however often it is called)."""
    if raise_chain_alert not in VERIFICATION_FAILED_HOOKS:
        VERIFICATION_FAILED_HOOKS.append(raise_chain_alert)
