"""Vault receipts: the payload the vault signs after each verification (not for dry runs).

ES256 JWTs, header `{"alg": "ES256", "typ": "JWT", "kid": <vault key>}`; the payload in
the AP2 receipt form with no null members. They are verifier receipts: they do not
claim that an order or a payment happened. Signing belongs to a `Signer` (the vault
key), so this module stays pure.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from app.ap2.verification.chain import Rejection, VerifiedChain
from app.ap2.verification.codes import Family, ResultCode
from app.ap2.verification.dates import micros
from app.ap2.verification.evaluation import Decision


class ReceiptStatus(StrEnum):
    SUCCESS = "Success"
    ERROR = "Error"


class Signer(Protocol):
    """The vault key: signs a payload as a compact ES256 JWS with its own header and `kid`."""

    def sign(self, payload: dict[str, Any], /) -> str: ...


def receipt_payload(
    *,
    issuer: str,
    issued_at: datetime,
    reference: str,
    code: ResultCode | None,
    reason: str | None = None,
    mandate_id: str | None = None,
    family: Family | None = None,
) -> dict[str, Any]:
    """The receipt payload: Success (`code` None) needs `mandate_id` and `family`."""
    payload: dict[str, Any] = {
        "iss": issuer,
        "iat": micros(issued_at) // 1_000_000,
        "reference": reference,
    }
    if code is None:
        if mandate_id is None or family is None:
            raise ValueError("a Success receipt needs the stored mandate id and the family")
        payload["status"] = ReceiptStatus.SUCCESS.value
        payload["mandate_id"] = mandate_id
        payload["order_id" if family is Family.CHECKOUT else "payment_id"] = mandate_id
    else:
        payload["status"] = ReceiptStatus.ERROR.value
        payload["error"] = code.value
        if reason:
            payload["error_description"] = reason
    return payload


def rejection_receipt(
    rejection: Rejection, *, issuer: str, issued_at: datetime
) -> dict[str, Any] | None:
    """The Error receipt payload of a chain refused in stages A-C; None when stage A failed."""
    if rejection.reference is None:
        return None
    return receipt_payload(
        issuer=issuer,
        issued_at=issued_at,
        reference=rejection.reference,
        code=rejection.code,
        reason=rejection.reason,
    )


def decision_receipt(
    chain: VerifiedChain,
    decision: Decision,
    *,
    issuer: str,
    issued_at: datetime,
    mandate_id: str | None = None,
) -> dict[str, Any]:
    """The receipt payload of a stage D decision; an approval needs the stored `mandate_id`."""
    return receipt_payload(
        issuer=issuer,
        issued_at=issued_at,
        reference=chain.reference,
        code=decision.code,
        reason=decision.first_reason,
        mandate_id=mandate_id,
        family=chain.family,
    )


def sign_receipt(signer: Signer, payload: dict[str, Any]) -> str:
    """The compact receipt JWT."""
    return signer.sign(payload)
