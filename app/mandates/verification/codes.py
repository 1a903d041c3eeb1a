"""Verification result codes and the immutable values the engine returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple


class Code(StrEnum):
    """Stable verification codes; the API returns them verbatim in problem+json."""

    VALID = "VALID"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_INVALID = "SIG_INVALID"
    ISSUER_UNKNOWN = "ISSUER_UNKNOWN"
    ISSUER_REVOKED = "ISSUER_REVOKED"
    KEY_NOT_FOUND = "KEY_NOT_FOUND"
    ALG_NOT_ALLOWED = "ALG_NOT_ALLOWED"
    INVALID_FORMAT = "INVALID_FORMAT"
    MISSING_REQUIRED_FIELD = "MISSING_REQUIRED_FIELD"
    SCOPE_INVALID = "SCOPE_INVALID"
    CART_HASH_MISMATCH = "CART_HASH_MISMATCH"
    TOO_LARGE = "TOO_LARGE"


class MandateFields(NamedTuple):
    """Indexed claims of a verified mandate; `details` holds JSON-serialisable extras.

    A NamedTuple rather than a frozen dataclass: equally immutable, and it is built
    on every successful verification, where a frozen dataclass costs ~1.5 us more.
    """

    mandate_type: str
    issuer_did: str
    subject_did: str
    jti: str | None
    scope: str | None
    amount_limit: Decimal | None
    currency: str | None
    merchants: list[str]
    expires_at: datetime
    not_before: datetime | None
    issued_at: datetime
    kid: str | None
    alg: str
    details: dict[str, Any]


class VerificationResult(NamedTuple):
    """Outcome of one verification; `fields` is set only when `code` is VALID.

    A NamedTuple, like MandateFields and for the same reason: it is built on every
    verification, and a tuple is the cheapest immutable value to build.
    """

    code: Code
    reason: str
    details: dict[str, Any]
    fields: MandateFields | None = None

    @property
    def ok(self) -> bool:
        return self.code is Code.VALID


# tuple.__new__ skips the generated Python-level __new__ of the NamedTuple.
_new_tuple = tuple.__new__


def valid_result(fields: MandateFields) -> VerificationResult:
    """`VerificationResult(Code.VALID, "verified", {}, fields)`, built on every success."""
    return _new_tuple(VerificationResult, (Code.VALID, "verified", {}, fields))


class Rejection(Exception):
    """Raised inside the engine to stop at the first failed check; never escapes it."""

    __slots__ = ("code", "details", "reason")

    def __init__(self, code: Code, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.details = details

    def result(self) -> VerificationResult:
        return VerificationResult(self.code, self.reason, dict(self.details))
