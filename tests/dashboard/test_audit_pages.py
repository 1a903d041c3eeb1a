"""The audit pages in-process, on both databases: the trail with filters and
pages, chain verification, the JSON Lines export, and a mandate's evidence pack
downloaded from its page and checked by `mandate-vault evidence verify`."""

from __future__ import annotations

import json

import pytest

from app.audit.worker import seal_all
from tests.conftest import run_cli
from tests.dashboard.conftest import mint_mandates, sign_in


async def signed_in(dash, world, role="customer_admin"):
    assert (await sign_in(dash, world.a[role].email)).status_code == 303
    return dash


async def test_trail_filters_pages_verify_and_export(dash, world, database, settings):
    _, ids = await mint_mandates(database, settings, world.tenant_a, 3)
    await seal_all(database)
    await signed_in(dash, world, "readonly")
    page = await dash.get("/audit", params={"action": "mandate.created"})
    assert page.status_code == 200
    assert page.text.count('data-audit="') == 3
    for mandate_id in ids:
        assert f"/mandates/{mandate_id}" in page.text
    first = await dash.get("/audit", params={"action": "mandate.created", "limit": "1"})
    assert first.status_code == 200  # the page sets its own limit; the extra value is ignored
    one = await dash.get("/audit", params={"resource_type": "mandate", "resource_id": str(ids[0])})
    assert one.text.count('data-audit="') == 1

    verified = await dash.get("/audit/verify")
    assert verified.status_code == 200
    assert 'data-chain-status class="ok">intact' in verified.text

    export = await dash.get("/audit/export.jsonl")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert {line["record"]["action"] for line in lines} >= {"mandate.created"}


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=yesterday", "since"), ("actor_type=robot", "actor_type"), ("cursor=x", "cursor")],
)
async def test_bad_trail_filters_are_named_on_the_page(dash, world, query, field):
    await signed_in(dash, world)
    page = await dash.get(f"/audit?{query}")
    assert page.status_code == 422
    assert f'id="e-{field}"' in page.text or f"{field}:" in page.text


async def test_evidence_pack_from_the_page_verifies_offline(
    dash, world, database, settings, cli_env, tmp_path
):
    _, (mandate_id,) = await mint_mandates(database, settings, world.tenant_a, 1)
    await signed_in(dash, world)
    detail = await dash.get(f"/mandates/{mandate_id}")
    assert f'href="/mandates/{mandate_id}/evidence.zip"' in detail.text
    assert "data-chain-panel" in detail.text
    pack = await dash.get(f"/mandates/{mandate_id}/evidence.zip")
    assert pack.status_code == 200
    assert pack.headers["content-type"] == "application/zip"
    path = tmp_path / "pack.zip"
    path.write_bytes(pack.content)
    jwks = tmp_path / "jwks.json"
    jwks.write_text((await dash.get("/.well-known/jwks.json")).text)
    checked = run_cli("evidence", "verify", str(path), "--jwks", str(jwks), env=cli_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = bytearray(pack.content)
    broken[len(broken) // 2] ^= 0x01
    path.write_bytes(bytes(broken))
    refused = run_cli("evidence", "verify", str(path), "--jwks", str(jwks), env=cli_env)
    assert refused.returncode in (2, 3), refused.stdout + refused.stderr


async def test_roles_and_other_tenants_on_the_audit_pages(dash, world, database, settings):
    _, (theirs,) = await mint_mandates(database, settings, world.tenant_b, 1)
    await signed_in(dash, world, "customer_user")  # no audit:read
    assert (await dash.get("/audit")).status_code == 403
    assert (await dash.get("/audit/verify")).status_code == 403
    dash.cookies.clear()
    await signed_in(dash, world)
    assert (await dash.get(f"/mandates/{theirs}/evidence.zip")).status_code == 404
    assert (await dash.get("/mandates/not-an-id/evidence.zip")).status_code == 404
