"""Structured logs: JSON when deployed, and the request id on every line."""

from __future__ import annotations

import json
import re

import httpx

from app.main import create_app
from tests.conftest import make_settings


async def test_production_logs_are_json_with_the_request_id(tmp_path, capsys):
    settings = make_settings(
        "postgresql+asyncpg://u:p@127.0.0.1:1/none", environment="production", log_level="INFO"
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "req-abcdef-123"})
    assert response.status_code == 200
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    request_lines = [line for line in lines if line.get("event") == "request"]
    assert request_lines, lines
    assert request_lines[0]["request_id"] == "req-abcdef-123"
    assert request_lines[0]["status"] == 200
    assert request_lines[0]["path"] == "/healthz"
    assert "timestamp" in request_lines[0]


async def test_development_logs_are_readable_lines(tmp_path, capsys):
    app = create_app(
        make_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", environment="development", log_level="INFO"
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        await client.get("/healthz", headers={"X-Request-ID": "req-readable-1"})
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "request" in line and "req-readable-1" in line)
    assert not line.startswith("{")
    assert "path=/healthz" in line


async def test_the_access_log_follows_each_configuration_of_logging(tmp_path, capsys):
    """The access log's logger is bound once per configuration, not per request: a
    second app configured at another level logs as that level says."""

    async def request_lines(log_level: str) -> list[dict]:
        settings = make_settings(
            "postgresql+asyncpg://u:p@127.0.0.1:1/none",
            environment="production",
            log_level=log_level,
        )
        app = create_app(settings)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            assert (await client.get("/healthz")).status_code == 200
        lines = [
            json.loads(line)
            for line in capsys.readouterr().err.splitlines()
            if line.startswith("{")
        ]
        return [line for line in lines if line.get("event") == "request"]

    assert len(await request_lines("INFO")) == 1
    assert await request_lines("WARNING") == []
    again = await request_lines("INFO")
    assert len(again) == 1
    # Without a client's own id, the request id is 32 random hex digits.
    assert re.fullmatch(r"[0-9a-f]{32}", again[0]["request_id"])


def test_a_steady_logger_binds_once_per_configuration():
    from app.core.logging import SteadyLogger, configure_logging

    logger = SteadyLogger("app.test")
    settings = make_settings("sqlite+aiosqlite:///unused.db", log_level="INFO")
    configure_logging(settings)
    first = logger.get()
    assert logger.get() is first
    configure_logging(settings)
    assert logger.get() is not first


async def test_a_request_leaves_the_callers_log_context_as_it_found_it(capsys):
    """The request id is bound for the request alone: the caller's own context
    (here a test's, which an in-process client shares) is kept, and gets nothing."""
    import structlog

    app = create_app(
        make_settings(
            "postgresql+asyncpg://u:p@127.0.0.1:1/none", environment="production", log_level="INFO"
        )
    )
    outer = structlog.contextvars.bind_contextvars(job="nightly")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            for request_id in ("req-first-0001", "req-second-002"):
                headers = {"X-Request-ID": request_id}
                assert (await client.get("/healthz", headers=headers)).status_code == 200
        assert structlog.contextvars.get_contextvars() == {"job": "nightly"}
    finally:
        structlog.contextvars.reset_contextvars(**outer)
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    requests = [line for line in lines if line.get("event") == "request"]
    assert [(line["request_id"], line["job"]) for line in requests] == [
        ("req-first-0001", "nightly"),
        ("req-second-002", "nightly"),
    ]
