"""The import and sweep commands, and the in-process sweeper, on both databases."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import select

from app.mandates.jobs import expiry_sweeper
from app.models import AuditLog, Mandate, Tenant
from tests.clock import ManualClock
from tests.conftest import run_cli
from tests.mandates.minting import MintingIssuer


async def seeded_tenant(database) -> tuple[uuid.UUID, MintingIssuer]:
    issuer = MintingIssuer()
    async with database.sessions() as session, session.begin():
        tenant = Tenant(name="Importer", slug=f"imp-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        await issuer.register(session, tenant.id)
    return tenant.id, issuer


async def test_import_a_file_with_a_summary_by_code(database, cli_env, tmp_path):
    tenant_id, issuer = await seeded_tenant(database)
    good = [issuer.token(scope=f"s{i}") for i in range(5)]
    lines = [json.dumps({"vc_jwt": t}) for t in good]
    lines += [
        json.dumps(good[0]),
        json.dumps({"vc_jwt": "garbage"}),
        "{not json",
        json.dumps({"vc_jwt": issuer.token(expires_in=-600)}),
    ]
    path = tmp_path / "mandates.jsonl"
    path.write_text("\n".join(lines) + "\n\n")

    result = run_cli(
        "mandates", "import", str(path), "--tenant", str(tenant_id), env=cli_env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "9 lines: 5 stored, 1 already present" in result.stdout
    for code, count in (
        ("VALID", "6"),
        ("INVALID_FORMAT", "1"),
        ("INVALID_LINE", "1"),
        ("EXPIRED", "1"),
    ):
        assert any(
            code in line and line.rstrip(" │").endswith(count)
            for line in result.stdout.splitlines()
        ), code
    async with database.sessions() as session:
        assert len((await session.scalars(select(Mandate.id))).all()) == 5


async def test_import_refuses_an_unknown_tenant(database_url, cli_env, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    result = run_cli(
        "mandates", "import", str(path), "--tenant", str(uuid.uuid4()), env=cli_env, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "no tenant with id" in result.stderr
    result = run_cli(
        "mandates", "import", str(path), "--tenant", "not-a-uuid", env=cli_env, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "--tenant is not a UUID" in result.stderr


async def test_sweep_command_and_in_process_sweeper(database, cli_env, tmp_path):
    tenant_id, issuer = await seeded_tenant(database)
    from app.issuers.trust import TrustLoader
    from app.mandates.schemas import MandateCreate
    from app.mandates.service import MandateService
    from tests.mandates.conftest import ACTOR

    clock = ManualClock()
    async with database.sessions() as session, session.begin():
        service = MandateService(
            session, tenant_id, ACTOR, TrustLoader(None), database.settings, clock
        )
        for _ in range(2):
            assert (await service.ingest(MandateCreate(vc_jwt=issuer.token(expires_in=1)))).created
    clock.advance(2)

    async def statuses() -> list[str]:
        async with database.sessions() as session:
            return list(await session.scalars(select(Mandate.status)))

    async with expiry_sweeper(database, interval=0.02, clock=clock):
        for _ in range(250):  # at most 5 s; the first round usually does it
            if await statuses() == ["expired", "expired"]:
                break
            await asyncio.sleep(0.02)
    async with database.sessions() as session:
        actions = (
            await session.scalars(
                select(AuditLog.action).where(AuditLog.action == "mandate.expired")
            )
        ).all()
    assert await statuses() == ["expired", "expired"]
    assert len(actions) == 2

    result = run_cli("mandates", "sweep", env=cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "expired 0 mandate(s)" in result.stdout
