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

from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature

from app.mandates.verification.claims import check_times, read_claims, read_issuer, to_datetime
from app.mandates.verification.codes import Code, MandateFields, Rejection, VerificationResult
from app.mandates.verification.content import NestedToken, extract
from app.mandates.verification.jws import ParsedJws, parse_jws
from app.mandates.verification.keys import TrustStore

DEFAULT_MAX_BYTES = 65536
DEFAULT_LEEWAY_SECONDS = 60
_MERCHANT = "merchant_authorization"


def _authenticate(jws: ParsedJws, trust: TrustStore, part: str) -> str:
    """Steps 2-4: issuer, key and signature; returns the (now trusted) issuer DID."""
    iss = read_issuer(jws.payload, part)
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
    key = issuer.find_key(jws.kid)
    if key is None:
        if jws.kid is None:
            reason = f"{part} has no 'kid' and the issuer has {len(issuer.keys)} keys"
        else:
            reason = f"{part} 'kid' names no key of the issuer"
        raise Rejection(Code.KEY_NOT_FOUND, reason, kid=jws.kid[:256] if jws.kid else None)
    verifier = key.verifiers.get(jws.alg)
    if verifier is None:
        raise Rejection(
            Code.ALG_NOT_ALLOWED,
            f"{part} alg {jws.alg} does not fit the issuer's {key.kty} key",
            alg=jws.alg,
            kty=key.kty,
            crv=key.crv,
        )
    try:
        verifier(jws.signature, jws.signing_input)
    except (InvalidSignature, ValueError):
        raise Rejection(Code.SIG_INVALID, f"{part} signature does not verify") from None
    return iss


def _prefixed(rejection: Rejection, part: str) -> Rejection:
    reason = (
        rejection.reason if rejection.reason.startswith(part) else f"{part}: {rejection.reason}"
    )
    return Rejection(rejection.code, reason, **{**rejection.details, "part": part})


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
    now_ts = _timestamp(now)
    leeway = float(leeway_seconds)
    try:
        jws = parse_jws(token, max_bytes)
        iss = _authenticate(jws, trust, "token")
        payload = jws.payload
        claims = read_claims(payload, iss, require_sub=True, part="token")
        check_times(claims, now_ts, leeway, "token")

        def verify_nested(inner: Any) -> NestedToken:
            try:
                nested = parse_jws(inner, max_bytes)
                nested_iss = _authenticate(nested, trust, _MERCHANT)
                nested_claims = read_claims(
                    nested.payload, nested_iss, require_sub=False, part=_MERCHANT
                )
            except Rejection as exc:
                raise _prefixed(exc, _MERCHANT) from None
            return NestedToken(nested.payload, nested_claims, nested.alg, nested.kid)

        def check_nested_times(nested_claims: Any) -> None:
            check_times(nested_claims, now_ts, leeway, _MERCHANT)

        content = extract(payload, claims, verify_nested, check_nested_times)
        expires_at = to_datetime(claims.exp)
        if content.expires_at is not None and content.expires_at < expires_at:
            expires_at = content.expires_at
            if expires_at.timestamp() <= now_ts - leeway:
                raise Rejection(
                    Code.EXPIRED,
                    f"{content.mandate_type} mandate expired",
                    expired_at=expires_at.isoformat(),
                )
    except Rejection as exc:
        return exc.result()
    fields = MandateFields(
        content.mandate_type,
        iss,
        claims.sub,  # type: ignore[arg-type]
        claims.jti,
        content.scope,
        content.amount_limit,
        content.currency,
        content.merchants,
        expires_at,
        to_datetime(claims.nbf) if claims.nbf is not None else None,
        to_datetime(claims.iat),
        jws.kid,
        jws.alg,
        content.details,
    )
    return VerificationResult(Code.VALID, "verified", {}, fields)
