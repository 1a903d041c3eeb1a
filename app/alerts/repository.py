"""Every query on `alerts`.

`AlertRepository` reads and changes one tenant's alerts (or, with no tenant,
the platform's). The module functions below it are the sweep's: they work
across every tenant by design, since a sweep looks for conditions everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, literal, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.conditions import AlertType
from app.alerts.schemas import AlertSearch, AlertState
from app.core.cursor import Position
from app.core.repository import TenantScopedRepository
from app.models import Alert, Mandate
from app.models.alert import OPEN, Resolution
from app.models.base import table_of


class AlertRepository(TenantScopedRepository[Alert]):
    model = Alert
    platform_scope = True  # tenant None: the platform operator's alerts

    async def search(self, params: AlertSearch, position: Position | None) -> list[Alert]:
        """A page of alerts, newest first, from `position` on."""
        query = self.base()
        if params.type is not None:
            query = query.where(Alert.alert_type == params.type)
        if params.severity is not None:
            query = query.where(Alert.severity == params.severity)
        if params.mandate_id is not None:
            query = query.where(Alert.mandate_id == params.mandate_id)
        if params.state is AlertState.OPEN:
            query = query.where(Alert.resolved_at.is_(None), Alert.acknowledged_at.is_(None))
        elif params.state is AlertState.ACKNOWLEDGED:
            query = query.where(Alert.resolved_at.is_(None), Alert.acknowledged_at.is_not(None))
        elif params.state is AlertState.RESOLVED:
            query = query.where(Alert.resolved_at.is_not(None))
        elif params.state is AlertState.UNRESOLVED:
            query = query.where(Alert.resolved_at.is_(None))
        if position is not None:
            query = query.where(
                tuple_(Alert.created_at, Alert.id) < tuple_(position.value, position.id)
            )
        query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(params.limit + 1)
        return list(await self.session.scalars(query))

    async def count_unresolved(self) -> int:
        query = self.base().where(Alert.resolved_at.is_(None)).with_only_columns(func.count())
        return int(await self.session.scalar(query) or 0)


# --- the sweep: every tenant -------------------------------------------------

# pg_try_advisory_xact_lock(SWEEP_LOCK, step): one process runs each sweep step
# at a time; the others skip it this round (the unique index would keep them from
# raising twice anyway, this saves them the work).
SWEEP_LOCK = 0x4D564131  # "MVA1"


async def claim_sweep_step(session: AsyncSession, step: int) -> bool:
    """Whether this transaction may run sweep step `step` (always on SQLite,
    whose single writer serialises sweeps by itself)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    claimed = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:lock, :step)"),
        {"lock": SWEEP_LOCK, "step": step},
    )
    return bool(claimed)


_COLUMNS = (
    "id",
    "tenant_id",
    "mandate_id",
    "alert_type",
    "dedupe_key",
    "severity",
    "title",
    "message",
    "details",
    "created_at",
)
_INSERT_OPEN = {
    name: insert(table_of(Alert))
    .on_conflict_do_nothing(index_elements=["alert_type", "dedupe_key"], index_where=OPEN)
    .returning(*(table_of(Alert).c[name] for name in _COLUMNS))
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


async def insert_open_alerts(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Insert alerts unless one of the same type and key is open already (another
    sweep, in another process, may have raised it a moment ago); the rows that
    were inserted, each as a mapping of its columns."""
    statement = _INSERT_OPEN[session.get_bind().dialect.name]
    inserted = []
    for row in rows:  # one statement per row: RETURNING of a multi-row ON CONFLICT varies
        result = await session.execute(statement, row)
        found = result.mappings().first()
        if found is not None:
            inserted.append(dict(found))
    return inserted


async def open_keys_of_every_tenant(session: AsyncSession, type: AlertType) -> dict[str, uuid.UUID]:
    """The open alerts of one type, by key."""
    rows = await session.execute(
        select(Alert.dedupe_key, Alert.id).where(
            Alert.alert_type == type, Alert.resolved_at.is_(None)
        )
    )
    return {row.dedupe_key: row.id for row in rows}


async def recently_resolved_by_hand(
    session: AsyncSession, type: AlertType, since: datetime
) -> set[str]:
    """Keys someone resolved by hand since `since`: not raised again so soon."""
    rows = await session.scalars(
        select(Alert.dedupe_key).where(
            Alert.alert_type == type,
            Alert.resolution == Resolution.MANUAL,
            Alert.resolved_at >= since,
        )
    )
    return set(rows)


async def resolve_cleared(session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime) -> int:
    """Resolve these open alerts: their conditions no longer hold."""
    if not ids:
        return 0
    result = await session.execute(
        update(Alert)
        .where(Alert.id.in_(ids), Alert.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by="system", resolution=Resolution.CLEARED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _expiring(now: datetime, horizon: datetime) -> Any:
    return and_(
        Mandate.status == "active",
        Mandate.deleted_at.is_(None),
        Mandate.expires_at > now,
        Mandate.expires_at <= horizon,
    )


async def expiring_without_alert_of_every_tenant(
    session: AsyncSession, now: datetime, horizon: datetime, limit: int
) -> list[Mandate]:
    """Active mandates expiring by `horizon` that have never had an expiry alert
    (one per mandate, ever), oldest expiry first.

    The check is a scalar subquery, probed per expiring mandate through
    idx_alerts_type_mandate, not NOT EXISTS: PostgreSQL turns that into an anti
    join planned from the alerts table's statistics, which lag while the sweep
    itself fills the table, and a plan made for "5 alerts" walked every alert
    for every expiring mandate (3 s a round at 10,000 of them)."""
    ever_alerted = (
        select(literal(1))
        .where(Alert.alert_type == AlertType.MANDATE_EXPIRING, Alert.mandate_id == Mandate.id)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(Mandate)
        .where(_expiring(now, horizon), ever_alerted.is_(None))
        .order_by(Mandate.expires_at, Mandate.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def resolve_expiry_alerts_cleared(
    session: AsyncSession, now: datetime, horizon: datetime
) -> int:
    """Resolve open expiry alerts whose mandate expired, was revoked or was deleted."""
    still_expiring = exists().where(Mandate.id == Alert.mandate_id, _expiring(now, horizon))
    result = await session.execute(
        update(Alert)
        .where(
            Alert.alert_type == AlertType.MANDATE_EXPIRING,
            Alert.resolved_at.is_(None),
            or_(Alert.mandate_id.is_(None), ~still_expiring),
        )
        .values(resolved_at=now, resolved_by="system", resolution=Resolution.CLEARED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_resolved_of_every_tenant(session: AsyncSession, before: datetime) -> int:
    """Delete alerts resolved before `before` (ALERT_RESOLVED_RETENTION_DAYS)."""
    result = await session.execute(
        delete(Alert)
        .where(Alert.resolved_at.is_not(None), Alert.resolved_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
