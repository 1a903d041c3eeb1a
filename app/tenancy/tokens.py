"""Access tokens (JWT, HS256 with SECRET_KEY, algorithm pinned on verification)
and the opaque secrets: refresh tokens (`mvr_...`) and API keys (`mvk_...`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.core.security import new_secret, sha256_hex

ALGORITHM = "HS256"
ISSUER = "mandate-vault"
API_KEY_PREFIX = "mvk_"
REFRESH_PREFIX = "mvr_"


class TokenError(Exception):
    """The token is not one we issued, or no longer valid; `str()` is safe to show."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


def _key(secret: str) -> bytes:
    return secret.encode()


def create_access_token(
    secret: str, user_id: uuid.UUID, session_id: uuid.UUID, ttl: timedelta
) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, _key(secret), algorithm=ALGORITHM)


def decode_access_token(secret: str, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            _key(secret),
            algorithms=[ALGORITHM],  # pinned: `none` and every other alg are refused
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("access token expired") from None
    except jwt.PyJWTError:
        raise TokenError("access token invalid") from None
    return _claims(claims)


def _claims(claims: dict[str, Any]) -> AccessClaims:
    if claims.get("typ") != "access":
        raise TokenError("access token invalid")
    try:
        return AccessClaims(
            uuid.UUID(claims["sub"]),
            uuid.UUID(claims["sid"]),
            datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (ValueError, TypeError, AttributeError):
        raise TokenError("access token invalid") from None


def create_invite_token(secret: str, user_id: uuid.UUID, password_hash: str, ttl: timedelta) -> str:
    """Single use by construction: it names the current password hash, which
    accepting the invitation replaces."""
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "typ": "invite",
        "pwh": sha256_hex(password_hash)[:32],
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, _key(secret), algorithm=ALGORITHM)


def decode_invite_token(secret: str, token: str) -> tuple[uuid.UUID, str]:
    try:
        claims = jwt.decode(
            token,
            _key(secret),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "pwh", "iss"]},
        )
        if claims.get("typ") != "invite":
            raise TokenError("invitation invalid")
        return uuid.UUID(claims["sub"]), str(claims["pwh"])
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenError("invitation invalid or expired") from None


def invite_fingerprint(password_hash: str) -> str:
    return sha256_hex(password_hash)[:32]


def new_api_key() -> str:
    return API_KEY_PREFIX + new_secret(32)


def new_refresh_token() -> str:
    return REFRESH_PREFIX + new_secret(32)


def secret_hash(secret: str) -> str:
    """SHA-256: right for 256-bit random secrets (argon2 is for passwords)."""
    return sha256_hex(secret)
