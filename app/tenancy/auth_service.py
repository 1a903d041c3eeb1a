"""Sign-in use cases and credential resolution (no FastAPI here).

`login` and `refresh` return an `AppError` instead of raising it when the
refusal itself must be stored (a failed-attempt count, a revoked session after
refresh-token reuse): the caller commits first, then raises.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record
from app.core.actor import Actor
from app.core.config import Settings
from app.core.errors import AppError, Forbidden, TooManyRequests, Unauthorized
from app.core.logging import get_logger
from app.core.security import needs_rehash
from app.models import RefreshToken, User
from app.models.base import utcnow
from app.tenancy import tokens
from app.tenancy.cache import AuthCache
from app.tenancy.passwords import check_password, hash_password, verify_or_dummy
from app.tenancy.principal import Principal
from app.tenancy.repository import CredentialLookup
from app.tenancy.schemas import TokenPair

log = get_logger(__name__)
BEARER = {"WWW-Authenticate": "Bearer"}
LAST_USED_EVERY = 60.0  # seconds between `last_used_at` writes per key


def unauthorized(detail: str, code: str) -> Unauthorized:
    return Unauthorized(detail, code=code, headers=BEARER)


def invalid_credentials() -> Unauthorized:
    # One answer for unknown emails, wrong passwords and locked accounts.
    return unauthorized(
        "Email or password is wrong, or the account is locked after repeated failures.",
        "invalid_credentials",
    )


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new sign-in session: its user, its id (the refresh-token family) and tokens.

    The API hands out the tokens; the dashboard keeps only the session id in its
    cookie, so logout and deactivation end both the same way."""

    user: User
    session_id: uuid.UUID
    tokens: TokenPair


async def start_session(
    session: AsyncSession, settings: Settings, user: User, ip: str | None
) -> SignedIn:
    family = uuid.uuid4()
    return SignedIn(user, family, await _issue(session, settings, user, family, ip))


async def issue_session(
    session: AsyncSession, settings: Settings, user: User, ip: str | None
) -> TokenPair:
    """A new sign-in session: an access token and the first refresh token."""
    return (await start_session(session, settings, user, ip)).tokens


async def _issue(
    session: AsyncSession, settings: Settings, user: User, family: uuid.UUID, ip: str | None
) -> TokenPair:
    refresh = tokens.new_refresh_token()
    await CredentialLookup(session).add_refresh_token(
        RefreshToken(
            user_id=user.id,
            family_id=family,
            token_hash=tokens.secret_hash(refresh),
            expires_at=utcnow() + timedelta(days=settings.refresh_token_ttl_days),
            created_ip=ip,
        )
    )
    ttl = timedelta(minutes=settings.access_token_ttl_minutes)
    access = tokens.create_access_token(
        settings.secret_key.get_secret_value(), user.id, family, ttl
    )
    return TokenPair(
        access_token=access, refresh_token=refresh, expires_in=int(ttl.total_seconds())
    )


def _user_refusal(user: User, tenant_active: bool) -> AppError | None:
    if not user.is_active or user.deleted_at is not None:
        return Forbidden("This account is disabled.", code="account_disabled")
    if not tenant_active:
        return Forbidden("This account's tenant is deactivated.", code="tenant_inactive")
    return None


async def _audit_user(session: AsyncSession, user: User, action: str, **details: Any) -> None:
    """An audit row about the user's own sign-in or password, in this transaction."""
    await record(
        session,
        tenant_id=user.tenant_id,
        actor=Actor("user", str(user.id), user.role),
        action=action,
        resource_type="user",
        resource_id=user.id,
        details=details,
    )


async def login(
    session: AsyncSession, settings: Settings, email: str, password: str, ip: str | None
) -> TokenPair | AppError:
    result = await sign_in(session, settings, email, password, ip)
    return result if isinstance(result, AppError) else result.tokens


