"""The SELECT behind a mandate search, built once per shape.

A shape is what changes the statement's text: the dialect, the status asked
for, which optional filters are given, the sort and whether a cursor points
after or before a page. Every value (the tenant, the filters, the cursor's
position, the page size, the moment expiry is judged at) is a bound parameter,
so a search builds no statement and generates no cache key: `search_query`
looks its shape up and supplies the values.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.core.cursor import Position
from app.mandates.search import MandateSearch
from app.models import Mandate
from app.models.base import as_json_text, table_of

_TABLE = table_of(Mandate)
# What a list shows of a mandate: what MandateRead shows (no raw token, no
# verification details, no token hash; the tenant is the caller's own).
_UNLISTED = {"vc_jwt", "verification_details", "token_sha256", "tenant_id"}
_LISTED = [column for column in _TABLE.c if column.name not in _UNLISTED]
# The same columns, the JSON ones as their stored text (`as_json_text`): for an answer
# written straight to JSON (the API's), which embeds that text rather than parsing it.
LISTED_AS_TEXT = [
    as_json_text(column) if isinstance(column.type, JSON) else column for column in _LISTED
]

# Filters compared for equality: the parameter is named after its column.
_EQUAL = (
    "verification_status",
    "mandate_type",
    "issuer_did",
    "subject_did",
    "scope",
    "transaction_id",
    "open_mandate_hash",
)
# Range filters: parameter, column, comparison.
_RANGES: tuple[tuple[str, str, Callable[[Any, Any], Any]], ...] = (
    ("expires_after", "expires_at", operator.ge),
    ("expires_before", "expires_at", operator.lt),
    ("created_after", "created_at", operator.ge),
    ("created_before", "created_at", operator.lt),
    ("amount_min", "amount_limit", operator.ge),
    ("amount_max", "amount_limit", operator.le),
)
# Every optional filter, in the order a shape names them.
_OPTIONAL = (*_EQUAL, *(name for name, _, _ in _RANGES), "merchant", "label")


@dataclass(frozen=True, slots=True)
class SearchShape:
    dialect: str
    status: str | None
    given: tuple[str, ...]  # the optional filters given, in `_OPTIONAL` order
    sort: str
    before: bool | None  # None: no cursor; True: the page before it; False: after it
    json_text: bool  # JSON columns as their stored text (`LISTED_AS_TEXT`)


def search_query(
    params: MandateSearch,
    now: datetime,
    position: Position | None,
    tenant_id: uuid.UUID | None,
    dialect: str,
    *,
    json_text: bool = False,
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement of this search's shape, and its values. `json_text`: the
    rows hold the JSON columns as their stored text (`LISTED_AS_TEXT`)."""
    values = _values(params, now, position, tenant_id)
    shape = SearchShape(
        dialect,
        params.status,
        tuple(name for name in _OPTIONAL if values.get(name) is not None),
        params.sort,
        None if position is None else position.before,
        json_text,
    )
    return search_statement(shape), values


def _values(
    params: MandateSearch, now: datetime, position: Position | None, tenant_id: uuid.UUID | None
) -> dict[str, Any]:
    """The bound values of one search (None for a filter not given)."""
    values: dict[str, Any] = {name: getattr(params, name) for name in _EQUAL}
    values.update((name, getattr(params, name)) for name, _, _ in _RANGES)
    values["tenant_id"] = tenant_id
    values["now"] = now
    values["page_rows"] = params.limit + 1
    values["merchant"] = params.merchant
    values["merchants"] = None if params.merchant is None else [params.merchant]
    label = params.label_pair
    values["label"] = label
    if label is not None:
        key, values["label_value"] = label
        values["labels"] = {key: values["label_value"]}  # PostgreSQL: labels @> {key: value}
        values["label_path"] = f'$."{key}"'  # SQLite: json_extract(labels, path) = value
    if position is not None:
        values["cursor_value"], values["cursor_id"] = position.value, position.id
    return values


def _status(status: str | None) -> ColumnElement[bool]:
    now = bindparam("now", type_=_TABLE.c.expires_at.type)
    if status is None:
        return _TABLE.c.status != "deleted"
    if status == "active":
        return and_(_TABLE.c.status == "active", _TABLE.c.expires_at > now)
    if status == "expired":
        return or_(
            _TABLE.c.status == "expired",
            and_(_TABLE.c.status == "active", _TABLE.c.expires_at <= now),
        )
    return _TABLE.c.status == status


def _merchant(dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return type_coerce(_TABLE.c.merchants, JSONB).contains(bindparam("merchants", type_=JSONB))
    entries = func.json_each(_TABLE.c.merchants).table_valued("value")
    return exists(
        select(literal_column("1"))
        .select_from(entries)
        .where(entries.c.value == bindparam("merchant"))
    )


def _label(dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return type_coerce(_TABLE.c.labels, JSONB).contains(bindparam("labels", type_=JSONB))
    return func.json_extract(_TABLE.c.labels, bindparam("label_path")) == bindparam("label_value")


@functools.lru_cache(maxsize=512)
def search_statement(shape: SearchShape) -> Select[Any]:
    query = select(*(LISTED_AS_TEXT if shape.json_text else _LISTED)).where(
        _TABLE.c.tenant_id == bindparam("tenant_id"), _status(shape.status)
    )
    given = set(shape.given)
    for name in _EQUAL:
        if name in given:
            query = query.where(_TABLE.c[name] == bindparam(name))
    for name, bounded, compare in _RANGES:
        if name in given:
            query = query.where(compare(_TABLE.c[bounded], bindparam(name)))
    if "merchant" in given:
        query = query.where(_merchant(shape.dialect))
    if "label" in given:
        query = query.where(_label(shape.dialect))

    descending = shape.sort.startswith("-")
    if shape.before:
        descending = not descending
    column = _TABLE.c.created_at if shape.sort.lstrip("-") == "created_at" else _TABLE.c.expires_at
    if shape.before is not None:
        key = tuple_(column, _TABLE.c.id)
        bound = tuple_(
            bindparam("cursor_value", type_=column.type),
            bindparam("cursor_id", type_=_TABLE.c.id.type),
        )
        query = query.where(key < bound if descending else key > bound)
    order = (column.desc(), _TABLE.c.id.desc()) if descending else (column.asc(), _TABLE.c.id.asc())
    return query.order_by(*order).limit(bindparam("page_rows", type_=Integer))
