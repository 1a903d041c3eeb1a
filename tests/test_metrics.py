"""GET /metrics after real requests: request and verification series, pool figures
that are never negative, and who may scrape."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.core.config import SettingsError
from tests.conftest import app_client, make_settings
from tests.mandates.minting import MintingIssuer

TOKEN = "scrape-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_requests_and_verifications_are_counted(client, world):
    headers = world.a["customer_admin"].key()
    before = samples((await client.get("/metrics")).text)

    issuer = MintingIssuer()
    registered = await client.post(
        "/api/v1/issuers", json={"did": issuer.did, "jwks": issuer.jwks()}, headers=headers
    )
    assert registered.status_code == 201
    token = issuer.token()
    stored = await client.post("/api/v1/mandates", json={"vc_jwt": token}, headers=headers)
    assert stored.status_code == 201
    again = await client.post("/api/v1/mandates", json={"vc_jwt": token}, headers=headers)
    assert again.status_code == 200
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    rejected = await client.post("/api/v1/mandates", json={"vc_jwt": forged}, headers=headers)
    assert rejected.json()["code"] == "SIG_INVALID"
    read = await client.get(f"/api/v1/mandates/{stored.json()['id']}", headers=headers)
    assert read.status_code == 200
    assert (await client.get("/no/such/page")).status_code == 404
    assert (await client.request("BREW", "/api/v1/mandates")).status_code == 405

    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    after = samples(scrape.text)
    requests = "mandate_vault_http_requests_total"
    mandates = {"method": "POST", "route": "/api/v1/mandates"}
    assert delta(before, after, requests, **mandates, status="201") == 1
    assert delta(before, after, requests, **mandates, status="200") == 1
    assert delta(before, after, requests, **mandates, status="422") == 1
    by_id = {"method": "GET", "route": "/api/v1/mandates/{mandate_id}", "status": "200"}
    assert delta(before, after, requests, **by_id) == 1
    assert delta(before, after, requests, method="GET", route="unmatched", status="404") == 1
    assert delta(before, after, requests, method="OTHER", route="/api/v1/mandates", status="405")
    latency = "mandate_vault_http_request_duration_seconds"
    assert delta(before, after, f"{latency}_count", **mandates, status="201") == 1
    assert delta(before, after, f"{latency}_bucket", **mandates, status="201", le="+Inf") == 1
    assert delta(before, after, f"{latency}_sum", **mandates, status="201") > 0

    ingested = "mandate_vault_mandates_ingested_total"
    assert delta(before, after, ingested, code="VALID", outcome="stored") == 1
    assert delta(before, after, ingested, code="VALID", outcome="duplicate") == 1
    assert delta(before, after, ingested, code="SIG_INVALID", outcome="rejected") == 1

    pools = {k: v for k, v in after.items() if k[0].startswith("mandate_vault_db_pool_")}
    assert pools
    assert all(value >= 0 for value in pools.values()), pools


def deployed(engine_name: str) -> str:
    # Production refuses SQLite; staging is deployed too and takes either engine.
    return "production" if engine_name == "postgres" else "staging"


async def scrape(settings, **headers: str):
    answer = None
    async for client in app_client(settings):
        answer = await client.get("/metrics", headers=headers)
    return answer


async def test_deployed_metrics_are_closed_without_a_token_or_address(database_url, engine_name):
    answer = await scrape(make_settings(database_url, environment=deployed(engine_name)))
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "metrics_closed"


async def test_a_token_admits_the_scrape_it_names(database_url, engine_name):
    settings = make_settings(database_url, environment=deployed(engine_name), metrics_token=TOKEN)
    missing = await scrape(settings)
    assert (missing.status_code, missing.json()["code"]) == (401, "metrics_token_required")
    assert missing.headers["www-authenticate"] == 'Bearer realm="metrics"'
    wrong = await scrape(settings, Authorization="Bearer " + TOKEN[:-1] + "x")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "metrics_token_invalid")
    right = await scrape(settings, Authorization=f"Bearer {TOKEN}")
    assert right.status_code == 200
    assert "mandate_vault_http_requests_total" in right.text


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("allowed", "status"), [("127.0.0.1", 200), ("10.0.0.0/8,::1", 403), ("127.0.0.0/8", 200)]
)
async def test_an_address_list_admits_its_addresses(database_url, allowed, status):
    # The test transport's client address is 127.0.0.1.
    settings = make_settings(database_url, environment="staging", metrics_allowed_ips=allowed)
    answer = await scrape(settings)
    assert answer.status_code == status
    if status == 403:
        assert answer.json()["code"] == "metrics_address_refused"


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_development_is_open_unless_a_token_is_set(database_url):
    assert (await scrape(make_settings(database_url, environment="development"))).status_code == 200
    closed = make_settings(database_url, environment="development", metrics_token=TOKEN)
    assert (await scrape(closed)).status_code == 401


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"metrics_token": "short"}, "METRICS_TOKEN must be at least 16 characters"),
        ({"metrics_allowed_ips": "10.0.0.0/8,nope"}, "METRICS_ALLOWED_IPS: 'nope' is not an IP"),
    ],
)
def test_bad_metrics_settings_are_one_line(values, message):
    with pytest.raises(SettingsError, match=message):
        make_settings("sqlite+aiosqlite:///./x.db", **values)
