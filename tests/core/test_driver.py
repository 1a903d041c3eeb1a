"""Hot reads on the driver's own connection give exactly SQLAlchemy's rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, func, literal, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.core import driver
from app.core.database import Database
from app.core.db_failures import DbFailure, classify
from app.mandates.repository import _INSERT_NEW, MandateRepository
from app.mandates.search import MandateSearch
from app.models import Mandate
from app.models.base import table_of
from tests.conftest import make_settings, terminate_backend
from tests.factories import mandate_row, new_customer, new_mandate

MANDATES = table_of(Mandate)


class Timed:
    """Records what the driver reports having sent on one engine."""

    def __init__(self, database: Database) -> None:
        self.statements: list[str] = []
        driver.timers[database.write_engine.sync_engine.pool] = self

    def __call__(self, seconds: float, statement: str, many: bool) -> None:
        assert seconds >= 0
        assert many is False
        self.statements.append(statement)


async def _tenant_with_mandates(database: Database) -> uuid.UUID:
    later = datetime(2031, 5, 4, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    async with database.sessions() as session, session.begin():
        tenant = new_customer()
        session.add(tenant)
        await session.flush()
        session.add_all(
            [
                new_mandate(
                    tenant.id,
                    issuer_did="did:web:a.example",
                    amount_limit=Decimal("1234567890123.4567"),
                    currency="EUR",
                    labels={"team": "ops", "ünï": "cödé"},
                    details={"big": 2**70, "nested": [1, {"x": None}]},
                    merchants=["m1", "m2"],
                    not_before=later - timedelta(days=3),
                    expires_at=later,
                ),
                new_mandate(tenant.id, issuer_did="did:web:b.example", scope="payments"),
                new_mandate(
                    tenant.id,
                    issuer_did="did:web:b.example",
                    status="revoked",
                    revoked_at=datetime.now(UTC),
                    revocation_reason="lost",
                ),
            ]
        )
    return tenant.id


async def test_rows_on_the_driver_equal_sqlalchemy_rows(database, engine_name):
    """Every column type (money, zoned times, JSON with big integers, UUIDs, nulls)
    comes back the same from an autocommit read as from a unit of work."""
    tenant_id = await _tenant_with_mandates(database)
    timed = Timed(database)
    query = select(*MANDATES.c).where(MANDATES.c.tenant_id == tenant_id).order_by(MANDATES.c.id)
    async with database.primary_reads() as session:
        direct = await driver.select_rows(session, query)
    async with database.sessions() as session, session.begin():
        through_sqlalchemy = await driver.select_rows(session, query)
    assert len(direct) == 3
    assert direct == through_sqlalchemy
    for fast, slow in zip(direct, through_sqlalchemy, strict=True):
        assert {k: type(v) for k, v in fast._asdict().items()} == {
            k: type(v) for k, v in slow._asdict().items()
        }
    first = next(row for row in direct if row.currency == "EUR")
    assert first.amount_limit == Decimal("1234567890123.4567")
    assert first.details == {"big": 2**70, "nested": [1, {"x": None}]}
    assert first.expires_at.utcoffset() == timedelta(0)
    # Every timestamp is aware UTC on both paths (on asyncpg without a conversion).
    moments = [v for row in direct + through_sqlalchemy for v in row]
    assert all(v.tzinfo is UTC for v in moments if isinstance(v, datetime))
    assert first.expires_at == datetime(2031, 5, 4, 10, 30, tzinfo=UTC)
    # Only the autocommit read on PostgreSQL went to the driver; the unit of work
    # and SQLite ran through SQLAlchemy.
    assert len(timed.statements) == (1 if engine_name == "postgres" else 0)


async def test_a_search_shape_compiles_once_and_takes_each_requests_values(database, engine_name):
    tenant_id = await _tenant_with_mandates(database)
    timed = Timed(database)
    now = datetime.now(UTC)
    found = {}
    for issuer in ("did:web:a.example", "did:web:b.example", "did:web:none.example"):
        async with database.primary_reads() as session:
            rows = await MandateRepository(session, tenant_id).search(
                MandateSearch(issuer_did=issuer, status="active"), now, None
            )
        found[issuer] = [row.issuer_did for row in rows]
    assert found == {
        "did:web:a.example": ["did:web:a.example"],
        "did:web:b.example": ["did:web:b.example"],  # the revoked one is not active
        "did:web:none.example": [],
    }
    if engine_name == "postgres":
        assert len(timed.statements) == 3
        assert len(set(timed.statements)) == 1  # one SQL text, three sets of values
    else:
        assert timed.statements == []


async def test_another_tenants_rows_are_not_read(database):
    tenant_id = await _tenant_with_mandates(database)
    other = await _tenant_with_mandates(database)
    async with database.primary_reads() as session:
        mine = await MandateRepository(session, tenant_id).search(
            MandateSearch(limit=200), datetime.now(UTC), None
        )
        one_of_theirs = await MandateRepository(session, other).search(
            MandateSearch(limit=1), datetime.now(UTC), None
        )
        crossed = await MandateRepository(session, tenant_id).read(one_of_theirs[0].id)
    assert len(mine) == 3
    assert crossed is None


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_an_expanding_in_list_runs_through_sqlalchemy(database):
    tenant_id = await _tenant_with_mandates(database)
    timed = Timed(database)
    query = select(MANDATES.c.issuer_did).where(
        MANDATES.c.tenant_id == tenant_id,
        MANDATES.c.issuer_did.in_(["did:web:a.example", "did:web:x.example"]),
    )
    async with database.primary_reads() as session:
        rows = await driver.select_rows(session, query)
    assert [row.issuer_did for row in rows] == ["did:web:a.example"]
    assert timed.statements == []


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_a_connection_the_server_closed_is_dropped_and_the_read_answered(database_url):
    """In steady use no ping is spent; when the server closed the pooled
    connection, the driver's failure drops it and SQLAlchemy answers the read on
    a new one."""
    database = Database(make_settings(database_url, db_pool_pre_ping_idle_seconds=60))
    pid = select(func.pg_backend_pid().label("pid"))
    try:
        timed = Timed(database)
        async with database.primary_reads() as session:
            first = (await driver.select_rows(session, pid))[0].pid
        await terminate_backend(database_url, first)
        async with database.primary_reads() as session:
            second = (await driver.select_rows(session, pid))[0].pid
        assert second != first
        assert len(timed.statements) == 1  # the failed attempt is not timed as a statement
        async with database.primary_reads() as session:
            assert (await driver.select_rows(session, pid))[0].pid == second
        assert len(timed.statements) == 2  # and the pool's new connection serves the driver
    finally:
        await database.dispose()


# --- writes in the session's transaction -------------------------------------------


def _new_row(tenant_id: uuid.UUID, **values) -> dict:
    return mandate_row(tenant_id, **values)  # every column but `format` (its default)


def _insert(database: Database) -> Any:
    """The ingest's INSERT ... ON CONFLICT DO NOTHING RETURNING id."""
    return _INSERT_NEW[database.write_engine.dialect.name]


