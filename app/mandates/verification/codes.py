"""Verification result codes and the immutable values the engine returns."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """Outcome of one verification; `fields` is set only when `code` is VALID."""

    code: Code
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    fields: MandateFields | None = None

    @property
    def ok(self) -> bool:
        return self.code is Code.VALID


# The slot descriptors of VerificationResult, for valid_result below.
_SLOTS = vars(VerificationResult)
_set_code = _SLOTS["code"].__set__
_set_reason = _SLOTS["reason"].__set__
_set_details = _SLOTS["details"].__set__
_set_fields = _SLOTS["fields"].__set__
_new_object = object.__new__


def valid_result(fields: MandateFields) -> VerificationResult:
    """`VerificationResult(Code.VALID, "verified", {}, fields)`, built on every success.

    Fills the slots directly: the frozen dataclass __init__ goes through
    object.__setattr__ per field, about twice the cost. The object is the same.
    """
    result = _new_object(VerificationResult)
    _set_code(result, Code.VALID)
    _set_reason(result, "verified")
    _set_details(result, {})
    _set_fields(result, fields)
    return result


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
