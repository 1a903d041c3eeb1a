"""Disclosure processing of one hop (RFC 9901), with the contract's refusals.

Refused (DisclosureError): a disclosure that is not a JSON array of 2 or 3 elements
with a string salt; a claim name that is not a string or is `_sd` / `...`; the same
disclosure twice; a digest met twice in the hop; an `_sd` that is not an array of
strings; a `{"...": ...}` element with other members or a non-string digest; a
disclosure of the wrong kind for its place; a disclosed name already present in its
object; a disclosure no digest of the hop references; nesting past MAX_DEPTH. Digests
without a disclosure are decoys. The top-level `delegate_payload` must be an array of
references only, exactly one of them disclosed, whose value (an object) is the content.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from app.ap2.verification.wire import WireError, b64url, digest, load_json

SD = "_sd"
SD_ALG = "_sd_alg"
ELLIPSIS = "..."
DELEGATE_PAYLOAD = "delegate_payload"
SUPPORTED_SD_ALG = "sha-256"
# Mandate contents are a handful of levels deep; the bound keeps every later
# recursive step (deep equality, checks) far from the interpreter's stack limit.
MAX_DEPTH = 48


class DisclosureError(ValueError):
    """A disclosure or digest arrangement the contract refuses."""


class Disclosure(NamedTuple):
    """One decoded disclosure: `name` is None for an array element."""

    text: str
    digest: str
    salt: str
    name: str | None
    value: Any


class Processed(NamedTuple):
    """A hop payload with its disclosures applied, and the hop's delegate content."""

    payload: dict[str, Any]
    content: dict[str, Any]


def decode_disclosures(
    texts: tuple[str, ...], raw: tuple[bytes, ...] | None = None
) -> dict[str, Disclosure]:
    """Decode and check each disclosure (`raw`: already base64url-decoded), keyed by digest."""
    by_digest: dict[str, Disclosure] = {}
    for number, text in enumerate(texts):
        try:
            array = load_json(b64url(text, "disclosure") if raw is None else raw[number], "JSON")
        except WireError as exc:
            raise DisclosureError(f"disclosure {number}: {exc}") from None
        if type(array) is not list or len(array) not in (2, 3):
            raise DisclosureError(f"disclosure {number} is not a JSON array of 2 or 3 elements")
        salt = array[0]
        if type(salt) is not str:
            raise DisclosureError(f"disclosure {number} has no string salt")
        name: str | None = None
        if len(array) == 3:
            name = array[1]
            if type(name) is not str:
                raise DisclosureError(f"disclosure {number} has a claim name that is not a string")
            if name in (SD, ELLIPSIS):
                raise DisclosureError(f"disclosure {number} uses the reserved claim name {name!r}")
        key = digest(text)
        if key in by_digest:
            raise DisclosureError(f"disclosure {number} is presented twice")
        by_digest[key] = Disclosure(text, key, salt, name, array[-1])
    return by_digest