async def _count(database: Database, tenant_id: uuid.UUID) -> int:
    async with database.sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(MANDATES).where(MANDATES.c.tenant_id == tenant_id)
        )
    return int(found or 0)


async def test_a_write_commits_and_rolls_back_with_its_session(database, engine_name):
    """The driver's statement is in the session's transaction even when it is the
    transaction's first: a rollback takes it back, a commit keeps it."""
    tenant_id = await _tenant_with_mandates(database)
    timed = Timed(database)
    insert = _insert(database)
    async with database.sessions() as session:
        rows = await driver.write_rows(session, insert, _new_row(tenant_id))
        assert len(rows) == 1
        await session.rollback()
    assert await _count(database, tenant_id) == 3
    row = _new_row(tenant_id)
    async with database.sessions() as session:
        inserted = await driver.write_rows(session, insert, row)
        again = await driver.write_rows(session, insert, {**row, "id": uuid.uuid4()})
        await session.commit()
    assert [r.id for r in inserted] == [row["id"]]
    assert again == []  # the same token: ON CONFLICT DO NOTHING returns no row
    assert await _count(database, tenant_id) == 4
    async with database.sessions() as session:
        stored = await session.get(Mandate, row["id"])
        assert stored is not None
        assert stored.format == "vc-jwt"  # the column's scalar default, sent by the driver
        assert stored.details == row["details"]
    assert len(timed.statements) == (3 if engine_name == "postgres" else 0)


async def test_a_write_after_orm_changes_keeps_their_order(database):
    """Pending ORM rows are flushed before the driver's statement, which may
    depend on them (a mandate of a tenant added in the same transaction)."""
    async with database.sessions() as session:
        tenant = new_customer(id=uuid.uuid4())
        session.add(tenant)  # pending: only a flush writes it
        insert = _insert(database)
        rows = await driver.write_rows(session, insert, _new_row(tenant.id))
        await session.commit()
    assert len(rows) == 1
    assert await _count(database, tenant.id) == 1


