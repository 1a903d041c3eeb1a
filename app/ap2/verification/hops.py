"""Stage B: each hop's header, key, signature, disclosures, binding and times, from the root.

Every failure is `invalid_credential`. The signature is checked before anything the
hop says about itself is read, so a forged hop only ever learns that it does not verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature

from app.ap2.verification.codes import HopRole, credential
from app.ap2.verification.context import RequestContext
from app.ap2.verification.disclosures import DisclosureError, process
from app.ap2.verification.keys import ALG, InvalidCnf, RootKey, RootKeys, cnf_key, is_es256_key
from app.ap2.verification.presentation import RawHop
from app.ap2.verification.wire import WireError, digest, load_object, load_pairs
from app.keys import TrustedKey

ROOT_TYPS = frozenset({"example+sd-jwt", "dc+sd-jwt"})
INTERMEDIATE_TYP = "kb+sd-jwt+kb"
FINAL_TYP = "kb+sd-jwt"
MAX_KB_AGE_SECONDS = 300
CLOCK_LEEWAY_SECONDS = 60
_US = 1_000_000
_BINDINGS = ("sd_hash", "issuer_jwt_hash")


class VerifiedHop(NamedTuple):
    """A hop that passed stage B: its exact text, parsed header, processed payload and content."""

    number: int
    role: HopRole
    text: str
    jwt: str
    disclosures: tuple[str, ...]
    header: dict[str, Any]
    payload: dict[str, Any]
    content: dict[str, Any]
    key: TrustedKey  # the key that verified this hop's signature

    @property
    def hash(self) -> str:
        """H(`<jwt>~<disclosures>~`), the hop as presented."""
        return digest(self.text)


def _role(index: int, count: int) -> HopRole:
    if index == 0:
        return HopRole.ROOT
    return HopRole.FINAL if index == count - 1 else HopRole.INTERMEDIATE


def _header(hop: RawHop, role: HopRole, label: str) -> dict[str, Any]:
    try:
        header = load_object(hop.jws.header_raw, "header")
    except WireError as exc:
        raise credential(f"{label} {exc}") from None
    if header.get("alg") != ALG:
        raise credential(f"{label} alg must be ES256")
    if "crit" in header:
        raise credential(f"{label} header carries 'crit'; no extension is supported")
    if "b64" in header and header["b64"] is not True:
        raise credential(f"{label} header asks for an unencoded payload")
    typ = header.get("typ")
    if role is HopRole.ROOT:
        ok = "typ" not in header or typ in ROOT_TYPS
    else:
        ok = typ == (FINAL_TYP if role is HopRole.FINAL else INTERMEDIATE_TYP)
    if not ok:
        raise credential(f"{label} typ is not the one a {role} hop carries")
    return header


def _verifies(key: TrustedKey, hop: RawHop) -> bool:
    try:
        key.verifiers[ALG](hop.jws.signature, hop.jws.signing_input)
    except (InvalidSignature, ValueError):
        return False
    return True


def _root_candidates(header: dict[str, Any], hop: RawHop, root_keys: RootKeys) -> list[RootKey]:
    """B2 for the root: the trusted EC P-256 keys named by `kid` that verify the signature."""
    kid = header.get("kid")
    if type(kid) is not str or not kid:
        raise credential("root header has no 'kid' naming a trusted key")
    candidates = [
        root for root in root_keys.candidates(kid) if root.key.kid == kid and is_es256_key(root.key)
    ]
    if not candidates:
        raise credential("no trusted EC P-256 key has the root's 'kid'")
    verified = [root for root in candidates if _verifies(root.key, hop)]
    if not verified:
        raise credential("root signature does not verify")
    return verified


def _root_issuer(payload: dict[str, Any], verified: list[RootKey]) -> RootKey:
    if "iss" not in payload:
        return verified[0]
    iss = payload["iss"]
    for root in verified:
        if root.issuer_did == iss:
            return root
    raise credential("root 'iss' is not the DID of the issuer whose key verified it")


def _check_times(claims: dict[str, Any], number: int, part: str, now_us: int) -> None:
    """B6: `iat`, `exp`, `nbf` are integers when present, within the clock leeway."""
    leeway = CLOCK_LEEWAY_SECONDS
    for name in ("iat", "exp", "nbf"):
        if name in claims and type(claims[name]) is not int:
            raise credential(f"hop {number} {part} '{name}' must be an integer")
    if "exp" in claims and (claims["exp"] + leeway) * _US < now_us:
        raise credential(f"hop {number} {part} has expired")
    if "nbf" in claims and (claims["nbf"] - leeway) * _US > now_us:
        raise credential(f"hop {number} {part} is not valid yet")
    if "iat" in claims and (claims["iat"] - leeway) * _US > now_us:
        raise credential(f"hop {number} {part} is issued in the future")


def _check_binding(payload: dict[str, Any], previous: RawHop, label: str) -> None:
    """B4: exactly one binding claim, equal to its definition; `iat` an integer."""
    present = [name for name in _BINDINGS if name in payload]
    if len(present) != 1:
        raise credential(f"{label} must carry exactly one of sd_hash / issuer_jwt_hash")
    name = present[0]
    expected = digest(previous.text if name == "sd_hash" else previous.jwt)
    if payload[name] != expected:
        raise credential(f"{label} {name} does not match the previous hop")
    if type(payload.get("iat")) is not int:
        raise credential(f"{label} 'iat' must be an integer")


def _check_final(
    payload: dict[str, Any], content: dict[str, Any], context: RequestContext, now_us: int
) -> None:
    """B5 for the leaf: key-binding age, audience, nonce, and no `cnf`."""
    if now_us - payload["iat"] * _US > MAX_KB_AGE_SECONDS * _US:
        raise credential(f"final hop 'iat' is more than {MAX_KB_AGE_SECONDS} s old")
    aud, nonce = payload.get("aud"), payload.get("nonce")
    if type(aud) is not str or aud != context.audience:
        raise credential("final hop 'aud' is not the request audience")
    if type(nonce) is not str or nonce != context.nonce:
        raise credential("final hop 'nonce' is not the request nonce")
    if "cnf" in content or "cnf" in payload:
        raise credential("final hop must not carry 'cnf'")


def verify_hops(
    raw: Sequence[RawHop], context: RequestContext, root_keys: RootKeys, now_us: int
) -> tuple[tuple[VerifiedHop, ...], RootKey]:
    """Stage B over the whole chain; raises Refusal(invalid_credential)."""
    hops: list[VerifiedHop] = []
    root: RootKey | None = None
    next_key: TrustedKey | None = None
    count = len(raw)
    for hop in raw:
        role = _role(hop.number, count)
        label = f"hop {hop.number}"
        header = _header(hop, role, label)
        try:
            payload = load_pairs(hop.jws.payload_raw, "payload")
        except WireError as exc:
            raise credential(f"{label} {exc}") from None
        if type(payload) is not tuple:
            raise credential(f"{label} payload is not a JSON object")
        verified: list[RootKey] = []
        if next_key is None:  # the root: no earlier hop endorses a key
            verified = _root_candidates(header, hop, root_keys)
        elif not _verifies(next_key, hop):
            raise credential(f"{label} signature does not verify with the previous cnf key")
        try:
            processed, content = process(payload, hop.disclosures, hop.decoded)
        except DisclosureError as exc:
            raise credential(f"{label}: {exc}") from None
        if next_key is None:
            root = _root_issuer(processed, verified)
            key = root.key
        else:
            key = next_key
            _check_binding(processed, raw[hop.number - 1], label)
        if role is HopRole.FINAL:
            _check_final(processed, content, context, now_us)
        else:
            try:
                next_key = cnf_key(content)
            except InvalidCnf as exc:
                raise credential(f"{label} content: {exc}") from None
        _check_times(processed, hop.number, "payload", now_us)
        _check_times(content, hop.number, "content", now_us)
        hops.append(
            VerifiedHop(
                hop.number,
                role,
                hop.text,
                hop.jwt,
                hop.disclosures,
                header,
                processed,
                content,
                key,
            )
        )
    if root is None:  # unreachable: stage A guarantees a root hop
        raise credential("presentation has no root hop")
    return tuple(hops), root
