"""The dashboard's browser session and its CSRF tokens.

The cookie is a JWT (HS256 under a key derived from SECRET_KEY for this use
alone) naming a sign-in session of the auth service, the refresh-token family
the API's sessions use too. It holds no secret: logout and deactivating the
user revoke the family, and the next request finds it dead. The cookie also
carries when the session started and when it was last used, so it ends after
DASHBOARD_IDLE_MINUTES without a request and DASHBOARD_SESSION_HOURS after
sign-in, and (for platform admins) the tenant being looked at.

CSRF tokens are an HMAC of the session id (or, before sign-in, of a random
nonce kept in its own cookie): every form carries one, every POST must.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import jwt

from app.core.config import Settings

ALGORITHM = "HS256"
MAX_COOKIE_CHARS = 2048
# The cookie's last-use time is rewritten at most this often (not on every request).
TOUCH_EVERY = timedelta(seconds=60)


class CookieProblem(enum.StrEnum):
    MISSING = "missing"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class BrowserSession:
    user_id: uuid.UUID
    session_id: uuid.UUID
    started: datetime
    seen: datetime
    tenant_id: uuid.UUID | None = None  # a platform admin's chosen tenant

    def touched(self, now: datetime) -> BrowserSession:
        return replace(self, seen=now)

    def looking_at(self, tenant_id: uuid.UUID | None) -> BrowserSession:
        return replace(self, tenant_id=tenant_id)


def _derive(secret: str, purpose: bytes) -> bytes:
    return hashlib.sha256(
        b"mandate-vault/dashboard/" + purpose + b"\x00" + secret.encode()
    ).digest()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class SessionCodec:
    """Encodes and checks the session cookie and the CSRF tokens."""

    def __init__(self, settings: Settings) -> None:
        secret = settings.secret_key.get_secret_value()
        self._key = _derive(secret, b"session/v1")
        self._csrf_key = _derive(secret, b"csrf/v1")
        self.idle = timedelta(minutes=settings.dashboard_idle_minutes)
        self.lifetime = timedelta(hours=settings.dashboard_session_hours)
        # Browsers send Secure cookies over https only; deployed services are.
        self.secure = settings.environment.is_deployed
        prefix = "__Host-" if self.secure else ""
        self.cookie_name = prefix + "mv_session"
        self.nonce_cookie_name = prefix + "mv_csrf"

    def encode(self, session: BrowserSession) -> str:
        claims: dict[str, object] = {
            "typ": "dashboard",
            "sub": str(session.user_id),
            "sid": str(session.session_id),
            "iat": _epoch(session.started),
            "seen": _epoch(session.seen),
        }
        if session.tenant_id is not None:
            claims["tid"] = str(session.tenant_id)
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def decode(self, value: str | None, now: datetime) -> BrowserSession | CookieProblem:
        """The session a cookie names, or why there is none to use."""
        if not value:
            return CookieProblem.MISSING
        if len(value) > MAX_COOKIE_CHARS:
            return CookieProblem.INVALID
        try:
            claims = jwt.decode(
                value,
                self._key,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "verify_iat": False, "require": ["sub", "sid"]},
            )
            if claims.get("typ") != "dashboard":
                return CookieProblem.INVALID
            started = datetime.fromtimestamp(int(claims["iat"]), UTC)
            seen = datetime.fromtimestamp(int(claims["seen"]), UTC)
            tenant = claims.get("tid")
            session = BrowserSession(
                uuid.UUID(str(claims["sub"])),
                uuid.UUID(str(claims["sid"])),
                started,
                seen,
                uuid.UUID(str(tenant)) if tenant is not None else None,
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError, OverflowError, OSError):
            return CookieProblem.INVALID
        if seen > now + TOUCH_EVERY or started > seen:
            return CookieProblem.INVALID
        if now - seen > self.idle or now - started > self.lifetime:
            return CookieProblem.EXPIRED
        return session

    def needs_touch(self, session: BrowserSession, now: datetime) -> bool:
        return now - session.seen >= TOUCH_EVERY

    def csrf_token(self, binding: str) -> str:
        """The CSRF token for a session id (or a pre-sign-in nonce)."""
        digest = hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def csrf_ok(self, binding: str | None, presented: str | None) -> bool:
        if not binding or not presented or len(presented) > 128:
            return False
        return hmac.compare_digest(self.csrf_token(binding), presented)

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(32)
