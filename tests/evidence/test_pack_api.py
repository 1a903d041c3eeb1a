"""Evidence packs and the audit trail over HTTP, both databases: a pack verifies offline
(also with the CLI), a flipped byte in any file or another signing key fails naming the
file, a rotated-away issuer key still verifies "as of ingest"; reading, filtering,
exporting and verifying the trail, with its permissions and bad inputs."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.evidence import verify_pack
from app.evidence.report import Severity
from app.signing import Keyring, generate_signing_key
from tests.conftest import run_command
from tests.mandates.minting import MintingIssuer
from tests.verification.helpers import public_jwk


def admin(world, tenant="a"):
    return getattr(world, tenant)["customer_admin"].key()


async def ingest(client, world, issuer: MintingIssuer) -> str:
    headers = admin(world)
    response = await client.post(
        "/api/v1/issuers", json={"did": issuer.did, "jwks": issuer.jwks()}, headers=headers
    )
    assert response.status_code == 201, response.text
    response = await client.post(
        "/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=headers
    )
    assert response.status_code == 201, response.text
    mandate_id = response.json()["id"]
    # More events on the mandate: a token read and a revocation.
    assert (
        await client.get(f"/api/v1/mandates/{mandate_id}?include=token", headers=headers)
    ).status_code == 200
    return mandate_id


async def pack_of(client, world, mandate_id: str) -> bytes:
    response = await client.get(f"/api/v1/mandates/{mandate_id}/evidence", headers=admin(world))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return response.content


def rewrite(data: bytes, path: str, flip_at: int = 0) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == path:
                index = min(flip_at, len(content) - 1)
                content = content[:index] + bytes([content[index] ^ 0x01]) + content[index + 1 :]
            target.writestr(info.filename, content)
    return out.getvalue()


async def test_a_pack_verifies_offline_and_any_flipped_byte_is_named(client, world, tmp_path):
    mandate_id = await ingest(client, world, MintingIssuer())
    data = await pack_of(client, world, mandate_id)
    assert len(data) < 64 * 1024
    jwks = (await client.get("/.well-known/jwks.json")).json()
    report = verify_pack(data, jwks)
    assert report.ok, [f.line() for f in report.findings]
    assert report.rows_checked >= 2
    assert report.rows_proven == report.rows_checked
    assert report.ingest_code == "VALID"

    for path in zipfile.ZipFile(io.BytesIO(data)).namelist():
        broken = verify_pack(rewrite(data, path, flip_at=40), jwks)
        assert not broken.ok, path
        assert path in broken.files_with(Severity.ERROR), (path, broken.files_with())

    other = Keyring.of(generate_signing_key())
    forged = verify_pack(data, other.public_jwks())
    assert not forged.ok
    assert "manifest.jws" in forged.files_with(Severity.ERROR)

    # The CLI: 0 valid, 3 wrong, 2 with one line for a missing or non-ZIP path.
    pack = tmp_path / "pack.zip"
    pack.write_bytes(data)
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks))
    env = {"PATH": "/usr/bin:/bin", "MANDATE_VAULT_ENV_FILE": "/dev/null"}
    cli = [sys.executable, "-m", "app.cli", "evidence", "verify"]
    ok = await asyncio.to_thread(run_command, [*cli, str(pack), "--jwks", str(keys)], env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VALID" in ok.stdout
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rewrite(data, "mandate/token.jwt", flip_at=5))
    wrong = await asyncio.to_thread(run_command, [*cli, str(bad), "--jwks", str(keys)], env=env)
    assert wrong.returncode == 3, wrong.stdout
    assert "mandate/token.jwt" in wrong.stdout
    missing = await asyncio.to_thread(run_command, [*cli, str(tmp_path / "nope.zip")], env=env)
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a zip")
    notzip = await asyncio.to_thread(run_command, [*cli, str(text_file)], env=env)
    assert notzip.returncode == 2
    assert len(notzip.stderr.strip().splitlines()) == 1


async def test_a_rotated_away_issuer_key_still_verifies_as_of_ingest(client, world):
    issuer = MintingIssuer()
    headers = admin(world)
    mandate_id = await ingest(client, world, issuer)
    issuer_id = (await client.get("/api/v1/issuers", headers=headers)).json()
    issuer_id = (
        next(i["id"] for i in issuer_id["items"] if i["did"] == issuer.did)
        if isinstance(issuer_id, dict)
        else next(i["id"] for i in issuer_id if i["did"] == issuer.did)
    )
    new_key = ec.generate_private_key(ec.SECP256R1())
    added = await client.post(
        f"/api/v1/issuers/{issuer_id}/keys",
        json={"jwk": public_jwk(new_key, "k2")},
        headers=headers,
    )
    assert added.status_code == 200, added.text
    removed = await client.delete(f"/api/v1/issuers/{issuer_id}/keys/k1", headers=headers)
    assert removed.status_code == 200, removed.text
    data = await pack_of(client, world, mandate_id)
    files = zipfile.ZipFile(io.BytesIO(data))
    at_ingest = json.loads(files.read("mandate/verification-at-ingest.json"))
    now = json.loads(files.read("mandate/verification-now.json"))
    assert at_ingest["code"] == "VALID"
    assert now["code"] != "VALID"
    kids = [
        k["kid"]
        for i in json.loads(files.read("issuers/keys-at-ingest.json"))["issuers"]
        for k in i["jwks"]["keys"]
    ]
    assert kids == ["k1"]
    jwks = (await client.get("/.well-known/jwks.json")).json()
    report = verify_pack(data, jwks)
    assert report.ok, [f.line() for f in report.findings]
    assert report.ingest_rerun_code == "VALID"


async def test_evidence_and_mandate_audit_of_unknown_or_foreign_mandates_are_404(client, world):
    mandate_id = await ingest(client, world, MintingIssuer())
    other = admin(world, "b")
    for path in ("evidence", "audit"):
        assert (
            await client.get(f"/api/v1/mandates/{mandate_id}/{path}", headers=other)
        ).status_code == 404
        assert (
            await client.get(
                f"/api/v1/mandates/00000000-0000-4000-8000-000000000000/{path}",
                headers=admin(world),
            )
        ).status_code == 404
    rows = (await client.get(f"/api/v1/mandates/{mandate_id}/audit", headers=admin(world))).json()
    actions = [item["action"] for item in rows["items"]]
    assert "mandate.created" in actions
    assert "mandate.token_read" in actions


async def test_reading_the_trail_filters_pages_and_permissions(client, world):
    mandate_id = await ingest(client, world, MintingIssuer())
    readonly = world.a["readonly"].key()
    page = await client.get("/api/v1/audit", params={"limit": 1}, headers=readonly)
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["items"]) == 1
    assert body["next_cursor"]
    second = await client.get(
        "/api/v1/audit", params={"limit": 1, "cursor": body["next_cursor"]}, headers=readonly
    )
    assert second.json()["items"][0]["id"] < body["items"][0]["id"]
    filtered = await client.get(
        "/api/v1/audit",
        params={"resource_type": "mandate", "resource_id": mandate_id, "action": "mandate.created"},
        headers=readonly,
    )
    assert [i["action"] for i in filtered.json()["items"]] == ["mandate.created"]
    assert (
        await client.get("/api/v1/audit", headers=world.a["customer_user"].key())
    ).status_code == 403
    bad_values = (
        ("since", "yesterday"),
        ("limit", "0"),
        ("actor_type", "robot"),
        ("cursor", "forged"),
    )
    for field, value in bad_values:
        bad = await client.get("/api/v1/audit", params={field: value}, headers=readonly)
        assert bad.status_code == 422, (field, bad.text)
        assert field in bad.text
    # Tenant B sees none of tenant A's rows.
    other = await client.get(
        "/api/v1/audit", params={"resource_id": mandate_id}, headers=admin(world, "b")
    )
    assert other.json()["items"] == []


async def test_export_streams_sealed_rows_and_verify_answers_for_the_tenant(client, world):
    await ingest(client, world, MintingIssuer())
    headers = admin(world)
    for _ in range(50):
        export = await client.get("/api/v1/audit/export", headers=headers)
        lines = [json.loads(line) for line in export.text.splitlines()]
        if len(lines) >= 3:
            break
        await asyncio.sleep(0.1)
    assert export.status_code == 200
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    from app.audit.chain import record_hash

    assert all(record_hash(line["record"]) == line["row_hash"] for line in lines)
    future = await client.get(
        "/api/v1/audit/export", params={"since": "2999-01-01T00:00:00Z"}, headers=headers
    )
    assert future.status_code == 200
    assert future.text == ""
    verified = await client.get("/api/v1/audit/verify", headers=world.a["readonly"].key())
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "intact"
    assert verified.json()["rows_checked"] >= 3


@pytest.mark.parametrize("path", ["/.well-known/jwks.json"])
async def test_the_vault_publishes_its_public_keys(client, path):
    keys = (await client.get(path)).json()["keys"]
    assert keys
    assert all(set(k) == {"kty", "crv", "x", "y", "kid", "alg", "use"} for k in keys)


async def test_exporting_again_signs_no_new_checkpoint_and_every_row_in_the_pack_is_proven(
    database_url, world, database
):
    from sqlalchemy import func, select

    from app.audit.worker import seal_all
    from app.models import AuditCheckpoint
    from tests.conftest import app_client, make_settings

    # No background sealer: only the exports themselves may seal or sign here.
    async for client in app_client(make_settings(database_url, audit_seal_interval=0)):
        mandate_id = await ingest(client, world, MintingIssuer())
        first = await pack_of(client, world, mandate_id)
        await seal_all(database)  # the first export's own row is linked, not checkpointed
        async with database.sessions() as session:
            before = await session.scalar(select(func.count()).select_from(AuditCheckpoint))
        second = await pack_of(client, world, mandate_id)
        async with database.sessions() as session:
            after = await session.scalar(select(func.count()).select_from(AuditCheckpoint))
        assert after == before  # the mandate's history was already under a checkpoint
        jwks = (await client.get("/.well-known/jwks.json")).json()
    for data in (first, second):
        report = verify_pack(data, jwks)
        assert report.ok, report
        assert not [f for f in report.findings if f.severity is Severity.WARNING]
    rows = json.loads(zipfile.ZipFile(io.BytesIO(second)).read("audit/rows.json"))
    actions = [row["record"]["action"] for row in rows["rows"]]
    assert "mandate.created" in actions
    assert "mandate.evidence_exported" not in actions  # not under a checkpoint yet
