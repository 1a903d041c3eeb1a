"""Every query on `mandates`, scoped to one tenant by the base statement."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Select,
    and_,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.mandates.search import MandateSearch
from app.models import Mandate

# Built once per dialect (Core table, no ORM bulk machinery): the ingest hot path.
_INSERT_NEW = {
    name: insert(Mandate.__table__)
    .on_conflict_do_nothing(index_elements=["tenant_id", "token_sha256"])
    .returning(Mandate.__table__.c.id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


class MandateRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def base(self) -> Select[tuple[Mandate]]:
        return select(Mandate).where(Mandate.tenant_id == self.tenant_id)

    async def get(self, mandate_id: uuid.UUID, *, for_update: bool = False) -> Mandate | None:
        query = self.base().where(Mandate.id == mandate_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def insert_new(self, values: dict) -> bool:
        """INSERT unless this tenant already holds the token; True when inserted.

        One statement (ON CONFLICT DO NOTHING), so two concurrent submissions of
        one token can neither both insert nor fail.
        """
        if values["tenant_id"] != self.tenant_id:
            raise ValueError("a mandate is inserted only into the repository's tenant")
        statement = _INSERT_NEW[self._dialect()]
        inserted = await self.session.execute(statement, values)
        return inserted.first() is not None

    async def by_token_hash(self, token_sha256: str) -> Mandate | None:
        return await self.session.scalar(self.base().where(Mandate.token_sha256 == token_sha256))

    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _status(self, status: str | None, now: datetime):
        if status is None:
            return Mandate.status != "deleted"
        if status == "active":
            return and_(Mandate.status == "active", Mandate.expires_at > now)
        if status == "expired":
            return or_(
                Mandate.status == "expired",
                and_(Mandate.status == "active", Mandate.expires_at <= now),
            )
        return Mandate.status == status

    def _merchant(self, merchant: str):
        if self._dialect() == "postgresql":
            return type_coerce(Mandate.merchants, JSONB).contains([merchant])
        entries = func.json_each(Mandate.merchants).table_valued("value")
        return exists(
            select(literal_column("1")).select_from(entries).where(entries.c.value == merchant)
        )

    def _label(self, key: str, value: str):
        if self._dialect() == "postgresql":
            return type_coerce(Mandate.labels, JSONB).contains({key: value})
        return func.json_extract(Mandate.labels, f'$."{key}"') == value

    async def search(
        self, params: MandateSearch, now: datetime, after: tuple[datetime, uuid.UUID] | None
    ) -> list[Mandate]:
        query = self.base().where(self._status(params.status, now))
        equal = {
            Mandate.verification_status: params.verification_status,
            Mandate.mandate_type: params.mandate_type,
            Mandate.issuer_did: params.issuer_did,
            Mandate.subject_did: params.subject_did,
            Mandate.scope: params.scope,
        }
        for column, value in equal.items():
            if value is not None:
                query = query.where(column == value)
        if params.merchant is not None:
            query = query.where(self._merchant(params.merchant))
        if (pair := params.label_pair) is not None:
            query = query.where(self._label(*pair))
        ranges = (
            (Mandate.expires_at, params.expires_after, params.expires_before),
            (Mandate.created_at, params.created_after, params.created_before),
            (Mandate.amount_limit, params.amount_min, None),
        )
        for column, low, high in ranges:
            if low is not None:
                query = query.where(column >= low)
            if high is not None:
                query = query.where(column < high)
        if params.amount_max is not None:
            query = query.where(Mandate.amount_limit <= params.amount_max)

        descending = params.sort.startswith("-")
        column = (
            Mandate.created_at if params.sort.lstrip("-") == "created_at" else Mandate.expires_at
        )
        if after is not None:
            position = tuple_(column, Mandate.id)
            bound = tuple_(literal(after[0], column.type), literal(after[1], Mandate.id.type))
            query = query.where(position < bound if descending else position > bound)
        order = (
            (column.desc(), Mandate.id.desc()) if descending else (column.asc(), Mandate.id.asc())
        )
        # Lists never show the raw token: leave it in the table.
        query = query.options(defer(Mandate.vc_jwt)).order_by(*order).limit(params.limit + 1)
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
