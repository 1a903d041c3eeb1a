"""problem+json everywhere, request ids, and no stack trace ever reaching a client."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Query

from app.core.errors import Conflict, NotFound
from app.main import create_app
from tests.conftest import make_settings

PROBLEM = "application/problem+json"


@pytest.fixture
async def probe_client(tmp_path):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"))

    @app.get("/probe/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: /etc/passwd line 3")

    @app.get("/probe/missing")
    async def missing() -> None:
        raise NotFound("Mandate not found")

    @app.get("/probe/conflict")
    async def conflict() -> None:
        raise Conflict("Already exists", code="duplicate_thing", existing_id="abc")

    @app.get("/probe/typed")
    async def typed(limit: int = Query(ge=1, le=200)) -> dict[str, int]:
        return {"limit": limit}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:mandate-vault:problem:{code}"
    assert body["title"]
    assert body["detail"]
    return body


async def test_unknown_route_is_a_problem(probe_client):
    body = assert_problem(await probe_client.get("/nope"), 404, "not_found")
    assert body["instance"] == "/nope"


async def test_wrong_method_is_a_problem(probe_client):
    assert_problem(await probe_client.post("/healthz"), 405, "method_not_allowed")


async def test_domain_errors_carry_their_code_and_extras(probe_client):
    assert_problem(await probe_client.get("/probe/missing"), 404, "not_found")
    body = assert_problem(await probe_client.get("/probe/conflict"), 409, "duplicate_thing")
    assert body["existing_id"] == "abc"


@pytest.mark.parametrize("value", ["0", "201", "-5", "abc", "1e9", "%00", "' OR 1=1 --"])
async def test_bad_query_values_name_the_field(probe_client, value):
    body = assert_problem(
        await probe_client.get("/probe/typed", params={"limit": value}), 422, "validation_error"
    )
    assert "limit" in body["detail"]
    assert body["errors"][0]["field"] == "query.limit"


async def test_unexpected_errors_hide_their_internals(probe_client):
    response = await probe_client.get("/probe/boom")
    body = assert_problem(response, 500, "internal_error")
    text = response.text
    assert "Traceback" not in text
    assert "secret internals" not in text
    assert "RuntimeError" not in text
    assert body["request_id"] == response.headers["x-request-id"]
    # The error answer carries the headers every answer does.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


async def test_request_id_is_generated_or_echoed(probe_client):
    generated = await probe_client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await probe_client.get("/healthz", headers={"X-Request-ID": "client-id-123456"})
    assert echoed.headers["x-request-id"] == "client-id-123456"
    hostile = await probe_client.get("/healthz", headers={"X-Request-ID": "bad id\twith; junk"})
    assert "junk" not in hostile.headers["x-request-id"]
    assert len(hostile.headers["x-request-id"]) == 32
