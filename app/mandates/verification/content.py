"""VC envelope and AP2 mandate content (generic, Intent, Cart, Payment) -> MandateFields.

Codes used here: MISSING_REQUIRED_FIELD for an absent required member; INVALID_FORMAT
for a member of the wrong JSON type or an unparseable ISO 8601 time; SCOPE_INVALID for
a bad value of what limits the mandate (scope, amount, currency, merchants, skus).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, overload

import rfc8785

from app.mandates.verification.amounts import parse_amount, parse_currency
from app.mandates.verification.claims import Claims, check_times, to_datetime
from app.mandates.verification.codes import Code, Rejection

MAX_SCOPE_LENGTH = 255  # what the vault stores and indexes
MANDATE_TYPES = {
    "Mandate": "generic",
    "IntentMandate": "intent",
    "CartMandate": "cart",
    "PaymentMandate": "payment",
}
_MAX_TEXT = 4096
_MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class NestedToken:
    """A verified inner JWS (the merchant authorization) as the engine hands it back."""

    payload: dict[str, Any]
    claims: Claims
    alg: str
    kid: str | None


# verify_nested(token, trust, max_bytes): steps 1-5 of the engine for the merchant
# authorization. Passed in (a module-level function, not a per-call closure) because the
# engine imports this module.
NestedVerifier = Callable[[Any, Any, int], NestedToken]

# What the content step adds to the registered claims, as a plain tuple (built on every
# verification, where a tuple is cheaper than an object):
# (mandate_type, scope, amount_limit, currency, merchants, expires_at, details)
Content = tuple[
    str, str | None, Decimal | None, str | None, list[str], datetime | None, dict[str, Any]
]


# --- small typed getters ----------------------------------------------------------------------


def _missing(path: str) -> Rejection:
    return Rejection(Code.MISSING_REQUIRED_FIELD, f"'{path}' is required", field=path)


def _get_obj(container: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = container.get(key)
    if value is None:
        raise _missing(path)
    if type(value) is not dict:
        raise Rejection(Code.INVALID_FORMAT, f"'{path}' must be an object", field=path)
    return value


@overload
def _get_str(container: dict[str, Any], key: str, path: str, *, required: Literal[True]) -> str: ...
@overload
def _get_str(container: dict[str, Any], key: str, path: str, *, required: bool) -> str | None: ...
def _get_str(container: dict[str, Any], key: str, path: str, *, required: bool) -> str | None:
    value = container.get(key)
    if value is None:
        if required:
            raise _missing(path)
        return None
    if type(value) is not str or not value.strip() or len(value) > _MAX_TEXT:
        raise Rejection(Code.INVALID_FORMAT, f"'{path}' must be a non-empty string", field=path)
    return value


def _get_bool(container: dict[str, Any], key: str, path: str) -> bool | None:
    value = container.get(key)
    if value is not None and type(value) is not bool:
        raise Rejection(Code.INVALID_FORMAT, f"'{path}' must be true or false", field=path)
    return value


def _get_str_list(container: dict[str, Any], key: str, path: str) -> list[str]:
    value = container.get(key)
    if value is None:
        return []
    if type(value) is not list or len(value) > _MAX_LIST:
        raise Rejection(Code.SCOPE_INVALID, f"'{path}' must be a list of strings", field=path)
    for item in value:
        if type(item) is not str or not item.strip() or len(item) > 512:
            raise Rejection(Code.SCOPE_INVALID, f"'{path}' must hold non-empty strings", field=path)
    return list(value)


def parse_iso_datetime(value: Any, path: str) -> datetime:
    """ISO 8601 -> aware UTC datetime; a time without offset is taken as UTC."""
    if type(value) is not str or len(value) > 64:
        raise Rejection(Code.INVALID_FORMAT, f"'{path}' must be an ISO 8601 string", field=path)
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Rejection(
            Code.INVALID_FORMAT, f"'{path}' is not an ISO 8601 date-time", field=path
        ) from None


def _money(container: dict[str, Any], path: str) -> tuple[Decimal, str]:
    """`{"currency", "value"}` as in AP2 PaymentCurrencyAmount."""
    currency = parse_currency(container.get("currency"), f"{path}.currency")
    return parse_amount(container.get("value"), currency, f"{path}.value"), currency


# --- envelope -------------------------------------------------------------------------------


def read_envelope(payload: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(mandate_type, vc, credentialSubject) from `vc` or a top-level W3C VC."""
    vc = payload.get("vc")
    if vc is None:
        if "credentialSubject" not in payload and "type" not in payload:
            raise _missing("vc")
        vc = payload
    elif type(vc) is not dict:
        raise Rejection(Code.INVALID_FORMAT, "'vc' must be an object", field="vc")
    types = vc.get("type")
    subject = vc.get("credentialSubject")
    # The usual shape, ["VerifiableCredential", T], decided without building a set.
    if (
        type(types) is list
        and len(types) == 2
        and types[0] == "VerifiableCredential"
        and type(types[1]) is str
        and type(subject) is dict
    ):
        kind = MANDATE_TYPES.get(types[1])
        if kind is not None:
            return kind, vc, subject
    if types is None:
        raise _missing("vc.type")
    if type(types) is not list or not all(type(t) is str for t in types):
        raise Rejection(Code.INVALID_FORMAT, "'vc.type' must be a list of strings", field="vc.type")
    if "VerifiableCredential" not in types:
        reason = "'vc.type' must include VerifiableCredential"
        raise Rejection(Code.INVALID_FORMAT, reason, field="vc.type")
    kinds = {MANDATE_TYPES[t] for t in types if t in MANDATE_TYPES}
    if len(kinds) != 1:
        reason = "'vc.type' must name exactly one of " + ", ".join(MANDATE_TYPES)
        raise Rejection(Code.INVALID_FORMAT, reason, field="vc.type")
    subject = _get_obj(vc, "credentialSubject", "vc.credentialSubject")
    return kinds.pop(), vc, subject


