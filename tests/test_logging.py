"""Structured logs: JSON when deployed, and the request id on every line."""

from __future__ import annotations

import json

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
