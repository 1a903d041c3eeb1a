"""Search on both databases: every filter, keyset pages, forged cursors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from app.core.errors import Unprocessable
from app.mandates.schemas import MandateCreate
from app.mandates.search import MandateSearch
from app.mandates.search_query import search_statement
from app.mandates.service import MandateService
from tests.mandates.conftest import ACTOR, new_tenant
from tests.mandates.minting import MintingIssuer


@pytest.fixture
async def corpus(session, tenant_id, mandates):
    bank, wallet = MintingIssuer(), MintingIssuer()
    await bank.register(session, tenant_id)
    await wallet.register(session, tenant_id)
    specs = [
        (bank, {"scope": "groceries", "amount": "10.00", "merchants": ["shop.example"]}),
        (
            bank,
            {
                "scope": "groceries",
                "amount": "250.00",
                "merchants": ["shop.example", "deli.example"],
            },
        ),
        (
            bank,
            {"scope": "travel", "amount": "1200.00", "currency": "EUR", "expires_in": 86400 * 30},
        ),
        (wallet, {"scope": "travel", "amount": "99.99", "subject": "did:example:agent-2"}),
        (wallet, {"scope": "subscriptions", "amount": "5.00", "expires_in": 86400 * 2}),
    ]
    ids = []
    for issuer, spec in specs:
        outcome = await mandates.ingest(
            MandateCreate(vc_jwt=issuer.token(**spec), labels={"team": issuer.did[8:12]})
        )
        ids.append(outcome.mandate.id)
    return {"bank": bank, "wallet": wallet, "ids": ids}


async def found(mandates, **params) -> list:
    page = await mandates.search(MandateSearch(**params))
    return [item.scope + ":" + item.amount_limit for item in page.items]


async def test_filters(mandates, corpus):
    bank = corpus["bank"].did
    assert sorted(await found(mandates, issuer_did=bank)) == [
        "groceries:10.00",
        "groceries:250.00",
        "travel:1200.00",
    ]
    assert await found(mandates, merchant="deli.example") == ["groceries:250.00"]
    assert sorted(await found(mandates, scope="travel")) == ["travel:1200.00", "travel:99.99"]
    assert await found(mandates, subject_did="did:example:agent-2") == ["travel:99.99"]
    assert sorted(
        await found(mandates, amount_min=Decimal("99.99"), amount_max=Decimal("250"))
    ) == [
        "groceries:250.00",
        "travel:99.99",
    ]
    assert await found(mandates, label=f"team:{bank[8:12]}", scope="travel") == ["travel:1200.00"]
    assert await found(mandates, mandate_type="intent") == []
    assert len(await found(mandates, status="active", verification_status="VALID")) == 5


async def test_expiry_filters_and_sort(mandates, corpus):
    page = await mandates.search(MandateSearch(sort="expires_at"))
    expiries = [item.expires_at for item in page.items]
    assert expiries == sorted(expiries)
    soon = page.items[0].expires_at
    assert len(await found(mandates, expires_after=soon)) == 5
    latest = page.items[-1].expires_at
    assert "travel:1200.00" not in await found(mandates, expires_before=latest)


async def test_deleted_are_hidden_unless_asked_for(mandates, corpus):
    await mandates.delete(corpus["ids"][0])
    assert "groceries:10.00" not in await found(mandates)
    assert await found(mandates, status="deleted") == ["groceries:10.00"]


async def test_keyset_pages_cover_everything_once(mandates, corpus):
    for sort in ("-created_at", "created_at", "expires_at", "-expires_at"):
        seen, cursor = [], None
        while True:
            page = await mandates.search(MandateSearch(limit=2, sort=sort, cursor=cursor))
            seen.extend(item.id for item in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(corpus["ids"]), sort


async def test_forged_or_foreign_cursors_are_refused(mandates, corpus):
    page = await mandates.search(MandateSearch(limit=2))
    cursor = page.next_cursor
    assert cursor
    tampered = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")
    for bad in (tampered, "garbage", "", cursor + "x"):
        with pytest.raises(Unprocessable) as caught:
            await mandates.search(MandateSearch(limit=2, cursor=bad or "=="))
        assert caught.value.code == "invalid_cursor"
    with pytest.raises(Unprocessable):
        await mandates.search(MandateSearch(limit=2, cursor=cursor, sort="expires_at"))


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": -1},
        {"status": "bogus"},
        {"sort": "amount"},
        {"amount_min": "-1"},
        {"amount_max": "NaN"},
        {"expires_before": "tomorrow"},
        {"issuer_did": "did:web:x\x00"},
        {"label": "no-separator"},
        {"verification_status": "'; DROP"},
        {"unknown": "x"},
    ],
)
def test_bad_parameters_are_refused_before_any_query(params):
    with pytest.raises(ValidationError):
        MandateSearch(**params)


async def test_sql_looking_values_are_just_values(mandates, corpus):
    assert await found(mandates, issuer_did="did:web:x' OR '1'='1") == []
    assert await found(mandates, merchant="shop.example' --") == []
    assert await found(mandates, label="team:x' OR 1=1 --") == []


async def test_one_statement_per_shape_takes_each_searchs_values(
    session, mandates, corpus, trust, settings, clock
):
    """A shape's statement is built once; what it finds follows the values given
    (the filters and the tenant), never the search that built it."""
    search_statement.cache_clear()
    bank, wallet = corpus["bank"].did, corpus["wallet"].did
    assert len(await found(mandates, issuer_did=bank, label="team:" + bank[8:12])) == 3
    built = search_statement.cache_info().misses
    assert sorted(await found(mandates, issuer_did=wallet, label="team:" + wallet[8:12])) == [
        "subscriptions:5.00",
        "travel:99.99",
    ]
    assert await found(mandates, issuer_did=wallet, label="team:" + bank[8:12]) == []
    assert search_statement.cache_info().misses == built  # the same shape: not built again

    other = MandateService(session, await new_tenant(session), ACTOR, trust, settings, clock)
    assert await found(other, issuer_did=bank, label="team:" + bank[8:12]) == []
    assert search_statement.cache_info().misses == built