class _Walker:
    """Applies the disclosures to a payload, tracking every digest it meets."""

    __slots__ = ("by_digest", "content", "seen")

    def __init__(self, by_digest: dict[str, Disclosure]) -> None:
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.content: dict[str, Any] | None = None

    def _meet(self, key: str) -> Disclosure | None:
        if key in self.seen:
            raise DisclosureError("a digest occurs twice in the hop")
        self.seen.add(key)
        return self.by_digest.get(key)

    def value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is dict:
            return self.object(value, depth)
        if kind is list:
            return self.array(value, depth)
        return value

    def object(self, obj: dict[str, Any], depth: int, top: bool = False) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise DisclosureError("payload is nested too deeply")
        out: dict[str, Any] = {}
        inner = depth + 1
        for name, value in obj.items():
            if name == SD:
                continue
            if top and name == DELEGATE_PAYLOAD:
                out[name] = self.delegate(value, inner)
                continue
            kind = type(value)
            if kind is dict:
                out[name] = self.object(value, inner)
            elif kind is list:
                out[name] = self.array(value, inner)
            else:
                out[name] = value
        if SD not in obj:
            return out
        digests = obj[SD]
        if type(digests) is not list:
            raise DisclosureError("'_sd' is not an array")
        for key in digests:
            if type(key) is not str:
                raise DisclosureError("'_sd' holds a non-string digest")
            found = self._meet(key)
            if found is None:
                continue  # a decoy
            if found.name is None:
                raise DisclosureError("an array-element disclosure is referenced from '_sd'")
            if found.name in out:
                raise DisclosureError(f"disclosed claim {found.name[:64]!r} is already present")
            if top and found.name == DELEGATE_PAYLOAD:
                out[found.name] = self.delegate(found.value, inner)
            else:
                out[found.name] = self.value(found.value, inner)
        return out

    def array(self, array: list[Any], depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise DisclosureError("payload is nested too deeply")
        out: list[Any] = []
        inner = depth + 1
        for element in array:
            kind = type(element)
            if kind is dict:
                if ELLIPSIS in element:
                    found = self._reference(element)
                    if found is not None:
                        out.append(self.value(found.value, inner))
                else:
                    out.append(self.object(element, inner))
            elif kind is list:
                out.append(self.array(element, inner))
            else:
                out.append(element)
        return out

    def _reference(self, element: dict[str, Any]) -> Disclosure | None:
        if len(element) != 1:
            raise DisclosureError("an array-element reference has other members")
        key = element[ELLIPSIS]
        if type(key) is not str:
            raise DisclosureError("an array-element reference holds a non-string digest")
        found = self._meet(key)
        if found is not None and found.name is not None:
            raise DisclosureError("an object-property disclosure is referenced from an array")
        return found

    def delegate(self, value: Any, depth: int) -> list[Any]:
        if type(value) is not list or not value:
            raise DisclosureError("'delegate_payload' is not a non-empty array")
        if self.content is not None:
            raise DisclosureError("'delegate_payload' occurs twice")
        disclosed: list[Any] = []
        for element in value:
            if type(element) is not dict or ELLIPSIS not in element:
                raise DisclosureError("'delegate_payload' holds an element that is not a reference")
            found = self._reference(element)
            if found is not None:
                disclosed.append(found.value)
        if len(disclosed) != 1:
            raise DisclosureError(
                f"'delegate_payload' must have exactly one disclosed element, not {len(disclosed)}"
            )
        if type(disclosed[0]) is not dict:
            raise DisclosureError("the disclosed 'delegate_payload' element is not an object")
        self.content = self.object(disclosed[0], depth + 1)
        return [self.content]


def _apply(
    payload: dict[str, Any], disclosures: tuple[str, ...], raw: tuple[bytes, ...] | None, top: bool
) -> tuple[dict[str, Any], _Walker]:
    sd_alg = payload.get(SD_ALG, SUPPORTED_SD_ALG)
    if sd_alg != SUPPORTED_SD_ALG:
        raise DisclosureError("'_sd_alg' must be absent or 'sha-256'")
    by_digest = decode_disclosures(disclosures, raw)
    walker = _Walker(by_digest)
    processed = walker.object(payload, 0, top=top)
    processed.pop(SD_ALG, None)
    if len(walker.seen.intersection(by_digest)) != len(by_digest):
        unreferenced = next(d for d in by_digest.values() if d.digest not in walker.seen)
        position = disclosures.index(unreferenced.text)
        raise DisclosureError(f"disclosure {position} is not referenced by any digest of the hop")
    return processed, walker


def apply_disclosures(payload: dict[str, Any], disclosures: tuple[str, ...]) -> dict[str, Any]:
    """RFC 9901 processing of any SD-JWT payload (no delegate_payload rule); raises DisclosureError."""
    return _apply(payload, disclosures, None, top=False)[0]


def process(
    payload: dict[str, Any], disclosures: tuple[str, ...], raw: tuple[bytes, ...] | None = None
) -> Processed:
    """Apply `disclosures` (`raw`: their decoded bytes) to a hop payload; raises DisclosureError."""
    processed, walker = _apply(payload, disclosures, raw, top=True)
    if walker.content is None:
        raise DisclosureError("payload has no 'delegate_payload'")
    return Processed(processed, walker.content)
