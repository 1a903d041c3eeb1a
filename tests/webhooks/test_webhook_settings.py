"""The webhook settings: defaults, validation, and what production refuses."""

from __future__ import annotations

import pytest

from app.core.config import SettingsError, load_settings
from tests.conftest import TEST_SECRET

PG = "postgresql+asyncpg://vault:pw@db.internal:5432/mandate_vault"


def settings(**values):
    return load_settings(_env_file=None, **{"secret_key": TEST_SECRET, **values})


def test_defaults_follow_the_standard_schedule_and_are_closed() -> None:
    s = settings()
    assert s.webhook_retry_schedule_seconds == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert (s.webhook_allow_private_networks, s.webhook_allow_http) == (False, False)
    assert (s.webhook_connect_timeout, s.webhook_timeout, s.webhook_dns_timeout) == (5, 15, 2)
    assert s.webhook_secret_rotation_hours == 24
    assert s.webhook_disable_after_days == 5
    assert s.webhook_response_excerpt_bytes == 4096


def test_the_schedule_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", " 0, 1 ,60")
    assert settings().webhook_retry_schedule_seconds == (0, 1, 60)


@pytest.mark.parametrize("schedule", ["", "5,x", "-1", "1.5", "0," * 60, "9" * 5000, "604801", "٣"])
def test_bad_schedules_are_refused_in_one_line(schedule: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings(webhook_retry_schedule=schedule)
    assert "WEBHOOK_RETRY_SCHEDULE" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("variable", ["webhook_allow_private_networks", "webhook_allow_http"])
def test_production_refuses_the_development_switches(variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings(environment="production", database_url=PG, **{variable: True})
    assert variable.upper() in str(caught.value)
    assert settings(environment="staging", database_url=PG, **{variable: True})
    assert settings(environment="production", database_url=PG)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("webhook_timeout", 0),
        ("webhook_connect_timeout", -1),
        ("webhook_retry_jitter", 0.9),
        ("webhook_disable_after_days", 0),
        ("webhook_response_excerpt_bytes", 10_000_000),
    ],
)
def test_out_of_range_values_are_refused(variable: str, value: float) -> None:
    with pytest.raises(SettingsError) as caught:
        settings(**{variable: value})
    assert variable.upper() in str(caught.value)
