"""Every sample vector of the shared generator through stages A-D (sequences share a ledger)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.ap2.verification import RequestContext, RootKeyIndex
from app.keys import TrustedIssuer
from tests.ap2.memory_ledger import MemoryLedger

VECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "vectors"
if not (VECTORS / "ap2_v02_vectors.py").exists():
    # A lone clone: the project's own AP2 cases (tests/ap2_api) still run.
    pytest.skip(f"shared AP2 vector generator not found in {VECTORS}", allow_module_level=True)
sys.path.insert(0, str(VECTORS))
from ap2_v02_vectors import build  # noqa: E402

MINTED_AT = int(time.time())
DATA = build(MINTED_AT)["public"]
ROOT_KEYS = RootKeyIndex.from_issuers(
    TrustedIssuer.from_jwks(body["did"], "active", body["jwks"])
    for body in DATA["issuers"].values()
)
SINGLE = [c for c in DATA["cases"] if not c.get("sequence")]
SEQUENCES: dict[str, list[dict]] = {}
for _case in DATA["cases"]:
    if _case.get("sequence"):
        SEQUENCES.setdefault(_case["sequence"], []).append(_case)


def _context(request: dict) -> RequestContext:
    return RequestContext(
        request["audience"],
        request["nonce"],
        request.get("checkout_jwt_hash"),
        request.get("open_checkout_hash"),
    )


def _check(ledger: MemoryLedger, case: dict) -> None:
    now = datetime.fromtimestamp(MINTED_AT + 5, UTC)
    answer = ledger.present(case["sd_jwt"], _context(case["request"]), now)
    assert (answer.code.value if answer.code else None) == case["code"], (case["name"], answer)
    assert (answer.code is None) == (case["expect_status"] == [200])
    if "violation_constraint" in case:
        assert case["violation_constraint"] in [v.constraint for v in answer.violations]
    if answer.code is None:
        assert answer.violations == ()
    else:
        assert answer.violations


@pytest.mark.parametrize("case", SINGLE, ids=[c["name"] for c in SINGLE])
def test_sample_vector(case: dict) -> None:
    _check(MemoryLedger(ROOT_KEYS), case)


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_sample_sequence(name: str) -> None:
    # One tenant, in file order: the ledger carries over from case to case.
    ledger = MemoryLedger(ROOT_KEYS)
    for case in SEQUENCES[name]:
        _check(ledger, case)


def test_the_sample_covers_every_code() -> None:
    assert {c["code"] for c in DATA["cases"]} == {
        None,
        "invalid_credential",
        "mandates_not_supported",
        "invalid_mandate",
        "unresolved_constraint",
    }
    assert len(SEQUENCES) == 2
