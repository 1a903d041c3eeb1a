"""Claim sets of the vector mandates: generic, AP2 intent, cart and payment, at fixed times."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.verification.helpers import compute_cart_hash

ISSUED_AT = 1_764_547_200  # 2025-12-01T00:00:00Z: before any run of the suite
EXPIRES_AT = 3_944_678_400  # 2095-01-01T00:00:00Z: valid vectors expire in the 2090s
PAST_EXPIRY = ISSUED_AT + 3600
FUTURE = 3_928_694_400  # 2094-06-30T00:00:00Z: nbf / iat that stay in the future
ISO_FUTURE = "2094-06-30T00:00:00Z"
ISO_PAST = "2026-01-01T00:00:00Z"
VC_CONTEXT = ["https://www.w3.org/2018/credentials/v1"]


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def subject_of(name: str) -> str:
    """A stable subject DID per vector, so valid vectors never collide."""
    return f"did:example:agent-{_digest(name)[:8]}"


def jti_of(name: str) -> str:
    return f"vector-{_digest(name)[:24]}"


def registered(iss: str, name: str, /, **overrides: Any) -> dict[str, Any]:
    """iss, sub, iat, exp, jti; an override of `...` removes the claim."""
    claims: dict[str, Any] = {
        "iss": iss,
        "sub": subject_of(name),
        "iat": ISSUED_AT,
        "exp": EXPIRES_AT,
        "jti": jti_of(name),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def credential(kind: str, subject: dict[str, Any], sub: str) -> dict[str, Any]:
    return {
        "@context": VC_CONTEXT,
        "type": ["VerifiableCredential", kind],
        "credentialSubject": {"id": sub, **subject},
    }


def generic(
    iss: str, name: str, subject: dict[str, Any] | None = None, /, **top: Any
) -> dict[str, Any]:
    """A generic Mandate: scope, 500.00 USD; `subject` members replace (`...` removes)."""
    members = {"scope": "payments:recurring", "amount_limit": "500.00", "currency": "USD"}
    members.update(subject or {})
    claims = registered(iss, name, **top)
    sub = claims.get("sub") or subject_of(name)
    members = {k: v for k, v in members.items() if v is not ...}
    return {**claims, "vc": credential("Mandate", members, sub)}


def intent(iss: str, name: str, **members: Any) -> dict[str, Any]:
    subject: dict[str, Any] = {
        "natural_language_description": "Red high-top basketball shoes under $150",
        "merchants": ["Shop", "Other"],
        "skus": ["SKU-1"],
        "requires_refundability": True,
        "user_cart_confirmation_required": False,
        "intent_expiry": ISO_FUTURE,
        "amount_limit": "150.00",
        "currency": "USD",
    }
    subject.update(members)
    claims = registered(iss, name)
    subject = {k: v for k, v in subject.items() if v is not ...}
    return {**claims, "vc": credential("IntentMandate", subject, claims["sub"])}


def cart_contents(**overrides: Any) -> dict[str, Any]:
    """AP2 CartContents for one pair of shoes at 129.99 USD."""
    contents: dict[str, Any] = {
        "id": "cart-vector-1",
        "user_cart_confirmation_required": True,
        "payment_request": {
            "method_data": [{"supported_methods": "CARD"}],
            "details": {
                "id": "order-1",
                "display_items": [
                    {"label": "Red shoes", "amount": {"currency": "USD", "value": "129.99"}}
                ],
                "total": {"label": "Total", "amount": {"currency": "USD", "value": "129.99"}},
            },
        },
        "cart_expiry": ISO_FUTURE,
        "merchant_name": "Shop",
    }
    contents.update(overrides)
    return contents


def merchant_claims(
    iss: str, name: str, contents: dict[str, Any], /, **overrides: Any
) -> dict[str, Any]:
    """The merchant authorization's claims, binding `contents` by its cart_hash."""
    claims: dict[str, Any] = {
        "iss": iss,
        "sub": iss,
        "iat": ISSUED_AT,
        "exp": EXPIRES_AT,
        "jti": jti_of("merchant/" + name),
        "cart_hash": compute_cart_hash(contents),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def cart(iss: str, name: str, contents: dict[str, Any], authorization: str | None) -> dict:
    """A CartMandate; `authorization` None leaves merchant_authorization out."""
    subject: dict[str, Any] = {"contents": contents}
    if authorization is not None:
        subject["merchant_authorization"] = authorization
    claims = registered(iss, name)
    return {**claims, "vc": credential("CartMandate", subject, claims["sub"])}


def payment(iss: str, name: str, **members: Any) -> dict[str, Any]:
    contents: dict[str, Any] = {
        "payment_mandate_id": "pm-vector-1",
        "payment_details_id": "order-1",
        "payment_details_total": {
            "label": "Total",
            "amount": {"currency": "EUR", "value": "42.50"},
        },
        "payment_response": {"request_id": "order-1", "method_name": "CARD"},
        "merchant_agent": "Shop",
        "timestamp": "2026-01-15T10:00:00Z",
    }
    contents.update(members)
    contents = {k: v for k, v in contents.items() if v is not ...}
    claims = registered(iss, name)
    subject = {"payment_mandate_contents": contents}
    return {**claims, "vc": credential("PaymentMandate", subject, claims["sub"])}
