"""Secrets fed through every route, at DEBUG, in development and deployed logging,
on both engines: no password, token, API key, webhook secret, request body or
SQL parameter reaches any log line."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from app.core.logging import format_exception, redact
from tests.conftest import app_client, make_settings
from tests.log_scan import leaks
from tests.openapi_walk import (
    fields,
    fill_path,
    json_bytes,
    operations,
    resolve,
    set_at,
    valid_value,
)

CANARY = "canary" + uuid.uuid4().hex[:10]
SECRETS = {
    "password": f"Pw-{CANARY}-Lantern-Harbour",
    "api_key": f"mvk_{CANARY}abcdefghijklmnopqrstuvwxyz",
    "refresh": f"mvr_{CANARY}abcdefghijklmnopqrstuvwxyz",
    "webhook": f"whsec_{CANARY}QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
    "bearer": f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{CANARY}In0.c2lnbmF0dXJl{CANARY}",
}


def _body_with_canaries(spec, schema):
    """A valid-looking body whose every string field holds a secret-shaped value."""
    body = valid_value(spec, schema)
    values = list(SECRETS.values())
    for index, (path, sub) in enumerate(fields(spec, schema)):
        if resolve(spec, sub).get("type") == "string" and "enum" not in sub:
            body = set_at(body, path, values[index % len(values)] + f"-{index}")
        elif resolve(spec, sub).get("type") == "object":
            body = set_at(body, path, {"note": SECRETS["webhook"], "pw": SECRETS["password"]})
    return body


@pytest.mark.parametrize("environment", ["development", "staging"])
async def test_no_secret_reaches_a_log_line(database_url, world, environment, capsys):
    settings = make_settings(
        database_url, environment=environment, log_level="DEBUG", rate_limit_enabled=False
    )
    admin = {**world.admin.bearer(), "X-Tenant-ID": str(world.tenant_a)}
    sent = 0
    async for client in app_client(settings):
        spec = (await client.get("/openapi.json")).json()
        credentials = [
            admin,
            world.a["customer_admin"].key(),
            {"X-API-Key": SECRETS["api_key"]},
            {"Authorization": f"Bearer {SECRETS['bearer']}"},
            {"Authorization": f"Bearer {SECRETS['api_key']}"},
        ]
        for method, route, operation in operations(spec):
            schema = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            path = fill_path(route, operation, {})
            query = f"?cursor={SECRETS['refresh']}" if method == "GET" else ""
            body = json_bytes(_body_with_canaries(spec, schema)) if schema else None
            for headers in credentials:
                sent += 1
                await client.request(
                    method,
                    path + query,
                    content=body,
                    headers={**headers, "content-type": "application/json"},
                )
        # Sign-in with a real account and a canary password, and a canary refresh token.
        for email in ("customer_admin@a.example", "nobody@nowhere.example"):
            await client.post(
                "/api/v1/auth/login", json={"email": email, "password": SECRETS["password"]}
            )
        await client.post("/api/v1/auth/refresh", json={"refresh_token": SECRETS["refresh"]})
    err = capsys.readouterr().err
    assert sent > 150
    assert "request" in err  # the access log did run, at DEBUG
    assert leaks(err, CANARY, world.a["customer_admin"].api_key) == []


def test_exception_text_is_bounded_and_holds_no_data():
    """An exception carrying values (as driver errors do) is logged by type only, and
    a deep traceback is cut to a bounded size without reading source or locals."""
    import sqlite3

    def recurse(n: int) -> None:
        password = SECRETS["password"]  # a local that must never be rendered
        if n == 0:
            raise sqlite3.IntegrityError(f"UNIQUE constraint failed: value {password}")
        recurse(n - 1)

    try:
        recurse(200)
    except sqlite3.IntegrityError as error:
        started = time.perf_counter()
        for _ in range(100):
            text = format_exception(error)
        per_call = (time.perf_counter() - started) / 100
    assert per_call < 0.005  # a 200-frame traceback costs well under a millisecond or so
    assert SECRETS["password"] not in text
    assert "message withheld" in text
    assert text.count("File ") <= 13
    assert len(text) <= 4000
    # Credential shapes are masked wherever they appear; a bare password cannot be
    # recognised, so it is masked where it is named.
    for name, secret in SECRETS.items():
        masked = redact(f"saw {secret}" if name != "password" else f"password={secret}")
        assert secret not in masked, name
    assert json.dumps(redact("plain words stay")) == '"plain words stay"'