async def sign_in(
    session: AsyncSession, settings: Settings, email: str, password: str, ip: str | None
) -> SignedIn | AppError:
    """Check the password (counting failures, locking out) and open a session."""
    lookup = CredentialLookup(session)
    user = await lookup.user_by_email(email.strip().lower())
    now = utcnow()
    if user is None:
        verify_or_dummy(None, password)
        return invalid_credentials()
    locked = user.locked_until is not None and user.locked_until > now
    if not verify_or_dummy(user.password_hash, password) or locked:
        if not locked:
            user.failed_login_count += 1
            failures = user.failed_login_count
            if user.failed_login_count >= settings.login_max_failures:
                user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
                user.failed_login_count = 0
                log.warning("account_locked", user_id=str(user.id))
            await _audit_user(session, user, "user.login_failed", failures=failures)
            if user.locked_until is not None and user.locked_until > now:
                await _audit_user(
                    session, user, "user.locked_out", minutes=settings.login_lockout_minutes
                )
        else:
            await _audit_user(session, user, "user.login_failed", reason="locked")
        await session.flush()
        return invalid_credentials()
    refusal = _user_refusal(user, await lookup.tenant_active(user.tenant_id))
    if refusal is not None:
        return refusal
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    await _audit_user(session, user, "user.logged_in")
    return await start_session(session, settings, user, ip)


async def refresh(
    session: AsyncSession, settings: Settings, presented: str, ip: str | None, cache: AuthCache
) -> TokenPair | AppError:
    lookup = CredentialLookup(session)
    token = await lookup.refresh_token(tokens.secret_hash(presented))
    now = utcnow()
    if token is None:
        return unauthorized("Refresh token invalid.", "invalid_refresh_token")
    if token.revoked_at is not None:
        return unauthorized("Refresh token revoked.", "refresh_token_revoked")
    if token.used_at is not None or not await lookup.use_refresh_token(token.id, now):
        # Reuse of a rotated token: someone holds a copy. End the whole session.
        await lookup.revoke_session(token.family_id, now)
        cache.clear(session)
        log.warning("refresh_token_reused", user_id=str(token.user_id))
        return unauthorized(
            "Refresh token already used; the session has been ended.", "refresh_token_reused"
        )
    if token.expires_at <= now:
        return unauthorized("Refresh token expired.", "refresh_token_expired")
    user = await lookup.user_by_id(token.user_id)
    if user is None:
        return unauthorized("Refresh token invalid.", "invalid_refresh_token")
    refusal = _user_refusal(user, await lookup.tenant_active(user.tenant_id))
    if refusal is not None:
        return refusal
    return await _issue(session, settings, user, token.family_id, ip)


async def logout(
    session: AsyncSession, actor: Principal, presented: str | None, cache: AuthCache
) -> None:
    """End the caller's session (and the one a given refresh token belongs to)."""
    lookup = CredentialLookup(session)
    now = utcnow()
    if actor.session_id is not None:
        await lookup.revoke_session(actor.session_id, now)
    if presented:
        token = await lookup.refresh_token(tokens.secret_hash(presented))
        if token is not None and actor.kind == "user" and token.user_id == actor.id:
            await lookup.revoke_session(token.family_id, now)
    cache.clear(session)


async def accept_invite(
    session: AsyncSession, settings: Settings, token: str, password: str
) -> TokenPair:
    return (await accept_invitation(session, settings, token, password)).tokens


async def accept_invitation(
    session: AsyncSession, settings: Settings, token: str, password: str
) -> SignedIn:
    """Set the invited user's password and open their first session."""
    try:
        user_id, fingerprint = tokens.decode_invite_token(
            settings.secret_key.get_secret_value(), token
        )
    except tokens.TokenError as error:
        raise unauthorized(str(error), "invalid_invite") from None
    user = await CredentialLookup(session).user_by_id(user_id)
    if user is None or tokens.invite_fingerprint(user.password_hash) != fingerprint:
        raise unauthorized("invitation invalid or already used", "invalid_invite")
    lookup = CredentialLookup(session)
    refusal = _user_refusal(user, await lookup.tenant_active(user.tenant_id))
    if refusal is not None:
        raise refusal
    check_password(password, user.email)
    user.password_hash = hash_password(password)
    user.failed_login_count = 0
    user.locked_until = None
    await session.flush()
    await _audit_user(session, user, "user.invite_accepted")
    return await start_session(session, settings, user, None)


