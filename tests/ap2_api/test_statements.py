"""The round trips of a presentation: a first use of an open mandate makes its ledger
row in one statement and skips the replay query; a later one locks the row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.ap2.scenarios import NOW_TS
from tests.ap2_api.helpers import payment_chain

URL = "/api/v1/ap2/presentations"


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", count)
    yield seen
    event.remove(Engine, "before_cursor_execute", count)


def _ap2(statements: list[str]) -> list[str]:
    """The statements on the AP2 tables (background jobs run beside the request)."""
    kinds = []
    for text in statements:
        if "ap2_ledgers" in text or "ap2_approvals" in text:
            verb = text.split(None, 1)[0].upper()
            kinds.append(f"{verb} FOR UPDATE" if text.endswith("FOR UPDATE") else verb)
    return kinds


async def test_ledger_statements_of_a_first_use_and_a_replay(api, tenant, statements, database):
    first = payment_chain(NOW_TS)
    response = await api.post(URL, json=first.body(), headers=tenant.headers)
    assert response.status_code == 200, response.text
    # The ledger made (RETURNING it, locked as this transaction's own), the approval,
    # the ledger update: no SELECT ... FOR UPDATE, no replay query.
    assert _ap2(statements) == ["INSERT", "INSERT", "UPDATE"]
    statements.clear()
    again = await api.post(URL, json=first.body(), headers=tenant.headers)
    assert again.status_code == 422
    assert again.json()["code"] == "invalid_mandate"
    # The row exists: the insert does nothing, the row is locked (SQLite: the write
    # transaction is the lock), the replay is read.
    postgres = database.write_engine.dialect.name == "postgresql"
    lock = "SELECT FOR UPDATE" if postgres else "SELECT"
    assert _ap2(statements) == ["INSERT", lock, "SELECT"]
