"""The database-operations settings: defaults and one-line refusals."""

from __future__ import annotations

import pytest

from app.core.config import SettingsError, load_settings
from tests.conftest import TEST_SECRET


def settings(**values):
    return load_settings(_env_file=None, secret_key=TEST_SECRET, **values)


def test_defaults():
    s = settings()
    assert (s.backup_dir, s.backup_retention_days, s.backup_keep_min) == ("./backups", 30, 3)
    assert (s.audit_retention_days, s.slow_query_ms, s.retention_run_at) == (365, 500, "03:00")
    assert s.retention_schedule_enabled is True
    assert s.db_ssl_ca_file is None


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"retention_run_at": "25:00"}, "RETENTION_RUN_AT must be HH:MM"),
        ({"retention_run_at": "3am"}, "RETENTION_RUN_AT must be HH:MM"),
        ({"db_ssl_ca_file": "/nonexistent/ca.crt"}, "DB_SSL_CA_FILE: no such file"),
        ({"backup_retention_days": 0}, "BACKUP_RETENTION_DAYS"),
        ({"slow_query_ms": -1}, "SLOW_QUERY_MS"),
        (
            {"database_url": "postgresql+asyncpg://u:p@h/db?ssl=verify"},
            "ssl= must be one of disable, allow",
        ),
    ],
)
def test_refusals(values, fragment):
    with pytest.raises(SettingsError, match=fragment):
        settings(**values)


def test_run_at_is_normalised():
    assert settings(retention_run_at="3:5").retention_run_at == "03:05"