async def change_password(
    session: AsyncSession, actor: Principal, current: str, new: str, cache: AuthCache
) -> None:
    if actor.kind != "user":
        raise Forbidden("API keys have no password.", code="not_a_user")
    user = await CredentialLookup(session).user_by_id(actor.id)
    if user is None or not verify_or_dummy(user.password_hash, current):
        raise unauthorized("Current password is wrong.", "invalid_credentials")
    check_password(new, user.email)
    user.password_hash = hash_password(new)
    # Every other session ends; the caller signs in again where needed.
    await CredentialLookup(session).revoke_user_sessions(user.id, utcnow())
    await session.flush()
    await _audit_user(session, user, "user.password_changed")
    cache.clear(session)


# Resolving credentials on every request. Cache hits touch no database.


async def resolve_api_key(
    sessions: async_sessionmaker[AsyncSession], cache: AuthCache, secret: str
) -> Principal:
    key_hash = tokens.secret_hash(secret)
    cache_key = "k:" + key_hash
    cached = cache.get(cache_key)
    if cached is None:
        async with sessions() as session:
            found = await CredentialLookup(session).api_key_with_tenant(key_hash)
        if found is None:
            raise unauthorized("API key invalid.", "invalid_api_key")
        key, tenant_active = found
        if key.revoked_at is not None:
            raise unauthorized("API key revoked.", "api_key_revoked")
        if not tenant_active:
            raise Forbidden("This key's tenant is deactivated.", code="tenant_inactive")
        actor = Principal("api_key", key.id, key.tenant_id, key.role, key.name)
        cached = (actor, key.expires_at)
        cache.put(cache_key, cached)
    actor, expires_at = cached
    if expires_at is not None and expires_at <= utcnow():
        raise unauthorized("API key expired.", "api_key_expired")
    await _touch(sessions, cache, actor.id)
    return actor


async def _touch(
    sessions: async_sessionmaker[AsyncSession], cache: AuthCache, key_id: uuid.UUID
) -> None:
    """Record `last_used_at` at most once a minute per key (per process, and
    across processes through the conditional UPDATE)."""
    now_mono = time.monotonic()
    last = cache.last_used_written.get(key_id)
    if last is not None and now_mono - last < LAST_USED_EVERY:
        return
    cache.last_used_written[key_id] = now_mono
    now = utcnow()
    try:
        async with sessions() as session, session.begin():
            await CredentialLookup(session).touch_api_key(
                key_id, now, now - timedelta(seconds=LAST_USED_EVERY)
            )
    except Exception:  # a bookkeeping write never fails the request
        log.warning("api_key_touch_failed", key_id=str(key_id))


async def resolve_access_token(
    sessions: async_sessionmaker[AsyncSession], cache: AuthCache, settings: Settings, token: str
) -> Principal:
    try:
        claims = tokens.decode_access_token(settings.secret_key.get_secret_value(), token)
    except tokens.TokenError as error:
        code = "token_expired" if "expired" in str(error) else "invalid_token"
        raise unauthorized(f"{str(error).capitalize()}.", code) from None
    return await resolve_session(sessions, cache, claims.user_id, claims.session_id)


async def resolve_session(
    sessions: async_sessionmaker[AsyncSession],
    cache: AuthCache,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
) -> Principal:
    """The user of a live sign-in session (an access token's or the dashboard's)."""
    cache_key = f"s:{session_id}:{user_id}"
    actor = cache.get(cache_key)
    if actor is not None:
        return actor
    async with sessions() as session:
        found = await CredentialLookup(session).user_session(user_id, session_id, utcnow())
    if found is None:
        raise unauthorized("Access token invalid.", "invalid_token")
    user, tenant_active, alive = found
    if not alive:
        raise unauthorized("This session has ended; sign in again.", "session_revoked")
    if not user.is_active or user.deleted_at is not None:
        raise unauthorized("This account is disabled.", "account_disabled")
    if not tenant_active:
        raise Forbidden("This account's tenant is deactivated.", code="tenant_inactive")
    actor = Principal("user", user.id, user.tenant_id, user.role, user.email, session_id)
    cache.put(cache_key, actor)
    return actor


def rate_limited(retry_after: int) -> TooManyRequests:
    return TooManyRequests(
        f"Too many requests; retry in {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after,
    )
