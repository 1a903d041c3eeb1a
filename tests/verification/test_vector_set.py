"""The committed vectors are what the minting code produces, and they hold what they promise."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from app.issuers.schemas import IssuerCreate
from app.keys import b64url_decode
from tests.vectors import mint
from tests.vectors.loader import (
    PROJECT_FILE,
    VectorSet,
    project_vectors,
    shared_set_param,
)
from tests.vectors.signing import ec_key, ed25519_key, raw_signature, rsa_key

# The case kinds of the shared sample, by the names both sets give them.
SAMPLE_KINDS = (
    "valid ES256 generic",
    "same token again is idempotent",
    "valid RS256",
    "valid second kid",
    "did:key Ed25519 issuer",
    "did:jwk P-256 issuer",
    "expired",
    "not yet valid (nbf in the future)",
    "tampered signature",
    "tampered payload",
    "alg none",
    "HS256 key confusion",
    "unknown kid",
    "unknown issuer",
    "missing exp",
    "missing sub",
    "garbage",
    "bad base64 parts",
    "payload is a JSON array",
    "other key same kid",
    "alg/key mismatch ES384 header on P-256 key",
    "AP2 cart mandate",
    "AP2 cart with mismatched cart_hash",
    "AP2 intent mandate",
    "AP2 payment mandate",
)


def _payload(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[1]))


def test_committed_file_is_what_mint_writes(tmp_path: Path) -> None:
    # Minting takes well under a second: keys come from labels and one committed RSA PEM.
    out = tmp_path / "public.json"
    assert mint.main(["--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == PROJECT_FILE.read_text(encoding="utf-8"), (
        "tests/vectors/public.json is stale: run python -m tests.vectors.mint"
    )


def test_minting_is_deterministic() -> None:
    assert mint.render(mint.build()) == mint.render(mint.build())
    assert ec_key("label").private_numbers() == ec_key("label").private_numbers()
    assert ec_key("a").private_numbers() != ec_key("b").private_numbers()
    assert ed25519_key("label").private_bytes_raw() == ed25519_key("label").private_bytes_raw()


@pytest.mark.parametrize(
    ("alg", "digest"), [("PS256", hashes.SHA256()), ("PS384", hashes.SHA384())]
)
def test_fixed_salt_pss_verifies_with_cryptography(alg: str, digest: hashes.HashAlgorithm) -> None:
    signature = raw_signature(rsa_key(), alg, b"signing input")
    pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    rsa_key().public_key().verify(signature, b"signing input", pss, digest)
    assert signature == raw_signature(rsa_key(), alg, b"signing input")
    assert signature != raw_signature(rsa_key(), alg, b"other input")


def test_every_kind_of_the_shared_sample_is_covered() -> None:
    names = [case.name for case in project_vectors().cases]
    assert len(names) == len(set(names))
    assert [kind for kind in SAMPLE_KINDS if kind not in names] == []


@pytest.mark.parametrize("shared", [shared_set_param()])
def test_every_case_of_the_shared_sample_has_a_project_twin(shared: VectorSet) -> None:
    project = {case.name: case for case in project_vectors().cases}
    for case in shared.cases:
        assert case.name in project, case.name
        assert set(project[case.name].codes) <= set(case.codes), case.name


def test_cases_are_well_formed() -> None:
    vectors = project_vectors()
    seen: dict[str, str] = {}
    for case in vectors.cases:
        if case.valid:
            assert case.codes == ("VALID",), case.name
            assert case.expect_status == ((200, 201) if case.same_as else (201,)), case.name
        else:
            assert case.expect_status == (422,), case.name
        if case.same_as:
            assert seen[case.same_as] == case.vc_jwt, case.name
        seen[case.name] = case.vc_jwt
    assert sum(case.valid for case in vectors.cases) >= 20


def test_valid_vectors_expire_in_the_2090s() -> None:
    for case in project_vectors().cases:
        if not case.valid:
            continue
        payload = _payload(case.vc_jwt)
        years = [datetime.fromtimestamp(payload["exp"], UTC).year]
        subject = payload["vc"]["credentialSubject"]
        if "intent_expiry" in subject:
            years.append(datetime.fromisoformat(subject["intent_expiry"]).year)
        if "merchant_authorization" in subject:
            years.append(datetime.fromisoformat(subject["contents"]["cart_expiry"]).year)
            years.append(
                datetime.fromtimestamp(_payload(subject["merchant_authorization"])["exp"], UTC).year
            )
        assert all(2090 <= year < 2100 for year in years), (case.name, years)


def test_issuers_register_as_they_are_written() -> None:
    vectors = project_vectors()
    statuses = {issuer.short: issuer.status for issuer in vectors.issuers}
    assert statuses["suspended"] == "suspended"
    assert statuses["revoked"] == "revoked"
    assert set(statuses.values()) == {"active", "suspended", "revoked"}
    for issuer in vectors.issuers:
        assert "status" not in issuer.body
        IssuerCreate.model_validate(issuer.body)
        assert issuer.trusted().keys, issuer.short
    assert len(vectors.trust()) == len(vectors.issuers)
