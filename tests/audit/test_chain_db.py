"""The chain in a real database: sealing, checkpoints, verification, and tampering by SQL
behind the service's back, each found at the right position (both engines)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.audit.chain import entry_hash, genesis_hash
from app.audit.checkpoint import build_checkpoint, sign_checkpoint
from app.audit.report import Problem
from app.audit.service import audit_values, record_many
from app.audit.vault_keys import load_keyring, published_jwks, rotate_key
from app.audit.worker import checkpoint_once, seal_all, verify_all
from app.core.actor import Actor
from app.core.database import Database
from app.dbops.retention import run_retention
from app.models import Tenant
from app.signing import Keyring, generate_signing_key
from tests.conftest import make_settings

ACTOR = Actor("api_key", str(uuid.uuid4()), "customer_admin")


async def tenant(database: Database, name: str = "T") -> uuid.UUID:
    """A tenant row without its `tenant.created` audit row: these chains hold only test rows."""
    async with database.sessions.begin() as session:
        row = Tenant(name=name, slug=f"t-{uuid.uuid4().hex[:10]}")
        session.add(row)
    return row.id


async def write(database: Database, tenant_id: uuid.UUID, n: int, at: datetime | None = None):
    async with database.write_engine.begin() as connection:
        await record_many(
            connection,
            [
                audit_values(
                    tenant_id=tenant_id,
                    actor=ACTOR,
                    action="test.event",
                    resource_type="mandate",
                    resource_id=str(i),
                    details={"i": i},
                    at=at,
                )
                for i in range(n)
            ],
        )


async def sql(database: Database, statement: str, **params) -> None:
    async with database.write_engine.begin() as connection:
        await connection.execute(text(statement), params)


@pytest.fixture
def chain_settings(database_url):
    return make_settings(database_url, audit_checkpoint_max_rows=10, audit_seal_interval=0)


@pytest.fixture
async def db(chain_settings):
    database = Database(chain_settings)
    try:
        yield database
    finally:
        await database.dispose()


async def sealed_chain(db: Database, settings, rows: int = 30) -> tuple[str, Keyring]:
    """A tenant chain of `rows` sealed rows, checkpointed every 10."""
    tenant_id = await tenant(db)
    await write(db, tenant_id, rows)
    assert await seal_all(db) >= rows
    keyring = await load_keyring(db, settings)
    await checkpoint_once(db, keyring, settings, force=True)
    return str(tenant_id), keyring


async def report_of(db: Database, settings, chain: str):
    keyring = await load_keyring(db, settings)
    (report,) = await verify_all(db, keyring, settings, chains=[chain])
    return report


async def test_rows_commit_unsealed_and_the_sealer_links_them_gaplessly(db, chain_settings):
    a, b = await tenant(db, "A"), await tenant(db, "B")
    await write(db, a, 5)
    await write(db, b, 3)
    await write(db, a, 4)
    async with db.write_engine.connect() as connection:
        unsealed = (
            await connection.execute(text("SELECT count(*) FROM audit_log WHERE seq IS NULL"))
        ).scalar_one()
    assert unsealed >= 12
    await seal_all(db)
    async with db.write_engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT seq, prev_hash, row_hash FROM audit_log WHERE chain_id = :c ORDER BY seq"
                ),
                {"c": str(a)},
            )
        ).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == genesis_hash(str(a))
    assert all(rows[i].prev_hash == rows[i - 1].row_hash for i in range(1, len(rows)))
    keyring = await load_keyring(db, chain_settings)
    made = await checkpoint_once(db, keyring, chain_settings, force=True)
    assert {m.chain_id for m in made} >= {str(a), str(b)}
    reports = await verify_all(db, keyring, chain_settings)
    assert reports
    assert all(r.ok and r.retention_cut is None for r in reports), [r.summary() for r in reports]


async def test_the_signing_key_is_made_once_and_rotation_keeps_old_keys(db, chain_settings):
    first = await load_keyring(db, chain_settings)
    again = await load_keyring(db, chain_settings)
    assert again.kid == first.kid
    rotated = await rotate_key(db, chain_settings)
    assert rotated.kid != first.kid
    async with db.write_engine.connect() as connection:
        kids = [k["kid"] for k in (await published_jwks(connection))["keys"]]
    assert kids == [rotated.kid, first.kid]
    assert (await load_keyring(db, chain_settings)).kid == rotated.kid


async def test_an_intact_chain_and_its_checkpoints_verify(db, chain_settings):
    chain, _ = await sealed_chain(db, chain_settings)
    report = await report_of(db, chain_settings, chain)
    assert report.ok
    assert report.rows_checked == 30
    assert report.checkpoints_checked == 3


def broken(report, problem: Problem, seq: int) -> None:
    assert report.broken is not None, report.summary()
    assert (report.broken.problem, report.broken.seq) == (problem, seq), report.summary()


async def test_an_edited_field_is_found_at_its_row(db, chain_settings):
    chain, _ = await sealed_chain(db, chain_settings)
    await sql(db, "UPDATE audit_log SET action = 'x.y' WHERE chain_id = :c AND seq = 12", c=chain)
    broken(await report_of(db, chain_settings, chain), Problem.ROW_EDITED, 12)


async def test_a_deleted_middle_row_is_found(db, chain_settings):
    chain, _ = await sealed_chain(db, chain_settings)
    await sql(db, "DELETE FROM audit_log WHERE chain_id = :c AND seq = 15", c=chain)
    broken(await report_of(db, chain_settings, chain), Problem.ROW_MISSING, 15)


async def test_deleting_the_newest_rows_is_found(db, chain_settings):
    chain, _ = await sealed_chain(db, chain_settings)
    await sql(db, "DELETE FROM audit_log WHERE chain_id = :c AND seq >= 28", c=chain)
    broken(await report_of(db, chain_settings, chain), Problem.TAIL_TRUNCATED, 28)


async def test_two_swapped_rows_are_named(db, chain_settings):
    chain, _ = await sealed_chain(db, chain_settings)
    columns = "action, resource_id, details, prev_hash, row_hash, timestamp, request_id"
    async with db.write_engine.begin() as connection:
        found = []
        for seq in (5, 8):
            result = await connection.execute(
                text(f"SELECT {columns} FROM audit_log WHERE chain_id = :c AND seq = :s"),
                {"c": chain, "s": seq},
            )
            found.append(result.mappings().one())
        first, second = found
        for seq, values in ((5, second), (8, first)):
            data = dict(values)
            if not isinstance(data["details"], str):
                data["details"] = json.dumps(data["details"])
            cast = "CAST(:details AS JSONB)" if db.backend == "postgresql" else ":details"
            await connection.execute(
                text(
                    "UPDATE audit_log SET action = :action, resource_id = :resource_id, "
                    f"details = {cast}, prev_hash = :prev_hash, row_hash = :row_hash, "
                    "timestamp = :timestamp, request_id = :request_id "
                    "WHERE chain_id = :c AND seq = :s"
                ),
                {**data, "c": chain, "s": seq},
            )
    report = await report_of(db, chain_settings, chain)
    broken(report, Problem.ROWS_SWAPPED, 5)
    assert report.broken is not None
    assert report.broken.other_seq == 8


async def test_a_forged_row_inserted_is_named(db, chain_settings):
    chain, _ = await sealed_chain(db, chain_settings)
    # Make room at seq 17 (in two steps: the unique index is checked per row).
    await sql(
        db, "UPDATE audit_log SET seq = seq + 1000 WHERE chain_id = :c AND seq >= 17", c=chain
    )
    await sql(
        db, "UPDATE audit_log SET seq = seq - 999 WHERE chain_id = :c AND seq >= 1000", c=chain
    )
    async with db.write_engine.connect() as connection:
        prev = (
            await connection.execute(
                text("SELECT row_hash FROM audit_log WHERE chain_id = :c AND seq = 16"),
                {"c": chain},
            )
        ).scalar_one()
    when = datetime.now(UTC)
    from app.audit.chain import AuditRow

    forged = AuditRow(chain, 17, when, "system", "mandate.revoked", details={})
    row_hash = entry_hash(forged, 17, prev)
    timestamp = when if db.backend == "postgresql" else when.replace(tzinfo=None).isoformat(" ")
    await sql(
        db,
        "INSERT INTO audit_log (tenant_id, chain_id, seq, timestamp, actor_type, action, details, "
        "prev_hash, row_hash) VALUES (NULL, :c, 17, :t, 'system', 'mandate.revoked', '{}', :p, :h)",
        c=chain,
        t=timestamp,
        p=prev,
        h=row_hash,
    )
    broken(await report_of(db, chain_settings, chain), Problem.ROW_INSERTED, 17)


async def test_a_replaced_checkpoint_is_found(db, chain_settings):
    chain, _ = await sealed_chain(db, chain_settings)
    async with db.write_engine.connect() as connection:
        hashes = [
            str(h)
            for h in (
                await connection.execute(
                    text(
                        "SELECT row_hash FROM audit_log WHERE chain_id = :c AND seq BETWEEN 11 "
                        "AND 20 ORDER BY seq"
                    ),
                    {"c": chain},
                )
            ).scalars()
        ]
    other = Keyring.of(generate_signing_key())
    jws = sign_checkpoint(build_checkpoint(chain, 11, hashes, datetime.now(UTC)), other)
    await sql(
        db, "UPDATE audit_checkpoints SET jws = :j WHERE chain_id = :c AND seq = 20", j=jws, c=chain
    )
    broken(await report_of(db, chain_settings, chain), Problem.CHECKPOINT_UNKNOWN_KEY, 20)


async def test_retention_anchors_and_a_raw_prefix_delete_is_a_warning(db, chain_settings):
    tenant_id = await tenant(db)
    chain = str(tenant_id)
    old = datetime.now(UTC) - timedelta(days=400)
    await write(db, tenant_id, 12, at=old)
    await seal_all(db)
    await write(db, tenant_id, 8)
    await seal_all(db)
    keyring = await load_keyring(db, chain_settings)
    await checkpoint_once(db, keyring, chain_settings, force=True)
    report = await run_retention(db)
    assert report["audit_log"]["deleted"] >= 12
    assert report["audit_log"]["anchors"] >= 1
    verified = await report_of(db, chain_settings, chain)
    assert verified.ok, verified.summary()
    assert verified.anchor_seq == 12
    assert verified.retention_cut is None
    # The guide's cron job: a raw prefix delete without an anchor.
    await write(db, tenant_id, 5)
    await seal_all(db)
    await sql(db, "DELETE FROM audit_log WHERE chain_id = :c AND seq <= 15", c=chain)
    cut = await report_of(db, chain_settings, chain)
    assert cut.ok, cut.summary()
    assert cut.retention_cut is not None
    assert cut.retention_cut.oldest_kept_seq == 16


async def test_retention_never_cuts_rows_past_the_newest_checkpoint(db, chain_settings):
    tenant_id = await tenant(db)
    await write(db, tenant_id, 6, at=datetime.now(UTC) - timedelta(days=400))
    await seal_all(db)
    report = await run_retention(db)
    assert report["audit_log"]["deleted"] == 0  # sealed, not yet signed
    keyring = await load_keyring(db, chain_settings)
    await checkpoint_once(db, keyring, chain_settings, force=True)
    assert (await run_retention(db))["audit_log"]["deleted"] == 6
    # The chain goes on after the anchor: the next checkpoint starts right after it.
    await write(db, tenant_id, 3)
    await seal_all(db)
    made = await checkpoint_once(db, keyring, chain_settings, force=True)
    assert [(m.first_seq, m.seq) for m in made if m.chain_id == str(tenant_id)] == [(7, 9)]
    verified = await report_of(db, chain_settings, str(tenant_id))
    assert verified.ok, verified.summary()
    assert verified.anchor_seq == 6