async def test_a_refused_write_raises_sqlalchemys_error_and_the_session_recovers(
    database, engine_name
):
    tenant_id = await _tenant_with_mandates(database)
    insert = _insert(database)
    async with database.sessions() as session:
        existing = await session.scalar(
            select(MANDATES.c.id).where(MANDATES.c.tenant_id == tenant_id)
        )
    async with database.sessions() as session:
        with pytest.raises(IntegrityError):  # the same primary key, another token
            await driver.write_rows(session, insert, _new_row(tenant_id, id=existing))
        await session.rollback()
        assert len(await driver.write_rows(session, insert, _new_row(tenant_id))) == 1
        await session.commit()
    assert await _count(database, tenant_id) == 4


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_a_write_on_a_lost_connection_is_an_outage_not_a_bug(database_url):
    """The server closed the transaction's connection: the error is SQLAlchemy's,
    marked invalidated (so the service answers 503), and the pool moves on."""
    database = Database(make_settings(database_url, db_pool_pre_ping_idle_seconds=60))
    try:
        tenant_id = await _tenant_with_mandates(database)
        insert = _insert(database)
        async with database.sessions() as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            await terminate_backend(database_url, int(pid or 0))
            with pytest.raises(DBAPIError) as raised:
                await driver.write_rows(session, insert, _new_row(tenant_id))
            await session.rollback()
        assert raised.value.connection_invalidated
        assert classify(raised.value) is DbFailure.UNAVAILABLE
        async with database.sessions() as session:
            assert len(await driver.write_rows(session, insert, _new_row(tenant_id))) == 1
            await session.commit()
        assert await _count(database, tenant_id) == 4
    finally:
        await database.dispose()


async def test_read_sessions_give_back_every_connection(database, engine_name):
    """A read the driver answers leaves its session untouched; a session that ran
    a statement, loaded a row or failed is closed, its connection back in the pool."""
    tenant_id = await _tenant_with_mandates(database)
    engines = database.engines()
    query = select(MANDATES.c.id).where(MANDATES.c.tenant_id == tenant_id)
    async with database.primary_reads() as session:
        rows = await driver.select_rows(session, query)
        # PostgreSQL: on the driver, with no SQLAlchemy transaction in the session.
        assert session.in_transaction() is (engine_name == "sqlite")
    assert len(rows) == 3
    async with database.read_sessions() as session:
        loaded = list(await session.scalars(select(Mandate).where(Mandate.tenant_id == tenant_id)))
        assert session.in_transaction()
    assert len(loaded) == 3
    with pytest.raises(DBAPIError):
        async with database.primary_reads() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
    for engine in engines.values():
        assert engine.sync_engine.pool.checkedout() == 0, engine


async def test_a_unit_of_work_gives_back_its_connection_however_it_ends(database, engine_name):
    """Committed with its write on the driver (nothing left to close), with rows
    loaded, or rolled back by an error: each unit of work's connection is back in
    the pool, and only the committed writes stay."""
    from app.web.sessions import unit_of_work

    tenant_id = await _tenant_with_mandates(database)
    pool = database.write_engine.sync_engine.pool
    async with unit_of_work(database) as session:
        await driver.write_rows(session, _insert(database), _new_row(tenant_id))
    assert not session.in_transaction()
    async with unit_of_work(database) as session:
        loaded = list(await session.scalars(select(Mandate).where(Mandate.tenant_id == tenant_id)))
        session.add(new_mandate(tenant_id))
    assert len(loaded) == 4
    assert not session.identity_map  # closed: its rows detached

    async def refused() -> None:
        async with unit_of_work(database) as session:
            await driver.write_rows(session, _insert(database), _new_row(tenant_id))
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await refused()
    assert pool.checkedout() == 0
    assert await _count(database, tenant_id) == 5


# --- a unit of work's sole write, alone in autocommit --------------------------------


async def test_a_sole_write_commits_alone_with_no_transaction(database, engine_name):
    """PostgreSQL: the write is committed when it returns (another session sees
    it while the unit of work is still open), and the session began no
    transaction and holds no connection. SQLite: it is in the transaction as usual."""
    from app.web.sessions import unit_of_work

    tenant_id = await _tenant_with_mandates(database)
    timed = Timed(database)
    pool = database.write_engine.sync_engine.pool
    async with unit_of_work(database) as session:
        rows = await driver.write_rows(session, _insert(database), _new_row(tenant_id), sole=True)
        assert len(rows) == 1
        alone = engine_name == "postgres"
        assert session.in_transaction() is not alone
        if alone:
            assert pool.checkedout() == 0
            assert await _count(database, tenant_id) == 4  # committed already
            assert len(timed.statements) == 1
    assert await _count(database, tenant_id) == 4
    assert pool.checkedout() == 0


