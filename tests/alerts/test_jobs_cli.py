"""The sweep as `mandate-vault alerts sweep` and inside the server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from app.models import Mandate
from tests.alerts.conftest import alerts_of, write_backup
from tests.conftest import app_client, make_settings, run_cli
from tests.factories import mandate_row


async def test_the_command_sweeps_once(database, world, cli_env, tmp_path):
    row = mandate_row(world.tenant_a, expires_at=datetime.now(UTC) + timedelta(days=2))
    async with database.sessions() as session, session.begin():
        await session.execute(insert(Mandate), [row])
    env = {**cli_env, "BACKUP_DIR": str(tmp_path / "none")}
    result = run_cli("alerts", "sweep", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["raised"] == {"mandate_expiring": 1, "backup_stale": 1}
    assert {a.alert_type for a in await alerts_of(database)} == {"mandate_expiring", "backup_stale"}

    again = run_cli("alerts", "sweep", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "raised 0, resolved 0, purged 0 alert(s)"


async def test_the_server_sweeps_on_its_own(database_url, database, world, tmp_path):
    write_backup(tmp_path / "backups", datetime.now(UTC))
    row = mandate_row(world.tenant_a, expires_at=datetime.now(UTC) + timedelta(days=2))
    async with database.sessions() as session, session.begin():
        await session.execute(insert(Mandate), [row])
    settings = make_settings(
        database_url, alert_sweep_seconds=0.2, backup_dir=str(tmp_path / "backups")
    )
    headers = world.a["readonly"].key()
    async for client in app_client(settings):
        for _ in range(100):
            items = (await client.get("/api/v1/alerts", headers=headers)).json()["items"]
            if items:
                break
            await asyncio.sleep(0.1)
        assert [(a["type"], a["mandate_id"]) for a in items] == [
            ("mandate_expiring", str(row["id"]))
        ]
