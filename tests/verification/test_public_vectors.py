"""Every published vector must get its expected code through the engine."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.keys import TrustedIssuer, TrustSnapshot
from app.mandates.verification import verify_token

VECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "vectors" / "public.json"
DATA = json.loads(VECTORS.read_text())


def _trust() -> TrustSnapshot:
    issuers = []
    for body in DATA["issuers"].values():
        if "jwks" in body:
            issuers.append(TrustedIssuer.from_jwks(body["did"], "active", body["jwks"]))
        else:
            issuers.append(TrustedIssuer.from_did(body["did"], "active"))
    return TrustSnapshot(issuers)


TRUST = _trust()


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_public_vector(case: dict) -> None:
    result = verify_token(case["vc_jwt"], TRUST, now=time.time())
    expected = case["code"] if isinstance(case["code"], list) else [case["code"]]
    assert result.code in expected, result.reason
    for name, value in (case.get("check_fields") or {}).items():
        actual = getattr(result.fields, name)
        assert (str(actual) if name == "amount_limit" else actual) == value
