"""Declarative base, naming convention and the column types every table shares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    Label,
    MetaData,
    Numeric,
    Table,
    Text,
    TypeDecorator,
    Uuid,
    cast,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps on both engines.

    PostgreSQL keeps `timestamptz`; SQLite has no zone, so values are stored as
    UTC and come back with UTC attached. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a timezone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # asyncpg hands `timestamptz` values over as aware UTC datetimes already:
        # no call per value (a page of 50 mandates holds 400 of them).
        if dialect.name == "postgresql" and dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)


MONEY_SCALE = 4


NUMERIC_OID = 1700  # PostgreSQL's type id of NUMERIC, as the driver reports a column's type


class Money(TypeDecorator[Decimal]):
    """Exact money: NUMERIC(20, 4) on PostgreSQL, integer 1/10,000 units on SQLite.

    SQLite has no decimal type (NUMERIC columns hold floats), so amounts are
    stored there as scaled integers, which keeps them exact and comparable.
    """

    impl = Numeric(20, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValueError("money must be a finite number")
        if dialect.name == "sqlite":
            return int(amount.scaleb(MONEY_SCALE).to_integral_value())
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_SCALE)
        return value if type(value) is Decimal else Decimal(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # asyncpg hands NUMERIC values over as Decimals already: no call per value, and
        # the driver makes the rows of a page without copying each one to process it
        # (the amount is a search page's only processed column).
        if dialect.name == "postgresql" and dialect.driver == "asyncpg" and coltype == NUMERIC_OID:
            return None
        return super().result_processor(dialect, coltype)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class JSONText(TypeDecorator[Any]):
    """A JSON value read as the database's JSON text, held as an `orjson.Fragment`:
    an answer that shows the value as it is stored embeds the text unparsed
    (orjson writes a fragment as it is) instead of parsing it into Python values
    and writing those back. For NOT NULL columns only (`as_json_text`)."""

    impl = Text
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        return orjson.Fragment  # the C constructor itself: no Python call per value


def as_json_text(column: Column[Any]) -> Label[Any]:
    """`column` (a NOT NULL JSON column) selected as its JSON text, under its own name."""
    if column.nullable:
        raise ValueError(f"{column} may be NULL; JSONText holds text only")
    return cast(column, JSONText()).label(column.name)


BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid(), Decimal: Money()}


def table_of(model: type[Base]) -> Table:
    """A mapped class's Core table, for statements that skip the ORM on hot paths."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
