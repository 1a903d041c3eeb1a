"""Property: any query string on the search endpoint gets 200 or a 422 problem, never a 5xx."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIELDS = [
    "status",
    "verification_status",
    "mandate_type",
    "issuer_did",
    "subject_did",
    "scope",
    "merchant",
    "label",
    "expires_before",
    "expires_after",
    "created_before",
    "created_after",
    "amount_min",
    "amount_max",
    "sort",
    "limit",
    "cursor",
]
values = st.one_of(
    st.text(max_size=80),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        ["active", "-created_at", "2030-01-01T00:00:00Z", "did:web:x", "a:b", "1e999", "", "null"]
    ),
)
queries = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(min_size=1, max_size=10), values, max_size=6
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=queries)
async def test_search_never_fails_on_any_parameters(client, world, params):
    response = await client.get(
        "/api/v1/mandates", params=params, headers=world.a["readonly"].key()
    )
    assert response.status_code in (200, 422), (params, response.text[:300])
    if response.status_code == 422:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] in ("validation_error", "invalid_cursor")
    else:
        assert set(response.json()) == {"items", "next_cursor", "prev_cursor"}
