"""Properties over HTTP: a tampered presentation (disclosure subsets, reordered disclosures,
truncation, a flipped character anywhere) is never a 500 and never an approval."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.models import Ap2Approval, Mandate
from tests.ap2.minting import Hop, chain, kb_hop
from tests.ap2.scenarios import NOW_TS, closed_checkout
from tests.ap2_api.helpers import Presented, checkout_chain, count, payment_chain

URL = "/api/v1/ap2/presentations"
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ALPHABET = string.ascii_letters + string.digits + "-_~.="


def _bases() -> list[Presented]:
    checkout = checkout_chain(NOW_TS)
    # The same checkout bound by issuer_jwt_hash: the root may then shed disclosures.
    root = checkout.root
    loose = kb_hop(
        root, closed_checkout(checkout.cj), checkout.agent, iat=NOW_TS, binding="issuer_jwt_hash"
    )
    return [
        checkout,
        Presented([root, loose], checkout.request, checkout.cj, checkout.agent),
        payment_chain(NOW_TS),
    ]


BASES = _bases()
# Which hops' exact text a later hop binds (sd_hash): only their disclosure order matters.
BOUND = {id(BASES[0]): True, id(BASES[1]): False, id(BASES[2]): True}


async def _assert_refused(api, tenant, database, body) -> None:
    response = await api.post(URL, json=body, headers=tenant.headers)
    assert response.status_code in (400, 422), response.text[:300]
    if response.status_code == 422:
        assert response.json()["code"] in (
            "invalid_credential",
            "mandates_not_supported",
            "invalid_mandate",
            "unresolved_constraint",
        )
        assert response.json()["mandate_id"] is None
    assert await count(database, Mandate) == 0
    assert await count(database, Ap2Approval) == 0


@SETTINGS
@given(base=st.sampled_from(BASES), data=st.data())
async def test_disclosure_subsets_and_orders_are_never_approved(api, tenant, database, base, data):
    hops = []
    for hop in base.hops:
        kept = data.draw(
            st.lists(st.sampled_from(range(len(hop.disclosures))), unique=True)
            if hop.disclosures
            else st.just([])
        )
        hops.append(Hop(hop.jwt, [hop.disclosures[i] for i in kept]))
    sd_jwt = chain(*hops)
    # Disclosure order is free in RFC 9901: only a hop bound by sd_hash pins it (the leaf's
    # and an issuer_jwt_hash-bound root's may be reordered and still be the same mandate).
    dropped = any(
        len(h.disclosures) != len(b.disclosures) for h, b in zip(hops, base.hops, strict=False)
    )
    reordered = BOUND[id(base)] and hops[0].disclosures != base.hops[0].disclosures
    assume(dropped or reordered)
    await _assert_refused(api, tenant, database, {**base.request, "sd_jwt": sd_jwt})


@SETTINGS
@given(base=st.sampled_from(BASES), data=st.data())
async def test_truncations_and_flips_are_never_approved(api, tenant, database, base, data):
    text = base.sd_jwt
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(text) - 1))
        mutated = text[:cut]
    else:
        at = data.draw(st.integers(0, len(text) - 1))
        char = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != text[at]))
        mutated = text[:at] + char + text[at + 1 :]
    await _assert_refused(api, tenant, database, {**base.request, "sd_jwt": mutated})


@SETTINGS
@given(junk=st.text(max_size=200) | st.text(alphabet=ALPHABET, max_size=400))
async def test_any_text_is_never_a_500(api, tenant, database, junk):
    await _assert_refused(api, tenant, database, {**BASES[0].request, "sd_jwt": junk})
