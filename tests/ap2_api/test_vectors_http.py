"""Every public AP2 v0.2 vector of the shared generator over HTTP (sequences to one tenant).

The project's own HTTP cases are in test_cases_http.py and run without ../shared.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.models import Ap2Approval
from tests.ap2_api.helpers import count
from tests.clock import ManualClock

VECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "vectors"
GENERATOR = VECTORS / "ap2_v02_vectors.py"
MINTED_AT = int(time.time())

if GENERATOR.is_file():
    sys.path.insert(0, str(VECTORS))
    from ap2_v02_vectors import build

    DATA = build(MINTED_AT)["public"]
else:  # pragma: no cover - the shared sample lives beside the repository
    DATA = None

pytestmark = pytest.mark.skipif(DATA is None, reason="SHARED AP2 VECTORS ABSENT: not run")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.fromtimestamp(MINTED_AT + 5, UTC))


async def _register(api, headers) -> None:
    for body in DATA["issuers"].values():
        response = await api.post("/api/v1/issuers", json=body, headers=headers)
        assert response.status_code == 201, response.text


async def _check(api, headers, case) -> None:
    body = {"sd_jwt": case["sd_jwt"], **case["request"]}
    response = await api.post("/api/v1/ap2/presentations", json=body, headers=headers)
    assert response.status_code in case["expect_status"], (case["name"], response.text)
    answer = response.json()
    assert answer["code"] == case["code"], (case["name"], answer)
    if "violation_constraint" in case:
        assert case["violation_constraint"] in [v["constraint"] for v in answer["violations"]]
    if response.status_code == 200:
        assert answer["result"] == "approved"
        assert answer["violations"] == []
        assert answer["mandate_id"]
        assert answer["receipt"]
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert answer["violations"]
        assert answer["mandate_id"] is None


async def test_public_vectors_over_http(api, world, database):
    admin, user = world.a["customer_admin"].key(), world.a["customer_user"].key()
    await _register(api, admin)
    approved = 0
    for case in DATA["cases"]:  # file order: sequences stay in order within one tenant
        await _check(api, user, case)
        approved += case["expect_status"] == [200]
    assert await count(database, Ap2Approval) == approved


async def test_dry_run_gives_every_vector_the_same_verdict(api, world, database):
    admin, user = world.b["customer_admin"].key(), world.b["customer_user"].key()
    await _register(api, admin)
    for case in DATA["cases"]:
        if case.get("sequence"):
            continue
        body = {"sd_jwt": case["sd_jwt"], **case["request"], "dry_run": True}
        response = await api.post("/api/v1/ap2/presentations", json=body, headers=user)
        assert response.status_code in case["expect_status"], case["name"]
        assert response.json()["code"] == case["code"], case["name"]
        assert response.json()["receipt"] is None
    assert await count(database, Ap2Approval) == 0
