"""Registered JWT claims (iss, sub, iat, nbf, exp, jti) and their time checks."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from app.mandates.verification.codes import Code, Rejection

# 9999-12-31T23:59:59Z: later NumericDates cannot become datetimes.
MAX_NUMERIC_DATE = 253402300799
MAX_ID_LENGTH = 2048
MAX_JTI_LENGTH = 255


class Claims:
    """Typed registered claims of one token (the mandate or a merchant authorization)."""

    __slots__ = ("exp", "iat", "iss", "jti", "nbf", "sub")

    def __init__(
        self,
        iss: str,
        sub: str | None,
        iat: float,
        exp: float,
        nbf: float | None,
        jti: str | None,
    ) -> None:
        self.iss = iss
        self.sub = sub
        self.iat = iat
        self.exp = exp
        self.nbf = nbf
        self.jti = jti


def read_issuer(payload: dict[str, Any], part: str = "token") -> str:
    """The unverified `iss`, needed to find the key before the signature check."""
    iss = payload.get("iss")
    if iss is None:
        raise Rejection(Code.MISSING_REQUIRED_FIELD, f"{part} has no 'iss'", field="iss")
    if type(iss) is not str or not iss or len(iss) > MAX_ID_LENGTH:
        raise Rejection(Code.INVALID_FORMAT, f"{part} 'iss' must be a non-empty string")
    return iss


def numeric_date(payload: dict[str, Any], name: str, required: bool, part: str) -> float | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise Rejection(Code.MISSING_REQUIRED_FIELD, f"{part} has no '{name}'", field=name)
        return None
    kind = type(value)
    if kind is not int and (kind is not float or not math.isfinite(value)):
        # bool is excluded by the exact type test; strings are not NumericDates.
        raise Rejection(Code.INVALID_FORMAT, f"{part} '{name}' must be a number", field=name)
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise Rejection(Code.INVALID_FORMAT, f"{part} '{name}' is out of range", field=name)
    return value


def _optional_string(
    payload: dict[str, Any], name: str, part: str, limit: int = MAX_ID_LENGTH
) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if type(value) is not str or not value or len(value) > limit:
        raise Rejection(
            Code.INVALID_FORMAT,
            f"{part} '{name}' must be a non-empty string of at most {limit} characters",
        )
    return value


def usual_claims(payload: dict[str, Any], sub: Any, exp: Any, iat: Any, jti: Any) -> bool:
    """The common, already-valid shape: integer times in range, string ids, no nbf."""
    return (
        type(exp) is int
        and type(iat) is int
        and type(sub) is str
        and (type(jti) is str or jti is None)
        and "nbf" not in payload
        and 0 <= exp <= MAX_NUMERIC_DATE
        and 0 <= iat <= MAX_NUMERIC_DATE
        and 0 < len(sub) <= MAX_ID_LENGTH
        and (jti is None or 0 < len(jti) <= MAX_JTI_LENGTH)
    )


def read_claims(payload: dict[str, Any], iss: str, *, require_sub: bool, part: str) -> Claims:
    """Presence and types of the registered claims; times are checked separately."""
    get = payload.get
    sub: Any = get("sub")
    exp: Any = get("exp")
    iat: Any = get("iat")
    jti: Any = get("jti")
    if usual_claims(payload, sub, exp, iat, jti):
        return Claims(iss, sub, iat, exp, None, jti)
    sub = _optional_string(payload, "sub", part)
    if sub is None and require_sub:
        raise Rejection(Code.MISSING_REQUIRED_FIELD, f"{part} has no 'sub'", field="sub")
    exp = numeric_date(payload, "exp", True, part)
    iat = numeric_date(payload, "iat", True, part)
    nbf = numeric_date(payload, "nbf", False, part)
    jti = _optional_string(payload, "jti", part, MAX_JTI_LENGTH)
    return Claims(iss, sub, iat, exp, nbf, jti)


def check_times(claims: Claims, now: float, leeway: float, part: str) -> None:
    """nbf and iat may be at most `leeway` ahead of now; exp must be after now - leeway."""
    check_time_values(claims.nbf, claims.iat, claims.exp, now, leeway, part)


def check_time_values(
    nbf: float | None, iat: float, exp: float, now: float, leeway: float, part: str
) -> None:
    """check_times on the bare values (the engine reads the mandate's claims inline)."""
    if nbf is not None and nbf > now + leeway:
        raise Rejection(Code.NOT_YET_VALID, f"{part} is not valid before its 'nbf'", not_before=nbf)
    if iat > now + leeway:
        raise Rejection(Code.NOT_YET_VALID, f"{part} 'iat' is in the future", issued_at=iat)
    if exp <= now - leeway:
        raise Rejection(Code.EXPIRED, f"{part} expired", expired_at=exp)


def to_datetime(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)
