"""The verification entry point: `verify_token(token, trust, now=...)`.

Order of checks (the first failure wins, so each step only ever sees input that
passed the ones before it):

1. size and shape: type, `max_bytes` (TOO_LARGE), three base64url parts, header
   JSON object, `alg` on the allowlist (ALG_NOT_ALLOWED), refused header params
   (`crit`, `b64`, `jku`, `x5u`, `zip`, `enc`: INVALID_FORMAT), payload JSON
   object, signature base64url (INVALID_FORMAT).
2. issuer from the *unverified* `iss`: absent (MISSING_REQUIRED_FIELD), not in
   the trust store (ISSUER_UNKNOWN), suspended or revoked (ISSUER_REVOKED).
3. key by `kid` (KEY_NOT_FOUND; `kid` is required when the issuer has several
   keys) and alg/key compatibility (ALG_NOT_ALLOWED).
4. signature (SIG_INVALID).
5. registered claims, now authenticated: `sub`, `exp`, `iat` present
   (MISSING_REQUIRED_FIELD) and well-typed (INVALID_FORMAT); then time: `nbf`
   or `iat` beyond the leeway (NOT_YET_VALID), `exp` (EXPIRED).
6. content: VC envelope and the mandate kind's members; for a CartMandate the
   merchant authorization runs steps 1-5 against the same trust store, then
   the cart hash (CART_HASH_MISMATCH), then its own times.
7. the mandate's effective expiry (earliest of exp, intent/cart expiry and the
   merchant authorization's exp), with the same leeway (EXPIRED).

Everything that depends on what the token claims about itself comes after the
signature, so a forged or tampered token learns nothing beyond SIG_INVALID.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature

from app.keys import TrustStore
from app.mandates.verification.claims import (
    MAX_ID_LENGTH,
    check_time_values,
    read_claims,
    to_datetime,
    usual_claims,
)
from app.mandates.verification.codes import (
    Code,
    MandateFields,
    Rejection,
    VerificationResult,
    valid_result,
)
from app.mandates.verification.content import NestedToken, extract
from app.mandates.verification.jws import parse_jws

DEFAULT_MAX_BYTES = 65536
DEFAULT_LEEWAY_SECONDS = 60
_MERCHANT = "merchant_authorization"
_fromtimestamp = datetime.fromtimestamp
# MandateFields is a NamedTuple; tuple.__new__ skips its generated Python-level __new__.
_new_fields = tuple.__new__


def _authenticate(
    payload: dict[str, Any],
    alg: str,
    kid: str | None,
    signing_input: bytes,
    signature: bytes,
    trust: TrustStore,
    part: str,
) -> str:
    """Steps 2-4: issuer, key and signature; returns the (now trusted) issuer DID."""
    iss = payload.get("iss")
    if iss is None:
        raise Rejection(Code.MISSING_REQUIRED_FIELD, f"{part} has no 'iss'", field="iss")
    if type(iss) is not str or not iss or len(iss) > MAX_ID_LENGTH:
        raise Rejection(Code.INVALID_FORMAT, f"{part} 'iss' must be a non-empty string")
    issuer = trust.get(iss)
    if issuer is None:
        raise Rejection(Code.ISSUER_UNKNOWN, f"{part} issuer is not trusted", issuer=iss[:256])
    if issuer.status != "active":
        raise Rejection(
            Code.ISSUER_REVOKED,
            f"{part} issuer is {issuer.status}",
            issuer=iss,
            status=issuer.status,
        )
    key = issuer.find_key(kid)
    if key is None:
        if kid is None:
            reason = f"{part} has no 'kid' and the issuer has {len(issuer.keys)} keys"
        else:
            reason = f"{part} 'kid' names no key of the issuer"
        raise Rejection(Code.KEY_NOT_FOUND, reason, kid=kid[:256] if kid else None)
    verifier = key.verifiers.get(alg)
    if verifier is None:
        raise Rejection(
            Code.ALG_NOT_ALLOWED,
            f"{part} alg {alg} does not fit the issuer's {key.kty} key",
            alg=alg,
            kty=key.kty,
            crv=key.crv,
        )
    try:
        verifier(signature, signing_input)
    except (InvalidSignature, ValueError):
        raise Rejection(Code.SIG_INVALID, f"{part} signature does not verify") from None
    return iss


def _prefixed(rejection: Rejection, part: str) -> Rejection:
    reason = (
        rejection.reason if rejection.reason.startswith(part) else f"{part}: {rejection.reason}"
    )
    return Rejection(rejection.code, reason, **{**rejection.details, "part": part})


def _verify_nested(inner: Any, trust: TrustStore, max_bytes: int) -> NestedToken:
    """Steps 1-4 and the registered claims of a merchant authorization (times: by the caller)."""
    try:
        alg, kid, payload, signing_input, signature = parse_jws(inner, max_bytes)
        iss = _authenticate(payload, alg, kid, signing_input, signature, trust, _MERCHANT)
        claims = read_claims(payload, iss, require_sub=False, part=_MERCHANT)
    except Rejection as exc:
        raise _prefixed(exc, _MERCHANT) from None
    return NestedToken(payload, claims, alg, kid)


def _timestamp(now: datetime | float) -> float:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        return now.timestamp()
    return float(now)


def verify_token(
    token: Any,
    trust: TrustStore,
    *,
    now: datetime | float,
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> VerificationResult:
    """Verify a compact JWS mandate; never raises for any `token` value."""
    now_ts = float(now) if type(now) is int or type(now) is float else _timestamp(now)
    leeway = float(leeway_seconds)
    try:
        alg, kid, payload, signing_input, signature = parse_jws(token, max_bytes)
        iss = _authenticate(payload, alg, kid, signing_input, signature, trust, "token")
        # Registered claims, read here rather than through read_claims for the usual
        # shape: this runs on every verification and skips building a Claims object.
        get = payload.get
        # Typed Any: usual_claims (or read_claims below) decides what they hold.
        sub: Any = get("sub")
        exp: Any = get("exp")
        iat: Any = get("iat")
        jti: Any = get("jti")
        nbf: Any = None
        if not usual_claims(payload, sub, exp, iat, jti):
            claims = read_claims(payload, iss, require_sub=True, part="token")
            sub, exp, iat, nbf, jti = claims.sub, claims.exp, claims.iat, claims.nbf, claims.jti
        # The bounds of check_time_values, tested here first so the valid case skips a call.
        if (
            exp <= now_ts - leeway
            or iat > now_ts + leeway
            or (nbf is not None and nbf > now_ts + leeway)
        ):
            check_time_values(nbf, iat, exp, now_ts, leeway, "token")
        mandate_type, scope, amount, currency, merchants, content_expiry, details = extract(
            payload,
            sub,
            _verify_nested,
            trust,
            max_bytes,
            now_ts,
            leeway,
        )
        expires_at = _fromtimestamp(exp, UTC)
        if content_expiry is not None and content_expiry < expires_at:
            expires_at = content_expiry
            if expires_at.timestamp() <= now_ts - leeway:
                raise Rejection(
                    Code.EXPIRED,
                    f"{mandate_type} mandate expired",
                    expired_at=expires_at.isoformat(),
                )
    except Rejection as exc:
        return exc.result()
    fields = _new_fields(
        MandateFields,
        (
            mandate_type,
            iss,
            sub,
            jti,
            scope,
            amount,
            currency,
            merchants,
            expires_at,
            None if nbf is None else to_datetime(nbf),
            _fromtimestamp(iat, UTC),
            kid,
            alg,
            details,
        ),
    )
    return valid_result(fields)
