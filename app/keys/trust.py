"""What a verification engine trusts: issuers by DID, each with prepared keys."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.keys.did import keys_from_did
from app.keys.jwk import TrustedKey, keys_from_jwks


class IssuerStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


_STATUSES = frozenset(IssuerStatus)


def issuer_status(value: str) -> IssuerStatus:
    """The status named by `value`; ValueError for anything else."""
    if value not in _STATUSES:
        raise ValueError(f"issuer status must be one of {sorted(_STATUSES)}")
    return IssuerStatus(value)


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer the caller trusts, with its keys already prepared."""

    did: str
    status: IssuerStatus
    keys: tuple[TrustedKey, ...]
    _by_kid: Mapping[str, TrustedKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", issuer_status(self.status))
        by_kid = {k.kid: k for k in self.keys if k.kid is not None}
        object.__setattr__(self, "_by_kid", by_kid)

    @classmethod
    def from_jwks(cls, did: str, status: IssuerStatus | str, jwks: Any) -> TrustedIssuer:
        return cls(did, issuer_status(status), keys_from_jwks(jwks))

    @classmethod
    def from_did(cls, did: str, status: IssuerStatus | str) -> TrustedIssuer:
        return cls(did, issuer_status(status), keys_from_did(did))

    def find_key(self, kid: str | None) -> TrustedKey | None:
        """The key a token's `kid` names; without `kid` only a sole key qualifies."""
        if kid is None:
            return self.keys[0] if len(self.keys) == 1 else None
        key = self._by_kid.get(kid)
        if key is not None:
            return key
        # A DID URL ("did:...#frag") or bare fragment names the same key.
        if "#" in kid:
            base, _, fragment = kid.rpartition("#")
            if base in ("", self.did):
                key = self._by_kid.get(fragment)
                if key is not None:
                    return key
        if len(self.keys) == 1 and self.keys[0].kid is None:
            return self.keys[0]
        return None


class TrustStore(Protocol):
    """What the engine needs from the caller: issuers by DID."""

    def get(self, did: str, /) -> TrustedIssuer | None: ...


class TrustSnapshot:
    """An immutable in-memory TrustStore."""

    __slots__ = ("_issuers",)

    def __init__(self, issuers: Iterable[TrustedIssuer] = ()) -> None:
        self._issuers: dict[str, TrustedIssuer] = {i.did: i for i in issuers}

    def get(self, did: str, /) -> TrustedIssuer | None:
        return self._issuers.get(did)

    def __len__(self) -> int:
        return len(self._issuers)
