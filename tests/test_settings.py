"""Settings: defaults by environment and one-line refusals of bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import EXAMPLE_SECRETS, SettingsError, load_settings
from tests.conftest import TEST_SECRET

PG = "postgresql+asyncpg://vault:pw@db.internal:5432/mandate_vault"
ROOT = Path(__file__).resolve().parents[1]


def settings(**values):
    return load_settings(_env_file=None, **{"secret_key": TEST_SECRET, **values})


@pytest.mark.parametrize(
    ("environment", "size", "overflow"),
    [("development", 5, 5), ("test", 5, 5), ("staging", 20, 10), ("production", 20, 10)],
)
def test_pool_defaults_follow_the_environment(environment, size, overflow):
    s = settings(environment=environment, database_url=PG)
    assert (s.pool_size, s.max_overflow) == (size, overflow)
    assert (s.db_pool_timeout, s.db_pool_recycle, s.db_pool_pre_ping) == (30, 3600, True)


def test_explicit_pool_settings_win():
    s = settings(db_pool_size=50, db_max_overflow=0)
    assert (s.pool_size, s.max_overflow) == (50, 0)


def test_write_db_url_is_an_alias(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("WRITE_DB_URL", PG)
    assert settings().database_url == PG


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///./test.db",
        "sqlite+aiosqlite:////var/lib/vault/vault.db",
        PG,
        PG + "?ssl=require",
        "postgresql+asyncpg://user:pass@/dbname?host=/cloudsql/project:region:instance",
    ],
)
def test_accepted_database_urls(url):
    assert settings(database_url=url).database_url == url


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql+aiomysql://u:p@h/db", "unsupported driver 'mysql+aiomysql'"),
        ("postgresql://u:p@h/db", "unsupported driver 'postgresql'"),
        ("postgresql+psycopg2://u:p@h/db", "unsupported driver"),
        ("sqlite:///./x.db", "unsupported driver 'sqlite'"),
        ("not a url", "not a database URL"),
        ("postgresql+asyncpg://u:p@h", "names no database"),
    ],
)
def test_refused_database_urls(url, fragment):
    with pytest.raises(SettingsError) as caught:
        settings(database_url=url)
    message = str(caught.value)
    assert "DATABASE_URL" in message
    assert fragment in message
    assert "\n" not in message


def test_read_db_url_is_checked_too():
    with pytest.raises(SettingsError, match="READ_DB_URL"):
        settings(read_db_url="redis://localhost")
    assert settings(read_db_url="").read_db_url is None


def test_short_secret_is_refused():
    with pytest.raises(SettingsError, match="SECRET_KEY must be at least 32 characters"):
        load_settings(_env_file=None, secret_key="short")


def test_missing_secret_is_refused(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"debug": True, "database_url": PG}, "DEBUG must be false"),
        ({"database_url": "sqlite+aiosqlite:///./x.db"}, "must be PostgreSQL"),
        ({"database_url": PG, "secret_key": sorted(EXAMPLE_SECRETS)[0]}, "example value"),
    ],
)
def test_production_rules(values, fragment):
    with pytest.raises(SettingsError, match=fragment):
        settings(environment="production", **values)


def test_staging_refuses_example_secret_but_development_allows_it():
    secret = "dev-key-minimum-32-characters-long"
    with pytest.raises(SettingsError, match="example value"):
        settings(environment="staging", database_url=PG, secret_key=secret)
    assert (
        settings(environment="development", secret_key=secret).secret_key.get_secret_value()
        == secret
    )


def test_env_example_documents_every_setting():
    from app.core.config import Settings

    documented = (ROOT / "env.example").read_text()
    for name in Settings.model_fields:
        assert f"\n{name.upper()}=" in documented, name


def test_env_example_secret_is_refused_when_deployed():
    with pytest.raises(SettingsError, match="example value"):
        load_settings(
            _env_file=str(ROOT / "env.example"), environment="production", database_url=PG
        )


def _run(args, env_updates, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    env.update(env_updates)
    return subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"SECRET_KEY": "too-short"}, "SECRET_KEY must be at least 32 characters"),
        ({}, "SECRET_KEY is not set"),
        (
            {"SECRET_KEY": TEST_SECRET, "DATABASE_URL": "mysql://x/y"},
            "DATABASE_URL uses unsupported driver",
        ),
        (
            {
                "SECRET_KEY": TEST_SECRET,
                "ENVIRONMENT": "production",
                "DATABASE_URL": "sqlite+aiosqlite:///x.db",
            },
            "DATABASE_URL must be PostgreSQL",
        ),
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "app.cli", "db", "current"],
        [sys.executable, str(ROOT / "create_users_table.py")],
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", "1"],
    ],
    ids=["cli", "guide-script", "uvicorn"],
)
def test_entry_points_exit_2_with_one_line(env, fragment, command, tmp_path):
    result = _run(command, env, tmp_path)
    assert result.returncode == 2, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    assert fragment in error_lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("environment", ["development", "test"])
def test_one_server_process_unless_deployed(environment):
    assert settings(environment=environment).worker_processes == 1


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_one_server_process_per_usable_core_when_deployed(environment):
    assert settings(environment=environment, database_url=PG).worker_processes == len(
        os.sched_getaffinity(0)
    )


def test_workers_setting_wins():
    assert settings(workers=3).worker_processes == 3
    assert settings(environment="production", database_url=PG, workers=1).worker_processes == 1
    with pytest.raises(SettingsError, match="WORKERS"):
        settings(workers=0)
