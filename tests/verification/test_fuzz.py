"""verify_token must return a VerificationResult for any input whatsoever."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.mandates.verification import Code, VerificationResult, verify_token
from tests.verification.conftest import ES_DID
from tests.verification.helpers import NOW, b64url, generic_claims, mint

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
claim_names = st.sampled_from(
    [
        "iss",
        "sub",
        "iat",
        "exp",
        "nbf",
        "jti",
        "vc",
        "type",
        "credentialSubject",
        "scope",
        "amount_limit",
        "currency",
    ]
)


def _part(value) -> str:
    return b64url(json.dumps(value, allow_nan=True).encode())


@SETTINGS
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_random_text_and_bytes(trust, token):
    assert isinstance(verify_token(token, trust, now=NOW), VerificationResult)


@SETTINGS
@given(st.lists(st.text(alphabet="AZaz09-_=+/.!é", max_size=40), min_size=1, max_size=6))
def test_random_dotted_parts(trust, parts):
    assert isinstance(verify_token(".".join(parts), trust, now=NOW), VerificationResult)


@SETTINGS
@given(json_values, json_values, st.binary(max_size=80))
def test_structured_junk(trust, header, payload, signature):
    token = f"{_part(header)}.{_part(payload)}.{b64url(signature)}"
    result = verify_token(token, trust, now=NOW)
    assert isinstance(result, VerificationResult)
    assert result.code is not Code.VALID


@SETTINGS
@given(st.dictionaries(claim_names, json_values, max_size=8), st.sampled_from(["ES256", "EdDSA"]))
def test_signed_junk_claims(trust, keys, claims, alg):
    # Correctly signed tokens with junk claims reach the content checks.
    claims = {**claims, "iss": ES_DID} if alg == "ES256" else claims
    try:
        token = mint(claims, keys.es if alg == "ES256" else keys.ed, alg)
    except (TypeError, ValueError):
        return
    assert isinstance(verify_token(token, trust, now=NOW), VerificationResult)


@SETTINGS
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_signed_junk_subject(trust, keys, subject):
    claims = generic_claims(ES_DID)
    claims["vc"]["credentialSubject"] = subject
    for kind in ("Mandate", "IntentMandate", "CartMandate", "PaymentMandate"):
        claims["vc"]["type"] = ["VerifiableCredential", kind]
        try:
            token = mint(claims, keys.es, "ES256")
        except (TypeError, ValueError):
            return
        assert isinstance(verify_token(token, trust, now=NOW), VerificationResult)


@SETTINGS
@given(json_values, json_values)
def test_signed_junk_envelope(trust, keys, types, vc):
    claims = generic_claims(ES_DID)
    claims["vc"]["type"] = ["VerifiableCredential", types]
    assert isinstance(
        verify_token(mint(claims, keys.es, "ES256"), trust, now=NOW), VerificationResult
    )
    claims["vc"] = vc
    assert isinstance(
        verify_token(mint(claims, keys.es, "ES256"), trust, now=NOW), VerificationResult
    )


def test_unhashable_vc_type_member(trust, keys):
    claims = generic_claims(ES_DID)
    claims["vc"]["type"] = ["VerifiableCredential", ["Mandate"]]
    assert verify_token(mint(claims, keys.es, "ES256"), trust, now=NOW).code is Code.INVALID_FORMAT


def test_pathological_payloads(trust, keys):
    header = _part({"alg": "ES256", "kid": "k1"})
    bodies = [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"exp": 1e400, "iss": "x"}',
        b'{"iss": "' + ES_DID.encode() + b'", "exp": ' + b"9" * 5000 + b"}",
        b'{"iss": 1, "iss": "x"}',
        b'{"iss": NaN}',
        b"\xff\xfe{}",
        b"\xef\xbb\xbf{}",
        b'"just a string"',
        b"null",
    ]
    for body in bodies:
        token = f"{header}.{base64.urlsafe_b64encode(body).rstrip(b'=').decode()}.AAAA"
        result = verify_token(token, trust, now=NOW)
        assert result.code in (Code.INVALID_FORMAT, Code.TOO_LARGE, Code.ISSUER_UNKNOWN)
    deep = generic_claims(ES_DID)
    nested: list = []
    for _ in range(900):
        nested = [nested]
    deep["vc"]["credentialSubject"]["merchants"] = nested
    result = verify_token(mint(deep, keys.es, "ES256"), trust, now=NOW)
    assert result.code is Code.SCOPE_INVALID
