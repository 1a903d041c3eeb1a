"""Every query on `mandates` and `idempotency_keys`, scoped to one tenant by the
base statement; `due_for_expiry` is the one platform-wide query (the sweep)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Insert,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.cursor import Position
from app.core.driver import select_rows, write_rows
from app.core.repository import FollowUp, TenantScopedRepository
from app.mandates.search import MandateSearch
from app.mandates.search_query import LISTED_AS_TEXT, search_query
from app.models import Ap2Receipt, IdempotencyKey, Mandate
from app.models.base import table_of

_TABLE = table_of(Mandate)


def _unless_stored(statement: Any) -> Insert:
    """An INSERT of a mandate that does nothing when the tenant holds its token
    already, returning the id of a row it stores."""
    return statement.on_conflict_do_nothing(index_elements=["tenant_id", "token_sha256"]).returning(
        _TABLE.c.id
    )


# Built once per dialect (Core table, no ORM bulk machinery): the ingest hot path.
_INSERT_NEW = {
    name: _unless_stored(insert(_TABLE))
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


@lru_cache(maxsize=16)
def _insert_then(columns: tuple[str, ...], wrap: Callable[[Insert], Insert]) -> Insert:
    """The PostgreSQL `_INSERT_NEW` with a follow-up (`FollowUp.wrap`), built once
    per set of columns (a submission always names the same ones). A
    data-modifying CTE takes no values at execution, so each column named has a
    bound value in the statement."""
    values = {name: bindparam(name, type_=_TABLE.c[name].type) for name in columns}
    return wrap(_unless_stored(pg_insert(_TABLE).values(values)))


# Built once: GET of one mandate is a hot path (no statement building per request).
# What GET shows, as a list shows it: no raw token, JSON columns as their text.
_READ_ONE = select(*LISTED_AS_TEXT).where(
    table_of(Mandate).c.tenant_id == bindparam("tenant_id"),
    table_of(Mandate).c.id == bindparam("id"),
)


class MandateRepository(TenantScopedRepository[Mandate]):
    model = Mandate

    async def insert_new(
        self, values: dict[str, Any], then: FollowUp | None = None, *, sole: bool = False
    ) -> bool:
        """INSERT unless this tenant already holds the token; True when inserted.

        One statement (ON CONFLICT DO NOTHING), so two concurrent submissions of
        one token can neither both insert nor fail. `then` (the mandate's audit
        row) is written only when the row is: on PostgreSQL in the same statement.
        `sole`: nothing else is written in this unit of work (`write_rows`).
        """
        self.owns(values)
        dialect = self._dialect()
        if then is not None and dialect == "postgresql":
            statement = _insert_then(tuple(sorted(values)), then.wrap)
            params = {**values, **then.params}
            return bool(await write_rows(self.session, statement, params, sole=sole))
        if then is not None:
            sole = False  # the follow-up is a second statement
        inserted = bool(await write_rows(self.session, _INSERT_NEW[dialect], values, sole=sole))
        if inserted and then is not None:
            await then.separately(self.session)
        return inserted

    async def read(self, mandate_id: Any) -> Any | None:
        """One mandate as a Core row of what GET shows (the JSON columns as their
        stored text, `LISTED_AS_TEXT`), for the API's answer: no ORM identity map
        or instance is built for a read-only answer."""
        rows = await select_rows(
            self.session, _READ_ONE, {"tenant_id": self.tenant_id, "id": mandate_id}
        )
        return rows[0] if rows else None

    async def by_token_hash(self, token_sha256: str) -> Mandate | None:
        return await self.session.scalar(self.base().where(Mandate.token_sha256 == token_sha256))

    async def any(self) -> bool:
        """Whether the tenant holds at least one mandate."""
        found = await self.session.scalar(self.base().with_only_columns(Mandate.id).limit(1))
        return found is not None

    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def counts_by_status(self, now: datetime) -> dict[str, int]:
        """How many of the tenant's mandates are in each status, expiry exact now."""
        grouped = await self.session.execute(
            select(Mandate.status, func.count()).where(self.scope()).group_by(Mandate.status)
        )
        counts = {status: int(n) for status, n in grouped}
        # Active rows past their expiry that the sweep has not reached yet.
        lapsed = await self.session.scalar(
            select(func.count()).where(
                self.scope(), Mandate.status == "active", Mandate.expires_at <= now
            )
        )
        if lapsed:
            counts["active"] = counts.get("active", 0) - int(lapsed)
            counts["expired"] = counts.get("expired", 0) + int(lapsed)
        return counts

    async def search(
        self,
        params: MandateSearch,
        now: datetime,
        position: Position | None,
        *,
        json_text: bool = False,
    ) -> list[Any]:
        """A page in the sort's order, from `position` on (or back from it, in
        reverse order, when the position points before a page): Core rows with
        what a list shows, read without the ORM's identity map, which a page of
        50 read-only rows does not need. The statement is built once per shape
        (app.mandates.search_query); a request supplies only its values.
        `json_text`: the JSON columns as their stored text, for an answer written
        straight to JSON."""
        query, values = search_query(
            params, now, position, self.tenant_id, self._dialect(), json_text=json_text
        )
        return await select_rows(self.session, query, values)


class LinkedReceiptRepository(TenantScopedRepository[Ap2Receipt]):
    """The AP2 receipts linked to a mandate (shown on GET of one v0.2 mandate)."""

    model = Ap2Receipt

    async def of_mandate(self, mandate_id: Any) -> list[Ap2Receipt]:
        query = (
            self.base()
            .where(Ap2Receipt.mandate_id == mandate_id)
            .order_by(Ap2Receipt.created_at, Ap2Receipt.id)
        )
        return list(await self.session.scalars(query))


async def due_for_expiry(session: AsyncSession, now: datetime, batch: int) -> list[Mandate]:
    """System-wide (the sweep job): active mandates of any tenant past their expiry."""
    query = (
        select(Mandate)
        .where(Mandate.status == "active", Mandate.expires_at <= now)
        .order_by(Mandate.expires_at, Mandate.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(await session.scalars(query))


class IdempotencyRepository(TenantScopedRepository[IdempotencyKey]):
    """A tenant's remembered Idempotency-Key answers."""

    model = IdempotencyKey

    async def by_key(self, key: str) -> IdempotencyKey | None:
        return await self.session.scalar(self.base().where(IdempotencyKey.key == key))

    async def forget(self, row: IdempotencyKey) -> None:
        await self.session.execute(
            delete(IdempotencyKey).where(self.scope(), IdempotencyKey.id == row.id)
        )

    async def remember(self, row: IdempotencyKey) -> bool:
        """Store an answer; False when a concurrent request stored one first."""
        try:
            async with self.session.begin_nested():
                await self.add(row)
        except IntegrityError:
            return False
        return True
