"""QueryModel reads a query string as FastAPI reads `Annotated[Model, Query()]`:
the same model, the same 422 problems, the same API docs."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import Depends, FastAPI, Query
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from app.alerts.schemas import AlertSearch
from app.audit.schemas import AuditQuery, ExportQuery
from app.events.schemas import DeliveryQuery
from app.mandates.search import MandateSearch
from app.web.problems import install_error_handlers
from app.web.query_models import QueryModel

MODELS = (MandateSearch, AlertSearch, AuditQuery, ExportQuery, DeliveryQuery)


def _get(app: FastAPI, query: str) -> httpx.Response:
    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/q?" + query)

    return asyncio.run(fetch())


def _apps(model: type[BaseModel]) -> tuple[FastAPI, FastAPI]:
    """The model read by FastAPI, and by QueryModel, on otherwise equal apps."""

    def answer(params: BaseModel) -> dict[str, Any]:
        return params.model_dump(mode="json")

    by_fastapi, by_us = FastAPI(), FastAPI()
    for app in (by_fastapi, by_us):
        install_error_handlers(app, retry_after=1)

    async def fastapi_route(params: Any) -> dict[str, Any]:
        return answer(params)

    async def our_route(params: Any) -> dict[str, Any]:
        return answer(params)

    fastapi_route.__annotations__ = {"params": Annotated[model, Query()]}
    our_route.__annotations__ = {"params": Annotated[model, Depends(QueryModel(model))]}
    by_fastapi.get("/q")(fastapi_route)
    by_us.get("/q")(our_route)
    return by_fastapi, by_us


APPS = {model: _apps(model) for model in MODELS}

CASES = [
    "",
    "limit=50",
    "limit=0",
    "limit=201",
    "limit=abc",
    "limit=5&limit=7",
    "limit=",
    "unknown=1",
    "unknown=1&unknown=2&limit=3",
    "status=bogus",
    "status=active&status=revoked",
    "sort=expires_at",
    "sort=sideways",
    "expires_before=2026-01-01T00:00:00Z",
    "expires_before=2026-01-01T00:00:00%2B02:00&created_after=2025-12-31",
    "expires_before=not-a-date",
    "cursor=%00",
    "cursor=" + "c" * 600,
    "issuer_did=",
    "issuer_did=did%3Aweb%3Ashop.example",
    "amount_min=10.5&amount_max=1e400",
    "amount_min=-1",
    "label=team%3Aops",
    "label=no-separator",
    "merchant=tab%09here",
    "severity=high&state=open&type=x",
    "since=2026-01-01T00:00:00Z&until=yesterday",
    "event_type=mandate.created&status=failed",
    "after=5&limit=10",
    "%FF=1",
    "limit=%FF",
]


def _same(model: type[BaseModel], query: str) -> None:
    by_fastapi, by_us = APPS[model]
    expected = _get(by_fastapi, query)
    got = _get(by_us, query)
    assert (got.status_code, got.json()) == (expected.status_code, expected.json()), query


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("query", CASES)
def test_a_query_string_is_read_as_fastapi_reads_it(model, query):
    _same(model, query)


def test_the_cases_reach_both_answers():
    """The cases above are not all refused (or all accepted) for any model."""
    for model in MODELS:
        by_fastapi, _ = APPS[model]
        statuses = {_get(by_fastapi, query).status_code for query in CASES}
        assert statuses == {200, 422}, model.__name__


_KEYS = st.sampled_from(
    sorted({name for model in MODELS for name in model.model_fields} | {"unknown", "x-y"})
)
_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["1", "50", "-1", "0", "2026-01-01T00:00:00Z", "active", "1.5", ""]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(MODELS),
    pairs=st.lists(st.tuples(_KEYS, _VALUES), max_size=5),
)
def test_any_query_string_is_read_as_fastapi_reads_it(model, pairs):
    _same(model, urlencode(pairs))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_docs_are_fastapis(model):
    probe = FastAPI()

    async def route(params: Any) -> None:
        del params

    route.__annotations__ = {"params": Annotated[model, Query()]}
    probe.get("/q")(route)
    document = probe.openapi()
    parameters, schemas = QueryModel(model).documented()
    assert parameters == document["paths"]["/q"]["get"]["parameters"]
    assert parameters
    for name, schema in schemas.items():
        assert document["components"]["schemas"][name] == schema


class _Aliased(BaseModel):
    value: int = Field(alias="v")


class _Listed(BaseModel):
    values: list[str] | None = None


@pytest.mark.parametrize("model", [_Aliased, _Listed])
def test_a_model_read_otherwise_by_fastapi_is_refused(model):
    with pytest.raises(TypeError, match="aliases and lists"):
        QueryModel(model)
