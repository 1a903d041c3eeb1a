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

import json
from typing import Any, NamedTuple

from app.ap2.verification.wire import WireError, b64url, digest, load_pairs

SD = "_sd"
SD_ALG = "_sd_alg"
ELLIPSIS = "..."
DELEGATE_PAYLOAD = "delegate_payload"
SUPPORTED_SD_ALG = "sha-256"
# Mandate contents are a handful of levels deep; the bound keeps every later
# recursive step (deep equality, checks) far from the interpreter's stack limit.
MAX_DEPTH = 48


# A JSON object as `wire.load_pairs` reads it: (name, value) pairs, in order.
Pairs = tuple[tuple[str, Any], ...]


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


# Disclosure is a NamedTuple; tuple.__new__ skips its Python-level __new__ (one per disclosure).
_new_disclosure = tuple.__new__


def decode_disclosures(
    texts: tuple[str, ...], raw: tuple[bytes, ...] | None = None
) -> dict[str, Disclosure]:
    """Decode and check each disclosure (`raw`: already base64url-decoded), keyed by digest."""
    by_digest: dict[str, Disclosure] = {}
    if raw is None:
        try:
            raw = tuple(b64url(text, "disclosure") for text in texts)
        except WireError as exc:
            raise DisclosureError(str(exc)) from None
    for number, (text, data) in enumerate(zip(texts, raw, strict=True)):
        try:
            array = load_pairs(data, "JSON")
        except WireError as exc:
            raise DisclosureError(f"disclosure {number}: {exc}") from None
        size = len(array) if type(array) is list else 0
        if size != 2 and size != 3:
            raise DisclosureError(f"disclosure {number} is not a JSON array of 2 or 3 elements")
        salt = array[0]
        if type(salt) is not str:
            raise DisclosureError(f"disclosure {number} has no string salt")
        name = None
        if size == 3:
            name = array[1]
            if type(name) is not str:
                raise DisclosureError(f"disclosure {number} has a claim name that is not a string")
            if name in (SD, ELLIPSIS):
                raise DisclosureError(f"disclosure {number} uses the reserved claim name {name!r}")
        key = digest(text)
        if key in by_digest:
            raise DisclosureError(f"disclosure {number} is presented twice")
        by_digest[key] = _new_disclosure(Disclosure, (text, key, salt, name, array[-1]))
    return by_digest


class _Walker:
    """Applies the disclosures to a payload, tracking every digest it meets.

    Input objects are tuples of (name, value) pairs (`wire.load_pairs`); each becomes
    a dict here, and a name met twice in one object is refused on the way.
    """

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
        if kind is tuple:
            return self.object(value, depth)
        if kind is list:
            return self.array(value, depth)
        return value

    def object(self, pairs: Pairs, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise DisclosureError("payload is nested too deeply")
        inner = depth + 1
        out: dict[str, Any] = dict(pairs)
        if len(out) != len(pairs):
            raise DisclosureError("a JSON object has a duplicate member name")
        for name, value in out.items():  # replacing values, never keys, while iterating
            kind = type(value)
            if kind is tuple:
                out[name] = self.object(value, inner)
            elif kind is list:
                out[name] = self.array(value, inner)
        if SD in out:
            self._disclose(out, out.pop(SD), inner, top=False)
        return out

    def top(self, pairs: Pairs) -> dict[str, Any]:
        """The payload itself: as `object`, and its `delegate_payload` yields the content."""
        out: dict[str, Any] = {}
        for name, value in pairs:
            out[name] = (
                self.delegate(value, 1) if name == DELEGATE_PAYLOAD else self.value(value, 1)
            )
        if len(out) != len(pairs):
            raise DisclosureError("the payload has a duplicate member name")
        if SD in out:
            self._disclose(out, out.pop(SD), 1, top=True)
        return out

    def _disclose(self, out: dict[str, Any], digests: Any, depth: int, top: bool) -> None:
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
                out[found.name] = self.delegate(found.value, depth)
            else:
                out[found.name] = self.value(found.value, depth)

    def array(self, array: list[Any], depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise DisclosureError("payload is nested too deeply")
        inner = depth + 1
        out: list[Any] = []
        for element in array:
            kind = type(element)
            if kind is tuple:
                obj = self.object(element, inner)
                if ELLIPSIS in obj:
                    found = self._reference(obj)
                    if found is not None:
                        out.append(self.value(found.value, inner))
                else:
                    out.append(obj)
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
        disclosed: list[Any] = []
        for element in value:
            reference = self.object(element, depth + 1) if type(element) is tuple else None
            if reference is None or ELLIPSIS not in reference:
                raise DisclosureError("'delegate_payload' holds an element that is not a reference")
            found = self._reference(reference)
            if found is not None:
                disclosed.append(found.value)
        if len(disclosed) != 1:
            raise DisclosureError(
                f"'delegate_payload' must have exactly one disclosed element, not {len(disclosed)}"
            )
        if type(disclosed[0]) is not tuple:
            raise DisclosureError("the disclosed 'delegate_payload' element is not an object")
        self.content = self.object(disclosed[0], depth + 1)
        return [self.content]


def _apply(
    payload: Pairs, disclosures: tuple[str, ...], raw: tuple[bytes, ...] | None, top: bool
) -> tuple[dict[str, Any], _Walker]:
    by_digest = decode_disclosures(disclosures, raw)
    walker = _Walker(by_digest)
    processed = walker.top(payload) if top else walker.object(payload, 0)
    if processed.pop(SD_ALG, SUPPORTED_SD_ALG) != SUPPORTED_SD_ALG:
        raise DisclosureError("'_sd_alg' must be absent or 'sha-256'")
    if len(walker.seen.intersection(by_digest)) != len(by_digest):
        unreferenced = next(d for d in by_digest.values() if d.digest not in walker.seen)
        position = disclosures.index(unreferenced.text)
        raise DisclosureError(f"disclosure {position} is not referenced by any digest of the hop")
    return processed, walker


def apply_disclosures(payload: dict[str, Any], disclosures: tuple[str, ...]) -> dict[str, Any]:
    """RFC 9901 processing of any parsed SD-JWT payload (no delegate_payload rule)."""
    try:
        pairs = load_pairs(json.dumps(payload).encode(), "payload")
    except (TypeError, ValueError):
        raise DisclosureError("payload is not JSON") from None
    return _apply(pairs, disclosures, None, top=False)[0]


def process(
    payload: Pairs, disclosures: tuple[str, ...], raw: tuple[bytes, ...] | None = None
) -> Processed:
    """Apply `disclosures` (`raw`: their decoded bytes) to a hop payload read by
    `wire.load_pairs`; raises DisclosureError."""
    if type(payload) is not tuple:
        raise DisclosureError("the payload is not a JSON object")
    processed, walker = _apply(payload, disclosures, raw, top=True)
    if walker.content is None:
        raise DisclosureError("payload has no 'delegate_payload'")
    return Processed(processed, walker.content)
