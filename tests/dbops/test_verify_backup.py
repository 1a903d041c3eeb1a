"""`db verify-backup`: restores into a scratch database, never into production."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from app.dbops.manifest import manifest_path
from tests.conftest import PG_ADMIN_URL, _asyncpg_dsn
from tests.dbops.dbops_data import counts, run_cli, seed


def test_verify_backup_proves_a_backup_restores(database_url, cli_env, tmp_path, engine_name):
    env = {**cli_env, "BACKUP_DIR": str(tmp_path / "b")}
    seed(database_url, mandates=8, audits=3)
    assert run_cli(env, "db", "backup").exit_code == 0
    backup = next((tmp_path / "b").glob("*.sql.gz"))
    seed(database_url, mandates=1)
    before = counts(database_url)

    result = run_cli(env, "db", "verify-backup", str(backup), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    manifest = json.loads(manifest_path(backup).read_text())
    assert report["row_counts"] == manifest["row_counts"]
    assert report["revision"] == manifest["revision"]
    assert report["row_counts"]["mandates"] == 8
    assert counts(database_url) == before  # production untouched
    assert not list((tmp_path / "b").glob("mandate_vault_safety_*"))
    if engine_name == "postgres":

        async def leftovers():
            connection = await asyncpg.connect(_asyncpg_dsn(PG_ADMIN_URL))
            try:
                return await connection.fetchval(
                    "SELECT count(*) FROM pg_database WHERE datname LIKE 'mv_verify_%'"
                )
            finally:
                await connection.close()

        assert asyncio.run(leftovers()) == 0

    # A manifest that lies about the rows is caught.
    manifest["row_counts"]["mandates"] = 7
    manifest_path(backup).write_text(json.dumps(manifest))
    result = run_cli(env, "db", "verify-backup", str(backup))
    assert result.exit_code != 0
    assert "mandates: 8 rows instead of 7" in result.output