async def test_a_sole_write_after_other_statements_is_in_their_transaction(database):
    """Once the session has begun a transaction (or holds pending rows), `sole`
    changes nothing: a rollback still takes the write back."""
    tenant_id = await _tenant_with_mandates(database)
    async with database.unit_of_work_session() as session:
        await session.execute(select(func.count()).select_from(MANDATES))
        await driver.write_rows(session, _insert(database), _new_row(tenant_id), sole=True)
        await session.rollback()
    async with database.unit_of_work_session() as session:
        tenant = new_customer(id=uuid.uuid4())
        session.add(tenant)
        await driver.write_rows(session, _insert(database), _new_row(tenant.id), sole=True)
        await session.rollback()
    assert await _count(database, tenant_id) == 3
    assert await _count(database, tenant.id) == 0


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_nothing_may_follow_a_sole_write_that_stored_rows(database):
    """A second write through the driver raises at once; any other statement is
    refused when the unit of work ends, and rolled back. A sole write that stored
    nothing (the token was held) leaves the unit of work free."""
    from app.web.sessions import unit_of_work

    tenant_id = await _tenant_with_mandates(database)
    row = _new_row(tenant_id)

    async def write_twice() -> None:
        async with unit_of_work(database) as session:
            await driver.write_rows(session, _insert(database), row, sole=True)
            await driver.write_rows(session, _insert(database), _new_row(tenant_id))

    async def then_flush() -> None:
        async with unit_of_work(database) as session:
            await driver.write_rows(session, _insert(database), _new_row(tenant_id), sole=True)
            session.add(new_mandate(tenant_id))
            await session.flush()

    with pytest.raises(RuntimeError, match="sole write"):
        await write_twice()
    with pytest.raises(RuntimeError, match="after its sole write"):
        await then_flush()
    assert await _count(database, tenant_id) == 5  # the two sole writes only
    async with unit_of_work(database) as session:
        again = {**row, "id": uuid.uuid4()}  # the same token: ON CONFLICT DO NOTHING
        assert await driver.write_rows(session, _insert(database), again, sole=True) == []
        session.add(new_mandate(tenant_id))
    assert await _count(database, tenant_id) == 6
    assert database.write_engine.sync_engine.pool.checkedout() == 0


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_a_refused_sole_write_raises_sqlalchemys_error_and_its_connection_returns(
    database,
):
    from app.web.sessions import unit_of_work

    tenant_id = await _tenant_with_mandates(database)
    async with database.sessions() as session:
        existing = await session.scalar(
            select(MANDATES.c.id).where(MANDATES.c.tenant_id == tenant_id)
        )

    async def clash() -> None:
        async with unit_of_work(database) as session:
            row = _new_row(tenant_id, id=existing)  # the same primary key, another token
            await driver.write_rows(session, _insert(database), row, sole=True)

    with pytest.raises(IntegrityError):
        await clash()
    assert database.write_engine.sync_engine.pool.checkedout() == 0
    async with unit_of_work(database) as session:
        await driver.write_rows(session, _insert(database), _new_row(tenant_id), sole=True)
    assert await _count(database, tenant_id) == 4


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_a_sole_write_on_a_lost_connection_is_an_outage_not_a_bug(database_url):
    """The pooled connection the write takes was closed by the server: the error
    is SQLAlchemy's, marked invalidated (503), the connection is dropped and the
    next unit of work writes."""
    from app.web.sessions import unit_of_work

    database = Database(make_settings(database_url, db_pool_pre_ping_idle_seconds=60))
    try:
        tenant_id = await _tenant_with_mandates(database)
        async with database.write_engine.connect() as connection:  # the pool's one connection
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        await terminate_backend(database_url, int(pid or 0))

        async def write() -> None:
            async with unit_of_work(database) as session:
                await driver.write_rows(session, _insert(database), _new_row(tenant_id), sole=True)

        with pytest.raises(DBAPIError) as raised:
            await write()
        assert raised.value.connection_invalidated
        assert classify(raised.value) is DbFailure.UNAVAILABLE
        async with unit_of_work(database) as session:
            await driver.write_rows(session, _insert(database), _new_row(tenant_id), sole=True)
        assert await _count(database, tenant_id) == 4
        assert database.write_engine.sync_engine.pool.checkedout() == 0
    finally:
        await database.dispose()


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
async def test_values_given_by_name_are_the_values_sqlalchemy_constructs(database):
    """A statement whose binds are all named takes its values from the caller's
    mapping directly; one with values of its own (a literal in the WHERE clause)
    goes through construct_params. Either way: SQLAlchemy's values, in order."""
    from app.mandates.repository import _READ_ONE

    dialect = database.write_engine.dialect
    tenant_id = uuid.uuid4()
    row = _new_row(tenant_id)
    literal = select(MANDATES.c.id).where(
        MANDATES.c.tenant_id == tenant_id, MANDATES.c.scope == bindparam("scope")
    )
    cases = [
        (_insert(database), row, tuple(sorted(row)), True),
        (_READ_ONE, {"tenant_id": tenant_id, "id": row["id"]}, (), True),
        (literal, {"scope": "payments"}, (), False),
    ]
    for statement, params, column_keys, by_name in cases:
        key = statement._generate_cache_key()
        entry = driver._compile(statement, dialect, key, column_keys)
        assert entry is not None
        assert entry.by_name is by_name
        named = entry.compiled.construct_params(
            {**entry.defaults, **params}, extracted_parameters=key.bindparams
        )
        expected = [
            value if process is None else process(value)
            for value, process in zip((named[n] for n in entry.names), entry.binds, strict=True)
        ]
        assert driver._arguments(entry, key, params) == expected
    # The last case's tenant id came from the statement, its scope from the caller.
    assert [str(value) for value in expected] == [str(tenant_id), "payments"]


