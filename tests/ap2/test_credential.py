"""Stage B: every way a chain fails to verify is `invalid_credential`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.ap2.verification import (
    Rejection,
    RequestContext,
    ResultCode,
    RootKey,
    RootKeyIndex,
    Stage,
    VerifiedChain,
    verify_chain,
)
from app.keys import TrustedIssuer, key_from_jwk, prepare_public_key
from tests.ap2.minting import (
    H,
    Hop,
    Party,
    Sd,
    b64,
    chain,
    enc,
    issue,
    kb_hop,
    party,
    resign,
    root_hop,
    sign_parts,
)
from tests.ap2.scenarios import (
    AUD,
    MERCHANT_KEY,
    NONCE,
    NOW,
    NOW_TS,
    OTHER,
    OTHER_DID,
    PROVIDER,
    PROVIDER_DID,
    ROOT_KEYS,
    SHOE,
    checkout_jwt,
    closed_checkout,
    lines,
    merchants,
    open_checkout,
)
from tests.verification.helpers import did_key

CJ = checkout_jwt([(SHOE, 1)])
CONTEXT = RequestContext(AUD, NONCE, H(CJ))


def _leaf(root: Hop, agent: Party, content: Any = None, **kw: Any) -> Hop:
    return kb_hop(
        root, closed_checkout(CJ) if content is None else content, agent, **{"iat": NOW_TS, **kw}
    )


def _verify(
    *hops: Hop, context: RequestContext = CONTEXT, now: Any = NOW, keys: Any = ROOT_KEYS
) -> Any:
    return verify_chain(chain(*hops), context, keys, now)


def _refused(*hops: Hop, **kw: Any) -> str:
    result = _verify(*hops, **kw)
    assert isinstance(result, Rejection), "expected a rejection"
    assert (result.code, result.stage) == (ResultCode.INVALID_CREDENTIAL, Stage.CREDENTIAL), result
    assert result.reference == H(hops[-1].text)
    return result.reason


def _ok(*hops: Hop, **kw: Any) -> VerifiedChain:
    result = _verify(*hops, **kw)
    assert isinstance(result, VerifiedChain), result
    return result


def _root(agent: Party, **kw: Any) -> Hop:
    return root_hop(open_checkout(agent), PROVIDER, **kw)


def _raw_root(header: bytes, payload: bytes, agent: Party) -> tuple[Hop, Hop]:
    root = Hop(sign_parts(b64(header), b64(payload), PROVIDER.key), [])
    return root, _leaf(root, agent)


# --- B1: header, payload, alg, crit, typ --------------------------------------------------


def test_root_typ_forms_accepted() -> None:
    agent = party()
    for typ in ("example+sd-jwt", "dc+sd-jwt", None):
        root = _root(agent, typ=typ)
        assert _ok(root, _leaf(root, agent)).root_issuer_did == PROVIDER_DID


@pytest.mark.parametrize(
    "typ", ["JWT", "kb+sd-jwt", "kb+sd-jwt+kb", "vc+sd-jwt", "EXAMPLE+SD-JWT", 7]
)
def test_root_typ_refused(typ: Any) -> None:
    agent = party()
    root = resign(_root(agent), PROVIDER.key, header={"alg": "ES256", "kid": "ap-1", "typ": typ})
    assert "typ" in _refused(root, _leaf(root, agent))


@pytest.mark.parametrize("typ", ["kb+sd-jwt+kb", "kb+jwt", "example+sd-jwt", None])
def test_final_typ_refused(typ: Any) -> None:
    agent = party()
    root = _root(agent)
    leaf = _leaf(root, agent)
    header = {"alg": "ES256"} if typ is None else {"alg": "ES256", "typ": typ}
    assert "typ" in _refused(root, resign(leaf, agent.key, header=header))


def test_intermediate_typ_refused() -> None:
    agent, sub = party(), party()
    root = _root(agent)
    mid = kb_hop(root, open_checkout(sub), agent, iat=NOW_TS, final=False, typ="kb+sd-jwt")
    assert "typ" in _refused(root, mid, _leaf(mid, sub))


@pytest.mark.parametrize("alg", ["none", "HS256", "ES384", "RS256", "EdDSA", "es256", None, 1])
def test_alg_other_than_es256(alg: Any) -> None:
    agent = party()
    header = {"kid": "ap-1", "typ": "example+sd-jwt"} | ({} if alg is None else {"alg": alg})
    root = resign(_root(agent), PROVIDER.key, header=header)
    assert "alg" in _refused(root, _leaf(root, agent))


def test_alg_none_on_the_leaf() -> None:
    agent = party()
    root = _root(agent)
    leaf = _leaf(root, agent)
    head = enc({"alg": "none", "typ": "kb+sd-jwt"})
    unsigned = Hop(f"{head}.{leaf.jwt.split('.')[1]}.", leaf.disclosures)
    assert "alg" in _refused(root, unsigned)


def test_crit_and_unencoded_payloads_refused() -> None:
    agent = party()
    base = {"alg": "ES256", "kid": "ap-1", "typ": "example+sd-jwt"}
    for extra in ({"crit": ["exp"]}, {"crit": []}, {"b64": False}):
        root = resign(_root(agent), PROVIDER.key, header=base | extra)
        _refused(root, _leaf(root, agent))
    root = resign(
        _root(agent), PROVIDER.key, header=base | {"b64": True, "jku": "https://x", "x5u": "y"}
    )
    _ok(root, _leaf(root, agent))  # keys never come from the header, so these are ignored


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (b"not json", b"{}"),
        (b"[1, 2]", b"{}"),
        (b'{"alg":"ES256","kid":"ap-1","alg":"ES256"}', b"{}"),
        (b'{"alg":"ES256","kid":"ap-1"}', b"[]"),
        (b'{"alg":"ES256","kid":"ap-1"}', b'{"delegate_payload":[],"delegate_payload":[]}'),
        (b'{"alg":"ES256","kid":"ap-1"}', b"\xff\xfe{}"),
        (b'{"alg":"ES256","kid":"ap-1"}', b'{"iat": NaN}'),
        (b'{"alg":"ES256","kid":"ap-1"}', b'{"iat": 1e999}'),
        (b'{"alg":"ES256","kid":"ap-1"}', b'{"x": "\\ud800"}'),
        (b'{"alg":"ES256","kid":"ap-1"}', b'{"x": "\\u0000"}'),
    ],
)
def test_header_and_payload_must_be_strict_json_objects(header: bytes, payload: bytes) -> None:
    _refused(*_raw_root(header, payload, party()))


# --- B2: root key by kid, signature, iss; later hops by cnf --------------------------------


def test_root_without_kid() -> None:
    agent = party()
    root = resign(_root(agent), PROVIDER.key, header={"alg": "ES256", "typ": "example+sd-jwt"})
    assert "kid" in _refused(root, _leaf(root, agent))


def test_root_kid_nobody_registered() -> None:
    agent = party()
    stranger = party("ap-9")
    root = root_hop(open_checkout(agent), stranger)
    assert "kid" in _refused(root, _leaf(root, agent))


def test_untrusted_key_reusing_a_trusted_kid() -> None:
    agent = party()
    evil = party("ap-1")
    root = root_hop(open_checkout(agent), evil)
    assert "signature" in _refused(root, _leaf(root, agent))


def test_root_keys_of_other_types_do_not_count() -> None:
    agent = party()
    root = _root(agent)
    p384 = prepare_public_key(ec.generate_private_key(ec.SECP384R1()).public_key(), kid="ap-1")

    class Loose:
        """A RootKeys that hands over whatever it has, other curves included."""

        def candidates(self, kid: str) -> list[RootKey]:
            return [
                RootKey(PROVIDER_DID, p384),
                RootKey(OTHER_DID, key_from_jwk(OTHER.public_jwk())),
            ]

    assert "kid" in _refused(root, _leaf(root, agent), keys=Loose())


def test_same_kid_at_two_issuers_picks_the_key_that_verifies() -> None:
    agent = party()
    twin = party("ap-1")
    keys = RootKeyIndex.from_issuers(
        [
            TrustedIssuer("did:web:first.example", "active", (key_from_jwk(twin.public_jwk()),)),
            TrustedIssuer(PROVIDER_DID, "active", (key_from_jwk(PROVIDER.public_jwk()),)),
        ]
    )
    root = _root(agent)
    verified = _ok(root, _leaf(root, agent), keys=keys)
    assert verified.root_issuer_did == PROVIDER_DID
    assert verified.root_jwk == PROVIDER.public_jwk()


def test_inactive_issuers_are_not_root_keys() -> None:
    agent = party()
    root = _root(agent)
    for status in ("suspended", "revoked"):
        keys = RootKeyIndex.from_issuers(
            [TrustedIssuer(PROVIDER_DID, status, (key_from_jwk(PROVIDER.public_jwk()),))]
        )
        _refused(root, _leaf(root, agent), keys=keys)


def test_iss_must_name_the_verifying_issuer() -> None:
    agent = party()
    root = _root(agent, top={"iss": PROVIDER_DID})
    assert _ok(root, _leaf(root, agent)).root_issuer_did == PROVIDER_DID
    for iss in (OTHER_DID, "did:web:nobody.example", 5, None):
        root = _root(agent, top={"iss": iss})
        assert "iss" in _refused(root, _leaf(root, agent))


def test_selectively_disclosed_iss_is_checked_too() -> None:
    agent = party()
    root = _root(agent, top={Sd("iss"): OTHER_DID})
    assert "iss" in _refused(root, _leaf(root, agent))


def test_root_signature_tampered() -> None:
    agent = party()
    root = _root(agent)
    head, body, sig = root.jwt.split(".")
    payload = root.payload | {"exp": 1}
    tampered = Hop(f"{head}.{enc(payload)}.{sig}", root.disclosures)
    assert "signature" in _refused(tampered, _leaf(tampered, agent))


def test_leaf_signed_by_a_key_other_than_cnf() -> None:
    agent, other = party(), party()
    root = _root(agent)
    assert "cnf" in _refused(root, _leaf(root, other))
    assert "cnf" in _refused(root, _leaf(root, PROVIDER))


def test_signature_of_the_wrong_length() -> None:
    agent = party()
    root = _root(agent)
    leaf = _leaf(root, agent)
    head, body, sig = leaf.jwt.split(".")
    short = Hop(f"{head}.{body}.{b64(b'x' * 63)}", leaf.disclosures)
    assert "signature" in _refused(root, short)


# --- B3: delegate_payload and _sd_alg (disclosure rules: test_disclosures.py) --------------


def _root_claims(claims: dict[str, Any], agent: Party) -> tuple[Hop, Hop]:
    root = issue(claims, PROVIDER.key, {"alg": "ES256", "kid": "ap-1", "typ": "example+sd-jwt"})
    return root, _leaf(root, agent)


@pytest.mark.parametrize(
    "delegate",
    [
        None,
        "x",
        [],
        {"...": "abc"},
        [{"vct": "mandate.checkout.open.1"}],
        ["digest"],
        [{"...": "decoy-only"}],
    ],
)
def test_delegate_payload_malformed(delegate: Any) -> None:
    agent = party()
    claims = {} if delegate is None else {"delegate_payload": delegate}
    _refused(*_root_claims(claims, agent))


def test_delegate_payload_with_a_plain_element_beside_the_reference() -> None:
    agent = party()
    _refused(*_root_claims({"delegate_payload": [Sd(open_checkout(agent)), {"vct": "x"}]}, agent))


def test_delegate_payload_with_two_disclosed_elements() -> None:
    agent = party()
    content = open_checkout(agent)
    reason = _refused(
        *_root_claims({"delegate_payload": [Sd(content), Sd(dict(content, iat=1))]}, agent)
    )
    assert "exactly one" in reason


def test_delegate_payload_disclosed_value_not_an_object() -> None:
    agent = party()
    _refused(*_root_claims({"delegate_payload": [Sd(["not", "an", "object"])]}, agent))


def test_delegate_payload_decoy_references_are_ignored() -> None:
    agent = party()
    root = root_hop(open_checkout(agent), PROVIDER, extra_refs=3, decoys=2)
    _ok(root, _leaf(root, agent))


def test_delegate_payload_may_itself_be_disclosed() -> None:
    agent = party()
    _ok(*_root_claims({Sd("delegate_payload"): [Sd(open_checkout(agent))]}, agent))


@pytest.mark.parametrize("alg", ["sha-512", "SHA-256", "sha256", None, 1])
def test_sd_alg_other_than_sha256(alg: Any) -> None:
    agent = party()
    reason = _refused(
        *_root_claims({"delegate_payload": [Sd(open_checkout(agent))], "_sd_alg": alg}, agent)
    )
    assert "_sd_alg" in reason


def test_sd_alg_absent_is_sha256() -> None:
    agent = party()
    _ok(*_root_claims({"delegate_payload": [Sd(open_checkout(agent))]}, agent))


# --- B4: binding claims and iat ------------------------------------------------------------


def test_issuer_jwt_hash_lets_the_root_drop_disclosures() -> None:
    agent = party()
    root = root_hop(
        open_checkout(
            agent,
            [
                lines(("l", 1, [SHOE])),
                merchants({"id": "merchant_1", "name": "n"}),
                merchants({"id": "merchant_1", "name": "n"}),
            ],
        ),
        PROVIDER,
    )
    fewer = root.without(
        lambda d: len(d) == 2 and isinstance(d[1], dict) and "name" in d[1] and "vct" not in d[1]
    )
    assert len(fewer.disclosures) < len(root.disclosures)
    leaf = _leaf(fewer, agent, binding="issuer_jwt_hash")
    _ok(fewer, leaf)
    # sd_hash binds the root as presented: over the full issuance it fails for fewer disclosures
    leaf = kb_hop(root, closed_checkout(CJ), agent, iat=NOW_TS)
    assert "sd_hash" in _refused(fewer, leaf)


@pytest.mark.parametrize(
    "extra",
    [
        {"binding": None},
        {"binding": "sd_hash", "extra": {"issuer_jwt_hash": "x"}},
        {"binding": "sd_hash", "extra": {"sd_hash": "x"}},
        {"binding": "issuer_jwt_hash", "extra": {"issuer_jwt_hash": 5}},
    ],
)
def test_binding_claims(extra: dict[str, Any]) -> None:
    agent = party()
    root = _root(agent)
    reason = _refused(root, _leaf(root, agent, **extra))
    assert "hash" in reason


def test_sd_hash_over_the_root_without_its_trailing_tilde() -> None:
    agent = party()
    root = _root(agent)
    leaf = _leaf(root, agent, binding=None, extra={"sd_hash": H(root.text[:-1])})
    _refused(root, leaf)


@pytest.mark.parametrize("iat", [None, float(NOW_TS), str(NOW_TS), True, [NOW_TS]])
def test_leaf_iat_must_be_an_integer(iat: Any) -> None:
    agent = party()
    root = _root(agent)
    leaf = _leaf(root, agent)
    payload = leaf.payload
    if iat is None:
        del payload["iat"]
    else:
        payload["iat"] = iat
    assert "iat" in _refused(root, resign(leaf, agent.key, payload=payload))


# --- B5: final hop key binding; cnf -----------------------------------------------------------


def test_key_binding_age_boundary() -> None:
    agent = party()
    root = _root(agent)
    _ok(root, _leaf(root, agent, iat=NOW_TS - 300))
    assert "300" in _refused(root, _leaf(root, agent, iat=NOW_TS - 301))
    _ok(root, _leaf(root, agent, iat=NOW_TS), now=NOW + timedelta(seconds=300))
    _refused(root, _leaf(root, agent, iat=NOW_TS), now=NOW + timedelta(seconds=300, microseconds=1))


@pytest.mark.parametrize(
    ("aud", "nonce"),
    [
        ("https://attacker.example", NONCE),
        (AUD, "other"),
        (None, NONCE),
        (AUD, None),
        ([AUD], NONCE),
        (AUD, 1),
    ],
)
def test_final_aud_and_nonce(aud: Any, nonce: Any) -> None:
    agent = party()
    root = _root(agent)
    leaf = _leaf(root, agent)
    payload = {k: v for k, v in leaf.payload.items() if k not in ("aud", "nonce")}
    if aud is not None:
        payload["aud"] = aud
    if nonce is not None:
        payload["nonce"] = nonce
    _refused(root, resign(leaf, agent.key, payload=payload))


def test_final_hop_must_not_carry_cnf() -> None:
    agent = party()
    root = _root(agent)
    assert "cnf" in _refused(root, _leaf(root, agent, content=closed_checkout(CJ, cnf=agent.cnf)))
    assert "cnf" in _refused(root, _leaf(root, agent, extra={"cnf": agent.cnf}))


@pytest.mark.parametrize(
    "cnf",
    [
        None,
        "x",
        {},
        {"jwk": "x"},
        {"jkt": "abc"},
    ],
)
def test_open_content_cnf_required(cnf: Any) -> None:
    agent = party()
    content = open_checkout(agent)
    if cnf is None:
        del content["cnf"]
    else:
        content["cnf"] = cnf
    root = root_hop(content, PROVIDER)
    assert "cnf" in _refused(root, _leaf(root, agent))


def _jwk_variants(agent: Party) -> list[dict[str, Any]]:
    base = agent.jwk
    other = party().jwk
    return [
        base | {"d": b64(b"0" * 32)},
        base | {"kty": "RSA"},
        base | {"crv": "P-384"},
        {k: v for k, v in base.items() if k != "crv"},
        {k: v for k, v in base.items() if k != "y"},
        base | {"x": base["x"][:42]},
        base | {"x": base["x"] + "A"},
        base | {"x": "+" + base["x"][1:]},
        base | {"y": other["y"]},  # not a point of the curve
        base | {"alg": "ES384"},
        base | {"use": "wrap"},
        base | {"key_ops": "verify"},
        base | {"key_ops": ["verify", "fly"]},
        base | {"kid": 5},
        base | {"x5c": "cert"},
        base | {"ext": True},
    ]


@pytest.mark.parametrize("variant", range(16))
def test_cnf_jwk_must_be_a_plain_p256_public_key(variant: int) -> None:
    agent = party()
    content = open_checkout(agent)
    content["cnf"] = {"jwk": _jwk_variants(agent)[variant]}
    root = root_hop(content, PROVIDER)
    assert "cnf" in _refused(root, _leaf(root, agent))


def test_cnf_jwk_optional_members_allowed() -> None:
    agent = party()
    content = open_checkout(agent)
    content["cnf"] = {
        "jwk": agent.jwk
        | {
            "alg": "ES256",
            "use": "sig",
            "key_ops": ["verify"],
            "kid": "agent-1",
            "x5t#S256": "t",
            "x5c": [],
        }
    }
    root = root_hop(content, PROVIDER)
    _ok(root, _leaf(root, agent))


def test_intermediate_needs_its_own_cnf_and_may_skip_aud_nonce() -> None:
    agent, sub = party(), party()
    root = _root(agent)
    mid = kb_hop(
        root, open_checkout(sub), agent, iat=NOW_TS - 86400, final=False, aud=None, nonce=None
    )
    chain3 = _ok(root, mid, _leaf(mid, sub))
    assert [h.role for h in chain3.hops] == ["root", "intermediate", "final"]
    assert chain3.open_hop_hashes == (H(root.text), H(mid.text))
    content = open_checkout(sub)
    del content["cnf"]
    mid = kb_hop(root, content, agent, iat=NOW_TS, final=False)
    _refused(root, mid, _leaf(mid, sub))


def test_intermediate_aud_nonce_are_not_checked() -> None:
    agent, sub = party(), party()
    root = _root(agent)
    mid = kb_hop(
        root, open_checkout(sub), agent, iat=NOW_TS, final=False, aud="did:web:sub", nonce="zzz"
    )
    _ok(root, mid, _leaf(mid, sub))


def test_intermediate_binding_is_checked() -> None:
    agent, sub = party(), party()
    root = _root(agent)
    mid = kb_hop(root, open_checkout(sub), agent, iat=NOW_TS, final=False, binding=None)
    _refused(root, mid, _leaf(mid, sub))
    mid = kb_hop(root, open_checkout(sub), agent, iat=NOW_TS, final=False)
    leaf = kb_hop(
        root, closed_checkout(CJ), sub, iat=NOW_TS
    )  # sd_hash over the root, not the intermediate
    _refused(root, mid, leaf)


# --- B6: times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "claims", "ok"),
    [
        ("content", {"exp": NOW_TS - 60}, True),
        ("content", {"exp": NOW_TS - 61}, False),
        ("content", {"nbf": NOW_TS + 60}, True),
        ("content", {"nbf": NOW_TS + 61}, False),
        ("content", {"iat": NOW_TS + 60}, True),
        ("content", {"iat": NOW_TS + 61}, False),
        ("content", {"exp": float(NOW_TS + 3600)}, False),
        ("content", {"iat": True}, False),
        ("content", {"nbf": "0"}, False),
        ("content", {"iat": None}, False),
        ("top", {"exp": NOW_TS - 61}, False),
        ("top", {"nbf": NOW_TS + 61}, False),
        ("top", {"iat": NOW_TS + 61}, False),
        ("top", {"iat": NOW_TS - 10**6, "exp": NOW_TS + 1}, True),
        ("top", {"exp": 1.5e9}, False),
    ],
)
def test_root_times(where: str, claims: dict[str, Any], ok: bool) -> None:
    agent = party()
    if where == "content":
        root = root_hop(open_checkout(agent) | claims, PROVIDER)
    else:
        root = _root(agent, top=claims)
    leaf = _leaf(root, agent)
    if ok:
        _ok(root, leaf)
    else:
        _refused(root, leaf)


def test_leaf_times() -> None:
    agent = party()
    root = _root(agent)
    _refused(root, _leaf(root, agent, content=closed_checkout(CJ, exp=NOW_TS - 61)))
    _refused(root, _leaf(root, agent, extra={"exp": NOW_TS - 61}))
    _refused(root, _leaf(root, agent, iat=NOW_TS + 61))
    _ok(root, _leaf(root, agent, iat=NOW_TS + 60))


def test_naive_now_is_a_programming_error() -> None:
    agent = party()
    root = _root(agent)
    with pytest.raises(ValueError, match="aware"):
        _verify(root, _leaf(root, agent), now=NOW.replace(tzinfo=None))


def test_merchant_key_is_not_a_root_key() -> None:
    agent = party()
    root = root_hop(open_checkout(agent), MERCHANT_KEY)
    _refused(root, _leaf(root, agent))


def test_did_only_issuers_cannot_sign_roots() -> None:
    agent = party()
    did_jwk = "did:jwk:" + b64(json.dumps(PROVIDER.jwk).encode())
    for did in (did_jwk, did_key(PROVIDER.key.public_key())):
        issuer = TrustedIssuer.from_did(did, "active")
        keys = RootKeyIndex.from_issuers([issuer])
        kid = issuer.keys[0].kid
        assert kid is not None
        assert keys.candidates(kid) == ()
        root = root_hop(open_checkout(agent), PROVIDER, kid=kid)
        assert "kid" in _refused(root, _leaf(root, agent), keys=keys)
    # the same DID with a registered JWKS key does sign roots
    with_jwks = TrustedIssuer(did_jwk, "active", (key_from_jwk(PROVIDER.public_jwk()),))
    root = _root(agent)
    _ok(root, _leaf(root, agent), keys=RootKeyIndex.from_issuers([with_jwks]))


def _loose_root(agent: Party) -> Hop:
    cons = [lines(("l", 1, [SHOE])), merchants({"id": "merchant_1", "name": "n"})]
    return root_hop(open_checkout(agent, cons), PROVIDER)


def test_disclosure_refusals_through_the_chain() -> None:
    agent = party()
    root = _loose_root(agent)
    leaf = _leaf(root, agent, binding="issuer_jwt_hash")  # so the root's disclosures may vary
    _ok(root, leaf)
    first, *rest = root.disclosures
    stray = party()  # any disclosure the root does not reference
    variants = {
        "twice": [first, first, *rest],
        "not referenced": [*root.disclosures, leaf.disclosures[0]],
        "not referenced too": [*root.disclosures, enc(["salt", "x", stray.jwk])],
        "not a disclosure": [*root.disclosures, enc({"not": "an array"})],
    }
    for name, discs in variants.items():
        reason = _refused(Hop(root.jwt, discs), leaf)
        assert reason, name


def test_cnf_keys_met_before_are_checked_the_same() -> None:
    """The prepared-key cache by coordinates changes no verdict, whatever came before."""
    agent = party()
    root = root_hop(open_checkout(agent), PROVIDER)
    for _ in range(2):
        _ok(root, _leaf(root, agent))
        assert "cnf" in _refused(root, _leaf(root, party()))
    off_curve = open_checkout(agent)
    off_curve["cnf"] = {"jwk": agent.jwk | {"y": party().jwk["y"]}}
    bad_root = root_hop(off_curve, PROVIDER)
    for _ in range(2):
        assert "cnf" in _refused(bad_root, _leaf(bad_root, agent))
