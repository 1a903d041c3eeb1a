"""Every vector (the project's set, and the shared sample when present) gets its code from the engine."""

from __future__ import annotations

import time

import pytest

from app.keys import TrustSnapshot
from app.mandates.verification import verify_token
from tests.vectors.loader import VectorCase, VectorSet, vector_case_params

_TRUST: dict[str, TrustSnapshot] = {}


def _trust(vectors: VectorSet) -> TrustSnapshot:
    if vectors.label not in _TRUST:
        _TRUST[vectors.label] = vectors.trust()
    return _TRUST[vectors.label]


@pytest.mark.parametrize(("vectors", "case"), vector_case_params())
def test_vector(vectors: VectorSet, case: VectorCase) -> None:
    result = verify_token(case.vc_jwt, _trust(vectors), now=time.time())
    assert result.code in case.codes, result.reason
    for name, value in case.check_fields.items():
        actual = getattr(result.fields, name)
        assert (str(actual) if name == "amount_limit" else actual) == value, name
