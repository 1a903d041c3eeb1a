"""Issuer keys as a verification saw them, and the same from a key history.

An evidence pack re-runs a mandate's verification as of its ingest with the
issuer keys in force then, so a key rotated away since still verifies the
mandates it signed. The database keeps each key with the period it was
trusted (`KeyVersion`) and each status change (`StatusChange`);
`issuers_as_of` turns that history into what the engine trusted at a moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.keys import IssuerStatus, TrustedIssuer, TrustSnapshot, issuer_status

_SELF_KEYED = ("did:key:", "did:jwk:")


@dataclass(frozen=True, slots=True)
class IssuerKeys:
    """One issuer as trusted at a moment; `jwks` None when the DID carries its key."""

    did: str
    status: str
    jwks: Mapping[str, Any] | None

    def trusted(self) -> TrustedIssuer:
        """The engine's view; raises InvalidKeyMaterial (or ValueError for a bad status)."""
        status = issuer_status(self.status)
        if self.jwks is None:
            return TrustedIssuer.from_did(self.did, status)
        return TrustedIssuer.from_jwks(self.did, status, self.jwks)

    def to_json(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "status": self.status,
            "jwks": dict(self.jwks) if self.jwks is not None else None,
        }


def trust_snapshot(issuers: Iterable[IssuerKeys]) -> TrustSnapshot:
    """A TrustSnapshot of these issuers (InvalidKeyMaterial for unusable keys)."""
    return TrustSnapshot(issuer.trusted() for issuer in issuers)


@dataclass(frozen=True, slots=True)
class KeyVersion:
    """A public JWK of an issuer and the period it was trusted: [valid_from, valid_until)."""

    did: str
    jwk: Mapping[str, Any]
    valid_from: datetime
    valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An issuer's status from `since` on."""

    did: str
    status: IssuerStatus | str
    since: datetime


def issuers_as_of(
    at: datetime,
    dids: Iterable[str],
    keys: Iterable[KeyVersion],
    statuses: Iterable[StatusChange] = (),
) -> tuple[IssuerKeys, ...]:
    """The issuers `dids` as trusted at `at`: keys then in force, status then current.

    An issuer without any key at `at` is left out (the engine answers
    ISSUER_UNKNOWN), unless its DID carries its own key (did:key, did:jwk).
    """
    wanted = list(dict.fromkeys(dids))
    in_force: dict[str, list[dict[str, Any]]] = {did: [] for did in wanted}
    for version in keys:
        if (
            version.did in in_force
            and version.valid_from <= at
            and (version.valid_until is None or at < version.valid_until)
        ):
            in_force[version.did].append(dict(version.jwk))
    status: dict[str, tuple[datetime, str]] = {}
    for change in statuses:
        if change.did in in_force and change.since <= at:
            current = status.get(change.did)
            if current is None or change.since >= current[0]:
                status[change.did] = (change.since, str(change.status))
    result = []
    for did in wanted:
        state = status.get(did, (at, IssuerStatus.ACTIVE.value))[1]
        if in_force[did]:
            result.append(IssuerKeys(did, state, {"keys": in_force[did]}))
        elif did.startswith(_SELF_KEYED):
            result.append(IssuerKeys(did, state, None))
    return tuple(result)