async def test_a_read_session_left_as_it_was_made_is_used_again(database, engine_name):
    """A read the driver answered leaves its session untouched: the next read on
    the primary gets that session back. One that loaded rows, or whose info was
    changed, is closed and never handed out again."""
    tenant_id = await _tenant_with_mandates(database)
    query = select(MANDATES.c.id).where(MANDATES.c.tenant_id == tenant_id)
    seen = []
    for _ in range(3):
        async with database.primary_reads() as session:
            assert len(await driver.select_rows(session, query)) == 3
            seen.append(session)
    if engine_name == "postgres":
        assert seen[0] is seen[1] is seen[2]
    else:  # SQLite reads run through SQLAlchemy: each session was used
        assert len({id(s) for s in seen}) == 3
    async with database.read_sessions() as session:
        loaded = list(await session.scalars(select(Mandate).where(Mandate.tenant_id == tenant_id)))
        assert len(loaded) == 3
    used = session
    async with database.primary_reads() as session:
        session.info["marked"] = True
    marked = session
    for _ in range(3):
        async with database.primary_reads() as session:
            assert session is not used
            assert session is not marked
            assert "marked" not in session.info
            await driver.select_rows(session, query)
    assert not used.identity_map  # closed when its block ended
    assert database.write_engine.sync_engine.pool.checkedout() == 0


async def test_rows_are_read_by_attribute_whatever_their_keys(database, engine_name):
    """Keys a named tuple cannot have (a leading underscore, a repeated or non-identifier
    name) still come back as attributes, on both paths."""
    await _tenant_with_mandates(database)
    query = select(
        literal(1).label("plain"), literal(2).label("_hidden"), literal(3).label("class")
    )
    async with database.primary_reads() as session:
        (direct,) = await driver.select_rows(session, query)
    async with database.sessions() as session, session.begin():
        (through_sqlalchemy,) = await driver.select_rows(session, query)
    for row in (direct, through_sqlalchemy):
        assert (row.plain, row._hidden, getattr(row, "class")) == (1, 2, 3)
    (named,) = await _select_plain(database)
    assert named._fields == ("id", "currency")
    assert tuple(named) == (named.id, named.currency)


async def _select_plain(database):
    async with database.primary_reads() as session:
        return await driver.select_rows(
            session, select(MANDATES.c.id, MANDATES.c.currency).limit(1)
        )