# --- mandate kinds ----------------------------------------------------------------------------


def _generic(payload: dict[str, Any], subject: dict[str, Any]) -> Content:
    scope = subject.get("scope")
    if scope is None:
        scope = payload.get("scope")
    if scope is None:
        raise _missing("credentialSubject.scope")
    if type(scope) is not str or not scope.strip() or len(scope) > MAX_SCOPE_LENGTH:
        raise Rejection(
            Code.SCOPE_INVALID,
            f"'scope' must be a non-empty string of at most {MAX_SCOPE_LENGTH} characters",
            field="scope",
        )
    currency = subject.get("currency")
    if currency is None:
        currency = payload.get("currency")
    # parse_currency's test, repeated so the usual valid code skips a call.
    if not (
        type(currency) is str
        and len(currency) == 3
        and currency.isascii()
        and currency.isalpha()
        and currency.isupper()
    ):
        currency = parse_currency(currency, "credentialSubject.currency")
    amount = subject.get("amount_limit")
    if amount is None:
        amount = payload.get("amount_limit")
    amount = parse_amount(amount, currency, "credentialSubject.amount_limit")
    merchants = (
        _get_str_list(subject, "merchants", "credentialSubject.merchants")
        if "merchants" in subject
        else []
    )
    return "generic", scope, amount, currency, merchants, None, {}


def _intent(subject: dict[str, Any]) -> Content:
    path = "credentialSubject"
    description = _get_str(
        subject,
        "natural_language_description",
        f"{path}.natural_language_description",
        required=True,
    )
    if subject.get("intent_expiry") is None:
        raise _missing(f"{path}.intent_expiry")
    intent_expiry = parse_iso_datetime(subject["intent_expiry"], f"{path}.intent_expiry")
    amount = currency = None
    if subject.get("amount_limit") is not None or subject.get("currency") is not None:
        currency = parse_currency(subject.get("currency"), f"{path}.currency")
        amount = parse_amount(subject.get("amount_limit"), currency, f"{path}.amount_limit")
    details = {
        "natural_language_description": description,
        "intent_expiry": intent_expiry.isoformat(),
        "skus": _get_str_list(subject, "skus", f"{path}.skus"),
        "requires_refundability": _get_bool(
            subject, "requires_refundability", f"{path}.requires_refundability"
        ),
        "user_cart_confirmation_required": _get_bool(
            subject, "user_cart_confirmation_required", f"{path}.user_cart_confirmation_required"
        ),
    }
    merchants = _get_str_list(subject, "merchants", f"{path}.merchants")
    return "intent", None, amount, currency, merchants, intent_expiry, details


