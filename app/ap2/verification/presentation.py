"""Stage A: the presentation's shape, split into hops, and the root `kid` read before verifying.

`<jwt>~<d>~...~<d>~` per hop, hops joined by one more `~` (so `~~` between hops),
the whole ending in `~`.
"""

from __future__ import annotations

from typing import NamedTuple

from app.ap2.verification.codes import Refusal, ResultCode, Stage, credential
from app.ap2.verification.wire import CompactJws, WireError, b64url, load_object, split_jws

MAX_PRESENTATION_CHARS = 65536


class RawHop(NamedTuple):
    """One hop as received: its JWT split and decoded, its disclosures, its exact text."""

    number: int
    jws: CompactJws
    disclosures: tuple[str, ...]
    decoded: tuple[bytes, ...]  # each disclosure's base64url-decoded bytes
    text: str  # "<jwt>~<d1>~...~<dN>~", the input of sd_hash and of the receipt reference

    @property
    def jwt(self) -> str:
        return self.jws.text


def _shape(reason: str) -> Refusal:
    return credential(reason, Stage.SHAPE)


def _kb_jwt_tail(tail: str) -> bool:
    """True when `tail` is a compact JWS whose header has `typ` `kb+jwt` (an RFC 9901 KB-JWT)."""
    try:
        header = load_object(split_jws(tail, "tail").header_raw, "tail header")
    except WireError:
        return False
    return header.get("typ") == "kb+jwt"


def split_hops(sd_jwt: object) -> tuple[RawHop, ...]:
    """Stage A; raises Refusal (invalid_credential or mandates_not_supported)."""
    if type(sd_jwt) is not str:
        raise _shape("presentation must be a string")
    if len(sd_jwt) > MAX_PRESENTATION_CHARS:
        raise _shape(f"presentation exceeds {MAX_PRESENTATION_CHARS} characters")
    if not sd_jwt.isascii():
        raise _shape("presentation is not ASCII base64url text")
    if not sd_jwt.endswith("~"):
        tail = sd_jwt.rpartition("~")[2]
        if _kb_jwt_tail(tail):
            raise Refusal(
                ResultCode.MANDATES_NOT_SUPPORTED,
                Stage.SHAPE,
                "a chain followed by a KB-JWT (typ kb+jwt) is not supported",
            )
        raise _shape("presentation does not end with '~'")
    # Disclosures are never empty, so "~~" only ever joins two hops; any other empty
    # segment (an empty disclosure or JWT) is refused below.
    # One split on '~' (a two-character separator is several times slower to search):
    # an empty segment ends a hop, so a hop's first segment is never empty; an empty
    # disclosure therefore shows as an empty JWT, and is refused as one.
    segments = sd_jwt[:-1].split("~")
    count = len(segments)
    hops: list[RawHop] = []
    first = start = 0  # first segment of the hop, and its character offset
    while True:
        try:
            end = segments.index("", first)
        except ValueError:
            end = count
        jwt = segments[first] if end > first else ""
        disclosures = tuple(segments[first + 1 : end])
        number = len(hops)
        try:
            jws = split_jws(jwt, "JWT")
            decoded = tuple([b64url(text, "disclosure") for text in disclosures])
        except WireError as exc:
            raise _shape(f"hop {number}: {exc}") from None
        length = len(jwt) + 1 + len(disclosures) + sum(map(len, disclosures))
        hops.append(RawHop(number, jws, disclosures, decoded, sd_jwt[start : start + length]))
        if end == count:
            break
        first, start = end + 1, start + length + 1
        if first == count:
            raise _shape("presentation ends with an empty hop")
    if len(hops) == 1:
        raise Refusal(
            ResultCode.MANDATES_NOT_SUPPORTED,
            Stage.SHAPE,
            "a single SD-JWT (a directly signed mandate) is not supported; a delegation chain is",
        )
    return tuple(hops)


def root_kid(sd_jwt: object) -> str | None:
    """The root hop's header `kid`, read without verifying anything (None when unreadable)."""
    if type(sd_jwt) is not str or len(sd_jwt) > MAX_PRESENTATION_CHARS:
        return None
    return header_kid(sd_jwt.partition("~")[0])


def header_kid(compact_jws: object) -> str | None:
    """The header `kid` of a compact JWS, unverified (None when absent or unreadable)."""
    if type(compact_jws) is not str or len(compact_jws) > MAX_PRESENTATION_CHARS:
        return None
    if not compact_jws.isascii():
        return None
    try:
        header = load_object(split_jws(compact_jws, "JWS").header_raw, "JWS header")
    except WireError:
        return None
    kid = header.get("kid")
    return kid if type(kid) is str and kid else None