def test_asyncpg_rows_of_a_mandate_need_no_processing():
    """asyncpg gives every column of a mandate as the rows hold it (amounts as Decimals,
    times as aware UTC), so the driver makes a page's rows without copying each one;
    other drivers, and a money value the server sends as another type, are processed."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
    from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect

    from app.models.base import NUMERIC_OID, Money

    on_asyncpg = asyncpg_dialect()
    processors = {
        column.name: column.type.dialect_impl(on_asyncpg).result_processor(
            on_asyncpg, NUMERIC_OID if isinstance(column.type, Money) else None
        )
        for column in MANDATES.c
    }
    assert {name for name, process in processors.items() if process is not None} == set()
    float8 = 701
    assert Money().dialect_impl(on_asyncpg).result_processor(on_asyncpg, float8) is not None
    on_sqlite = aiosqlite_dialect()
    assert Money().dialect_impl(on_sqlite).result_processor(on_sqlite, None) is not None


async def test_a_json_column_read_as_its_text_is_embedded_as_stored(database):
    """`as_json_text` rows hold the stored JSON text as an orjson.Fragment, on the
    driver (PostgreSQL) and through SQLAlchemy (SQLite): the answer writes it as it
    is, and it says what the column holds."""
    import orjson

    from app.models.base import as_json_text

    tenant_id = await _tenant_with_mandates(database)
    details = {"b": [1, 2.5, None], "a": 'café "☕"\n', "n": 12345678901234567890123}
    async with database.sessions() as session:
        await session.execute(
            MANDATES.update().where(MANDATES.c.tenant_id == tenant_id).values(details=details)
        )
        await session.commit()
    query = select(MANDATES.c.id, as_json_text(MANDATES.c.details)).where(
        MANDATES.c.tenant_id == tenant_id
    )
    async with database.primary_reads() as session:
        rows = await driver.select_rows(session, query)
    assert len(rows) == 3
    for row in rows:
        assert type(row.details) is orjson.Fragment
        assert orjson.loads(orjson.dumps({"details": row.details}))["details"] == {
            **details,
            "n": float(details["n"]),  # orjson reads past 64 bits as a float; json would not
        }
        written = orjson.dumps({"details": row.details}).decode()
        assert "12345678901234567890123" in written  # every digit as stored


def test_only_a_column_that_cannot_be_null_is_read_as_json_text():
    from app.models.base import as_json_text

    with pytest.raises(ValueError, match="may be NULL"):
        as_json_text(table_of(Mandate).c.issued_at)


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
@pytest.mark.parametrize("statement", ["read", "sole write"])
async def test_a_statement_cancelled_mid_way_gives_its_connection_up(database, statement):
    """A read or sole write on a connection of its own, cancelled while the server runs it, drops
    that connection rather than pooling it mid-statement, and closes it the way
    SQLAlchemy closes an invalidated connection in its greenlet: the statement is
    cancelled on the server and the session ends. (Outside a greenlet the close is
    a hard one, which also drops the driver's pending cancel request: the server
    ran the abandoned statement to its end.) The pool stays usable."""
    import asyncio

    asleep = func.pg_sleep(5) != None  # noqa: E711 - SQL's IS NOT NULL
    pool = database.write_engine.sync_engine.pool
    tenant_id = await _tenant_with_mandates(database)

    async def read() -> list[Any]:
        if statement == "read":
            async with database.primary_reads() as session:
                return await driver.select_rows(session, select(asleep.label("done")))
        change = MANDATES.update().where(MANDATES.c.tenant_id == bindparam("tenant"), asleep)
        # Every value given, none computed by SQLAlchemy: a statement the driver sends.
        change = change.values(scope=bindparam("scope"), updated_at=bindparam("now"))
        values = {"tenant": tenant_id, "scope": "x", "now": datetime.now(UTC)}
        async with database.unit_of_work_session() as session:
            return await driver.write_rows(session, change, values, sole=True)

    sleeping = text(
        "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(%' "
        "AND state = 'active' AND pid <> pg_backend_pid()"
    )

    async def sleeper() -> list[int]:
        async with database.write_engine.connect() as connection:
            return list((await connection.scalars(sleeping)).all())

    task = asyncio.create_task(read())
    for _ in range(200):  # until the statement runs on the server
        await asyncio.sleep(0.02)
        if running := await sleeper():
            break
    assert len(running) == 1
    checked_out = pool.checkedout()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.checkedout() == checked_out - 1  # given up, not left checked out
    # Its server session ends: pooled, it would stay; hard-closed, it would sleep on.
    alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    for _ in range(100):
        async with database.write_engine.connect() as connection:
            if not await connection.scalar(alive, {"pid": running[0]}):
                break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the cancelled read's server session lives on")
    async with database.primary_reads() as session:
        fast = await driver.select_rows(session, select(literal(1).label("one")))
    assert [row.one for row in fast] == [1]