def cart_hash(contents: dict[str, Any]) -> str:
    """base64url-no-pad(SHA-256(RFC 8785 canonical JSON of `contents`))."""
    try:
        canonical = rfc8785.dumps(contents)
    except (rfc8785.CanonicalizationError, RecursionError, ValueError, TypeError):
        raise Rejection(
            Code.INVALID_FORMAT, "cart contents cannot be canonicalised (RFC 8785)"
        ) from None
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _cart(
    subject: dict[str, Any],
    verify_nested: NestedVerifier,
    trust: Any,
    max_bytes: int,
    now: float,
    leeway: float,
) -> Content:
    path = "credentialSubject.contents"
    contents = _get_obj(subject, "contents", path)
    cart_id = _get_str(contents, "id", f"{path}.id", required=True)
    merchant_name = _get_str(contents, "merchant_name", f"{path}.merchant_name", required=True)
    request = _get_obj(contents, "payment_request", f"{path}.payment_request")
    request_details = _get_obj(request, "details", f"{path}.payment_request.details")
    total = _get_obj(request_details, "total", f"{path}.payment_request.details.total")
    money_path = f"{path}.payment_request.details.total.amount"
    amount, currency = _money(_get_obj(total, "amount", money_path), money_path)
    if contents.get("cart_expiry") is None:
        raise _missing(f"{path}.cart_expiry")
    cart_expiry = parse_iso_datetime(contents["cart_expiry"], f"{path}.cart_expiry")
    confirmation = _get_bool(
        contents, "user_cart_confirmation_required", f"{path}.user_cart_confirmation_required"
    )

    auth_path = "credentialSubject.merchant_authorization"
    token = subject.get("merchant_authorization")
    if token is None:
        raise _missing(auth_path)
    if type(token) is not str:
        raise Rejection(
            Code.INVALID_FORMAT, f"'{auth_path}' must be a compact JWS", field=auth_path
        )
    nested = verify_nested(token, trust, max_bytes)
    part = "merchant_authorization"
    if nested.claims.jti is None:
        raise _missing(f"{part}.jti")
    signed_hash = _get_str(nested.payload, "cart_hash", f"{part}.cart_hash", required=True)
    actual = cart_hash(contents)
    if not hmac.compare_digest(signed_hash.encode("utf-8"), actual.encode("ascii")):
        raise Rejection(
            Code.CART_HASH_MISMATCH,
            "cart contents do not match the merchant's signed cart_hash",
            expected=signed_hash[:64],
            actual=actual,
        )
    check_times(nested.claims, now, leeway, part)
    auth_exp = to_datetime(nested.claims.exp)
    details = {
        "cart_id": cart_id,
        "merchant_name": merchant_name,
        "payment_request_id": request_details.get("id")
        if type(request_details.get("id")) is str
        else None,
        "cart_expiry": cart_expiry.isoformat(),
        "user_cart_confirmation_required": confirmation,
        "cart_hash": actual,
        "merchant_authorization": {
            "issuer_did": nested.claims.iss,
            "kid": nested.kid,
            "alg": nested.alg,
            "jti": nested.claims.jti,
            "issued_at": to_datetime(nested.claims.iat).isoformat(),
            "expires_at": auth_exp.isoformat(),
        },
    }
    expiry = min(cart_expiry, auth_exp)
    return "cart", None, amount, currency, [merchant_name], expiry, details


def _payment(subject: dict[str, Any]) -> Content:
    path = "credentialSubject.payment_mandate_contents"
    contents = _get_obj(subject, "payment_mandate_contents", path)
    mandate_id = _get_str(
        contents, "payment_mandate_id", f"{path}.payment_mandate_id", required=True
    )
    details_id = _get_str(
        contents, "payment_details_id", f"{path}.payment_details_id", required=True
    )
    total = _get_obj(contents, "payment_details_total", f"{path}.payment_details_total")
    money_path = f"{path}.payment_details_total.amount"
    amount, currency = _money(_get_obj(total, "amount", money_path), money_path)
    merchant = _get_str(contents, "merchant_agent", f"{path}.merchant_agent", required=True)
    timestamp = None
    if contents.get("timestamp") is not None:
        timestamp = parse_iso_datetime(contents["timestamp"], f"{path}.timestamp").isoformat()
    response = contents.get("payment_response")
    if response is not None and type(response) is not dict:
        raise Rejection(Code.INVALID_FORMAT, f"'{path}.payment_response' must be an object")
    method = response.get("method_name") if response else None
    details = {
        "payment_mandate_id": mandate_id,
        "payment_details_id": details_id,
        "merchant_agent": merchant,
        "timestamp": timestamp,
        "payment_method": method if type(method) is str else None,
        "user_authorization": subject.get("user_authorization"),
    }
    return "payment", None, amount, currency, [merchant], None, details


def extract(
    payload: dict[str, Any],
    sub: str,
    verify_nested: NestedVerifier,
    trust: Any,
    max_bytes: int,
    now: float,
    leeway: float,
) -> Content:
    """Read the mandate content of an already signature-checked payload.

    `trust`, `max_bytes`, `now` and `leeway` are only used for a CartMandate's merchant
    authorization.
    """
    # read_envelope's fast path repeated here for the usual `vc` shape, saving a call
    # and a tuple on every verification; anything else goes through read_envelope.
    kind = None
    subject: Any = None
    vc = payload.get("vc")
    if type(vc) is dict:
        types = vc.get("type")
        subject = vc.get("credentialSubject")
        if (
            type(types) is list
            and len(types) == 2
            and types[0] == "VerifiableCredential"
            and type(types[1]) is str
            and type(subject) is dict
        ):
            kind = MANDATE_TYPES.get(types[1])
    if kind is None:
        kind, _vc, subject = read_envelope(payload)
    subject_id = subject.get("id")
    if subject_id is not None and subject_id != sub:
        reason = "'credentialSubject.id' differs from 'sub'"
        raise Rejection(Code.INVALID_FORMAT, reason, field="credentialSubject.id")
    if kind == "generic":
        return _generic(payload, subject)
    if kind == "intent":
        return _intent(subject)
    if kind == "cart":
        return _cart(subject, verify_nested, trust, max_bytes, now, leeway)
    return _payment(subject)
