from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.jobs import sweep_all
from app.alerts.sweep import RaisedAlert, SweepReport
from app.dbops.backup import BACKUP_PREFIX
from app.models import Alert
from tests.clock import ManualClock
from tests.conftest import make_settings

FAILURES = 6  # the failure threshold these tests run with


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(
        database_url,
        backup_dir=str(tmp_path / "backups"),
        alert_failure_threshold=FAILURES,
        alert_failure_window_minutes=15,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


class Published:
    """A publisher that keeps what it was handed, as the outbox would."""

    def __init__(self) -> None:
        self.alerts: list[RaisedAlert] = []

    async def __call__(self, session: AsyncSession, raised: Sequence[RaisedAlert]) -> None:
        self.alerts.extend(raised)


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def sweep(database, settings, clock, published):
    async def run() -> SweepReport:
        return await sweep_all(database, settings, published, clock)

    return run


async def alerts_of(database, type: str | None = None) -> list[Alert]:
    async with database.sessions() as session:
        query = select(Alert).order_by(Alert.created_at, Alert.id)
        if type is not None:
            query = query.where(Alert.alert_type == type)
        return list(await session.scalars(query))


def write_backup(directory: Path, at: datetime) -> Path:
    """A backup file named as `mandate-vault db backup` names them."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{BACKUP_PREFIX}_{at:%Y%m%d_%H%M%S}.sql.gz"
    path.write_bytes(b"\x1f\x8b")
    return path


def tenant_key(tenant_id: uuid.UUID, code: str) -> str:
    return f"{tenant_id}:{code}"
