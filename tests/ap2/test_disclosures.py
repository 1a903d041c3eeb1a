"""RFC 9901 disclosure processing with the contract's refusals, and the sd-jwt library as oracle."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from app.ap2.verification.disclosures import (
    MAX_DEPTH,
    DisclosureError,
    apply_disclosures,
    process,
)
from app.ap2.verification.wire import load_pairs
from tests.ap2.minting import H, b64, b64d, disclosure, enc

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _refused(payload: dict[str, Any], discs: list[str], match: str | None = None) -> None:
    with pytest.raises(DisclosureError, match=match):
        apply_disclosures(payload, tuple(discs))


def test_object_and_array_disclosures_are_applied() -> None:
    a = disclosure("Alice", "name")
    e1, e2 = disclosure("x"), disclosure({"k": 1})
    nested = disclosure({"_sd": [H(a)], "plain": 1}, "person")
    payload = {
        "_sd": [H(nested), H("decoy-1")],
        "list": [{"...": H(e1)}, 2, {"...": H(e2)}, {"...": H("decoy-2")}],
    }
    assert apply_disclosures(payload, (a, e1, e2, nested)) == {
        "person": {"plain": 1, "name": "Alice"},
        "list": ["x", 2, {"k": 1}],
    }


def test_undisclosed_elements_and_claims_vanish() -> None:
    e = disclosure("x")
    payload = {
        "_sd": [H("decoy-1"), H("decoy-2")],
        "list": [{"...": H(e)}, {"...": H("decoy")}],
        "a": 1,
    }
    assert apply_disclosures(payload, ()) == {"list": [], "a": 1}
    assert apply_disclosures(payload, (e,)) == {"list": ["x"], "a": 1}


@pytest.mark.parametrize(
    "text",
    [
        enc({"salt": "s"}),
        enc("just a string"),
        enc([]),
        enc(["salt"]),
        enc(["salt", "name", "value", "extra"]),
        enc([1, "name", "value"]),
        enc([None, "value"]),
        enc(["salt", 1, "value"]),
        enc(["salt", None, "value"]),
        enc(["salt", "_sd", "value"]),
        enc(["salt", "...", "value"]),
        b64(b"not json"),
        b64(b'["salt", {"a": 1, "a": 2}]'),
        b64(b'["salt", "n", 1e400]'),
        b64(b"\xff\xfe"),
    ],
)
def test_malformed_disclosures(text: str) -> None:
    _refused({"_sd": [H(text)], "list": [{"...": H(text)}]}, [text])


def test_same_disclosure_twice() -> None:
    d = disclosure("v", "a")
    _refused({"_sd": [H(d)]}, [d, d], "twice")


def test_digest_twice_in_the_hop() -> None:
    d = disclosure("v", "a")
    e = disclosure("v")
    _refused({"_sd": [H(d), H(d)]}, [d], "twice")
    _refused({"_sd": [H("decoy"), H("decoy")]}, [], "twice")  # decoys count too
    _refused({"x": {"_sd": [H(d)]}, "y": {"_sd": [H(d)]}}, [d], "twice")
    _refused({"l": [{"...": H(e)}, {"...": H(e)}]}, [e], "twice")
    _refused({"_sd": [H(e)], "l": [{"...": H(e)}]}, [e])


@pytest.mark.parametrize("sd", ["digest", {"d": 1}, [1], [None], [["d"]], None])
def test_sd_must_be_an_array_of_strings(sd: Any) -> None:
    _refused({"_sd": sd}, [], "_sd")


@pytest.mark.parametrize(
    "element", [{"...": "d", "x": 1}, {"...": 5}, {"...": None}, {"...": ["d"]}]
)
def test_malformed_array_references(element: dict[str, Any]) -> None:
    _refused({"l": [element]}, [], "reference")


def test_disclosure_of_the_wrong_kind() -> None:
    element, prop = disclosure("v"), disclosure("v", "a")
    _refused({"_sd": [H(element)]}, [element], "array-element")
    _refused({"l": [{"...": H(prop)}]}, [prop], "object-property")


def test_disclosed_name_already_present() -> None:
    d, d2 = disclosure("v", "a"), disclosure("w", "a")
    _refused({"a": 1, "_sd": [H(d)]}, [d], "already present")
    _refused({"_sd": [H(d), H(d2)]}, [d, d2], "already present")


def test_unreferenced_disclosures() -> None:
    d, stray = disclosure("v", "a"), disclosure("w", "b")
    _refused({"_sd": [H(d)]}, [d, stray], "not referenced")
    inner = disclosure("deep", "c")
    outer = disclosure({"_sd": [H(inner)]}, "o")
    assert apply_disclosures({"_sd": [H(outer)]}, (outer, inner)) == {"o": {"c": "deep"}}
    # referenced only from inside a disclosure that is not itself presented
    _refused({"_sd": [H(outer)]}, [inner], "not referenced")


def test_nesting_too_deep() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    _refused({"x": deep}, [], "deep")
    ok: Any = 1
    for _ in range(MAX_DEPTH - 2):
        ok = {"k": ok}
    apply_disclosures({"x": ok}, ())


def test_nesting_through_disclosures_is_bounded_too() -> None:
    discs = []
    digest = None
    for level in range(MAX_DEPTH + 2):
        value: dict[str, Any] = {"level": level}
        if digest is not None:
            value["_sd"] = [digest]
        text = disclosure(value, f"n{level}")
        discs.append(text)
        digest = H(text)
    _refused({"_sd": [digest]}, discs, "deep")


def test_sd_alg_is_removed_only_at_the_top() -> None:
    assert apply_disclosures({"_sd_alg": "sha-256", "x": {"_sd_alg": "y"}}, ()) == {
        "x": {"_sd_alg": "y"}
    }


def _pairs(payload: dict[str, Any]) -> Any:
    return load_pairs(json.dumps(payload).encode(), "payload")


def test_process_requires_delegate_payload() -> None:
    with pytest.raises(DisclosureError, match="delegate_payload"):
        process(_pairs({"a": 1}), ())
    content = disclosure({"vct": "v"})
    done = process(_pairs({"delegate_payload": [{"...": H(content)}]}), (content,))
    assert done.content == {"vct": "v"}
    assert done.payload == {"delegate_payload": [{"vct": "v"}]}
    nested = {"x": {"delegate_payload": [{"...": H(content)}]}}
    with pytest.raises(DisclosureError):
        process(_pairs(nested), (content,))  # only the top-level member is the delegate payload
    with pytest.raises(DisclosureError, match="not a JSON object"):
        process(load_pairs(b"[1]", "payload"), ())


def test_duplicate_member_names_anywhere_in_the_walked_tree() -> None:
    content = disclosure({"vct": "v"})
    ref = '{"...": "' + H(content) + '"}'
    for raw in (
        '{"delegate_payload": [' + ref + '], "a": 1, "a": 2}',
        '{"delegate_payload": [' + ref + '], "x": {"b": 1, "b": 1}}',
        '{"delegate_payload": [' + ref + '], "l": [{"c": [], "c": []}]}',
        '{"delegate_payload": [{"...": "' + H(content) + '", "...": "x"}]}',
        '{"delegate_payload": [' + ref + '], "delegate_payload": [' + ref + "]}",
    ):
        with pytest.raises(DisclosureError, match="duplicate|twice"):
            process(load_pairs(raw.encode(), "payload"), (content,))
    dup_value = b64(b'["salt", {"vct": "v", "vct": "w"}]')
    with pytest.raises(DisclosureError, match="duplicate"):
        process(_pairs({"delegate_payload": [{"...": H(dup_value)}]}), (dup_value,))


# --- the sd-jwt library as an oracle on well-formed presentations ------------------------------

ISSUER_KEY = JWK.generate(kty="EC", crv="P-256")
names = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
# NUL and lone surrogates are refused on purpose (test_wire), so the oracle gets neither.
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=6)
scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text


def _sd_values(depth: int = 0) -> st.SearchStrategy[Any]:
    if depth >= 3:
        return scalars
    child = _sd_values(depth + 1)
    lists = st.lists(st.tuples(st.booleans(), child), max_size=4).map(
        lambda items: [SDObj(v) if sd else v for sd, v in items]
    )
    objects = st.dictionaries(names, st.tuples(st.booleans(), child), max_size=4).map(
        lambda members: {(SDObj(k) if sd else k): v for k, (sd, v) in members.items()}
    )
    return scalars | lists | objects


def _plain(value: Any) -> Any:
    if isinstance(value, SDObj):
        return _plain(value.value)
    if isinstance(value, dict):
        return {(k.value if isinstance(k, SDObj) else k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _issue(claims: dict[Any, Any], decoys: bool) -> tuple[dict[str, Any], list[str], str]:
    issuer = SDJWTIssuer(claims, ISSUER_KEY, add_decoy_claims=decoys)
    jwt, *discs, _ = issuer.sd_jwt_issuance.split("~")
    payload = json.loads(b64d(jwt.split(".")[1]))
    return payload, discs, issuer.sd_jwt_issuance


def _library(issuance: str) -> dict[str, Any]:
    verifier = SDJWTVerifier(issuance, lambda iss, header: ISSUER_KEY)
    return verifier.get_verified_payload()


@SETTINGS
@given(st.dictionaries(names, st.tuples(st.booleans(), _sd_values()), max_size=5), st.booleans())
def test_agrees_with_the_sd_jwt_library(members: dict[str, Any], decoys: bool) -> None:
    claims = {(SDObj(k) if sd else k): v for k, (sd, v) in members.items()}
    payload, discs, issuance = _issue(claims, decoys)
    ours = apply_disclosures(payload, tuple(discs))
    assert ours == _library(issuance) == _plain(claims)


@SETTINGS
@given(
    st.dictionaries(names, st.tuples(st.booleans(), _sd_values()), min_size=1, max_size=5),
    st.data(),
)
def test_subsets_agree_or_are_refused_for_unreferenced_disclosures(
    members: dict[str, Any], data: Any
) -> None:
    claims = {(SDObj(k) if sd else k): v for k, (sd, v) in members.items()}
    payload, discs, _ = _issue(claims, decoys=False)
    keep = data.draw(st.lists(st.booleans(), min_size=len(discs), max_size=len(discs)))
    subset = [d for d, k in zip(discs, keep, strict=True) if k]
    jwt = _issue_jwt(payload)
    library = _library(jwt + "~" + "".join(d + "~" for d in subset))
    try:
        ours, refusal = apply_disclosures(payload, tuple(subset)), ""
    except DisclosureError as exc:
        ours, refusal = None, str(exc)
    if ours is None:
        # The library silently drops what we refuse: a disclosure whose parent is withheld.
        assert "not referenced" in refusal
    else:
        assert ours == library


def _issue_jwt(payload: dict[str, Any]) -> str:
    jws = JWS(json.dumps(payload).encode())
    jws.add_signature(ISSUER_KEY, alg="ES256", protected=json.dumps({"alg": "ES256"}))
    return jws.serialize(compact=True)


def test_library_gaps_we_close() -> None:
    """What the sd-jwt library accepts and the contract refuses."""
    d, stray = disclosure("v", "a"), disclosure("w", "b")
    payload = {"_sd": [H(d)]}
    jwt = _issue_jwt(payload)
    assert _library(jwt + f"~{d}~{stray}~") == {"a": "v"}  # the library ignores the stray one
    _refused(payload, [d, stray], "not referenced")
    e = disclosure("x")
    payload = {"l": [{"...": H(e)}, {"...": H(e)}]}
    assert _library(_issue_jwt(payload) + f"~{e}~") == {"l": ["x", "x"]}  # used twice
    _refused(payload, [e], "twice")
    payload = {"l": [{"...": H(e), "extra": 1}]}
    assert _library(_issue_jwt(payload) + f"~{e}~") == {"l": [{"...": H(e), "extra": 1}]}
    _refused(payload, [e], "other members")
