"""The vault's keyring: the current signing key plus older public keys still published.

Rotation makes a new current key and keeps the old public key in the set, so
everything the old key signed (checkpoints, evidence packs, receipts) still
verifies against `GET /.well-known/jwks.json`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.signing.jws import KeySet, sign_compact
from app.signing.keys import SigningKey, generate_signing_key

# Published keys a keyring keeps; keys_from_jwks refuses a JWKS beyond 100.
MAX_PUBLISHED_KEYS = 100


@dataclass(frozen=True, slots=True)
class Keyring:
    """Current signing key and the public JWKs of retired keys (newest first)."""

    current: SigningKey
    retired: tuple[Mapping[str, Any], ...] = ()
    _keyset: KeySet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        retired = tuple(dict(jwk) for jwk in self.retired if jwk.get("kid") != self.current.kid)
        if len(retired) + 1 > MAX_PUBLISHED_KEYS:
            raise ValueError(f"a keyring publishes at most {MAX_PUBLISHED_KEYS} keys")
        object.__setattr__(self, "retired", retired)
        # Parsing the set here refuses a retired key that is not a usable public JWK.
        object.__setattr__(self, "_keyset", KeySet.from_jwks(self.public_jwks()))

    @classmethod
    def of(cls, current: SigningKey, retired: Iterable[Mapping[str, Any]] = ()) -> Keyring:
        return cls(current, tuple(retired))

    @property
    def kid(self) -> str:
        return self.current.kid

    def sign(self, payload: bytes, *, typ: str) -> str:
        """Compact JWS over exactly `payload` with the current key."""
        return sign_compact(self.current, payload, typ=typ)

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """`{"keys": [current, retired...]}`: public members only, what jwks.json serves."""
        return {"keys": [self.current.public_jwk(), *(dict(jwk) for jwk in self.retired)]}

    def keyset(self) -> KeySet:
        """The published keys, prepared for verification."""
        return self._keyset

    def rotated(self, new_key: SigningKey | None = None) -> Keyring:
        """A keyring signing with `new_key` (fresh if omitted), publishing the old key too."""
        key = new_key or generate_signing_key()
        return Keyring(key, (self.current.public_jwk(), *self.retired))
