"""Stage A: presentation shape, hop splitting, and the unverified root `kid`."""

from __future__ import annotations

import pytest

from app.ap2.verification import (
    MAX_PRESENTATION_CHARS,
    Rejection,
    ResultCode,
    Stage,
    VerifiedChain,
    header_kid,
    root_kid,
    verify_chain,
)
from tests.ap2.minting import H, b64, chain, enc, sign
from tests.ap2.scenarios import AUD, NOW, NOW_TS, ROOT_KEYS, checkout, payment

IC, NS = ResultCode.INVALID_CREDENTIAL, ResultCode.MANDATES_NOT_SUPPORTED


def _reject(sd_jwt: object, code: ResultCode, stage: Stage = Stage.SHAPE) -> Rejection:
    result = verify_chain(sd_jwt, checkout().context, ROOT_KEYS, NOW)
    assert isinstance(result, Rejection), result
    assert (result.code, result.stage) == (code, stage), result.reason
    assert result.violations[0].constraint is None
    if stage is Stage.SHAPE:
        assert result.reference is None  # no receipt when stage A fails
    return result


def test_valid_two_hop_chain_keeps_each_hop_verbatim() -> None:
    s = checkout()
    result = s.verify()
    assert isinstance(result, VerifiedChain)
    assert result.hop_texts == (s.root.text, s.leaf.text)
    assert "~".join(result.hop_texts) == s.sd_jwt
    assert result.reference == H(s.leaf.text)
    assert result.reference_sdk == result.leaf_jwt_hash == H(s.leaf.jwt)
    assert result.open_mandate_hash == H(s.root.jwt)
    assert result.open_hop_hashes == (H(s.root.text),)


@pytest.mark.parametrize("value", [None, 42, b"abc~", ["a~"], {"sd_jwt": "x"}])
def test_non_string_presentations(value: object) -> None:
    _reject(value, IC)


def test_oversized_presentation() -> None:
    s = checkout()
    _reject(s.sd_jwt + "A" * (MAX_PRESENTATION_CHARS - len(s.sd_jwt)) + "~", IC)


def test_non_ascii_presentation() -> None:
    s = checkout()
    _reject(s.sd_jwt[:-1] + "é~", IC)


def test_trailing_kb_jwt_is_not_supported() -> None:
    s = checkout()
    kb = sign(
        {"alg": "ES256", "typ": "kb+jwt"}, {"iat": NOW_TS, "aud": AUD, "nonce": "n"}, s.agent.key
    )
    _reject(s.sd_jwt + kb, NS)


def test_lone_kb_jwt_is_not_supported() -> None:
    s = checkout()
    _reject(sign({"alg": "ES256", "typ": "kb+jwt"}, {"iat": NOW_TS}, s.agent.key), NS)


@pytest.mark.parametrize(
    "tail",
    [
        "garbage",
        "a.b.c",
        enc({"alg": "ES256", "typ": "JWT"}) + "." + enc({}) + ".",
        enc({"alg": "ES256", "typ": "KB+JWT"}) + "." + enc({}) + ".",
        enc(["typ", "kb+jwt"]) + "." + enc({}) + ".",
    ],
)
def test_other_unterminated_tails_are_invalid(tail: str) -> None:
    _reject(checkout().sd_jwt + tail, IC)


def test_single_hop_is_not_supported() -> None:
    s = checkout()
    _reject(s.root.text, NS)
    _reject(s.root.jwt + "~", NS)


@pytest.mark.parametrize(
    "jwt",
    [
        "onlyone",
        "two.parts",
        "a.b.c.d",
        "a.b.c.d.e",
        ".payload.sig",
        "header..sig",
        "he+der.payload.sig",
        "header.pay/oad.sig",
        "header.payload=.sig",
        "header.payload.s!g",
        "header.payloaE.sig",  # non-canonical: unused low bits set
        "A.payload.sig",  # a length of 4n+1 never decodes
    ],
)
def test_hop_jwt_that_is_not_three_base64url_parts(jwt: str) -> None:
    s = checkout()
    _reject(s.root.text + "~" + jwt + "~", IC)
    _reject(jwt + "~" + "~" + s.leaf.text, IC)


def test_empty_disclosure_is_invalid() -> None:
    s = checkout()
    _reject(
        s.root.text + "~~" + s.leaf.text, IC
    )  # J0~d~ ~ ~ J1~: an empty segment where a JWT is due
    _reject(s.sd_jwt + "~", IC)  # ends in "~~": an empty last hop


@pytest.mark.parametrize("bad", ["not base64!", "ab=", "a+b", "a/b", "A", "x.y"])
def test_non_base64url_disclosure(bad: str) -> None:
    s = checkout()
    _reject(
        s.root.jwt
        + "~"
        + bad
        + "~"
        + "".join(d + "~" for d in s.root.disclosures)
        + "~"
        + s.leaf.text,
        IC,
    )


def test_missing_hop_separator_makes_the_next_jwt_a_bad_disclosure() -> None:
    s = checkout()
    _reject(s.root.text + s.leaf.text, IC)


def test_bad_disclosure_in_a_single_hop_is_invalid_not_unsupported() -> None:
    s = checkout()
    _reject(s.root.text + "!!~", IC)  # A2 comes before A3


def test_empty_signature_passes_stage_a() -> None:
    s = checkout()
    head, body, _ = s.root.jwt.split(".")
    result = _reject(
        chain(*[type(s.root)(f"{head}.{body}.", s.root.disclosures), s.leaf]), IC, Stage.CREDENTIAL
    )
    assert result.reference == H(s.leaf.text)  # a receipt can still be issued


def test_root_kid_reads_the_header_unverified() -> None:
    s = payment()
    assert root_kid(s.sd_jwt) == "ap-1"
    assert root_kid(s.root.jwt) == "ap-1"
    for junk in (None, 3, "", "~", "a.b.c~", "é", "x" * (MAX_PRESENTATION_CHARS + 1)):
        assert root_kid(junk) is None
    no_kid = enc({"alg": "ES256"}) + "." + enc({}) + "." + b64(b"s")
    assert root_kid(no_kid + "~") is None
    assert header_kid(enc({"alg": "ES256", "kid": 7}) + "." + enc({}) + ".") is None
    assert header_kid(b64(b'{"alg":"ES256","kid":"a","kid":"b"}') + ".e30.") is None
    assert header_kid(enc({"alg": "ES256", "kid": "k"}) + ".e30.") == "k"
    assert header_kid('{"kid": "k"}') is None
