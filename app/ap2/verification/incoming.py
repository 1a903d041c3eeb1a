"""Incoming receipts (merchant Checkout Receipts, processor Payment Receipts), validated.

The JWS is verified like a root: ES256, header `kid`, a trusted EC P-256 key from
the tenant's truststore (the same RootKeys), and `iss` the DID of the key's issuer.
Payload: `status` `Success`/`Error`, or `result` `success`/`error` (both present must
agree); `iss` string; `iat` integer at most 60 s ahead; `reference` string; null
members count as absent. What a Success needs depends on the kind of the linked
mandate, which the caller finds by `reference`: `check_kind` then completes the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature

from app.ap2.verification.codes import Family
from app.ap2.verification.dates import micros
from app.ap2.verification.keys import ALG, RootKey, RootKeys, is_es256_key
from app.ap2.verification.presentation import MAX_PRESENTATION_CHARS
from app.ap2.verification.receipts import ReceiptStatus
from app.ap2.verification.wire import WireError, load_object, split_jws

INVALID_RECEIPT = "invalid_receipt"
MAX_RECEIPT_CHARS = MAX_PRESENTATION_CHARS
_FUTURE_LEEWAY_US = 60 * 1_000_000
_RESULT_ALIAS = {"success": ReceiptStatus.SUCCESS, "error": ReceiptStatus.ERROR}
_STATUSES = {status.value: status for status in ReceiptStatus}
_SUCCESS_NEEDS = {
    Family.CHECKOUT: ("order_id",),
    Family.PAYMENT: ("payment_id", "psp_confirmation_id", "network_confirmation_id"),
}


class ReferenceForm(StrEnum):
    SPEC = "spec"  # H(final hop as presented)
    SDK = "sdk"  # H(leaf JWT)


@dataclass(frozen=True, slots=True)
class ReceiptRejection:
    """An incoming receipt refused (`invalid_receipt`)."""

    reason: str
    code: str = INVALID_RECEIPT


@dataclass(frozen=True, slots=True)
class IncomingReceipt:
    """A receipt whose signature, issuer and common members verified."""

    jwt: str
    status: ReceiptStatus
    issuer_did: str  # owner of the key that verified it
    kid: str
    iss: str
    iat: int
    reference: str
    payload: dict[str, Any]  # null members removed

    def check_kind(self, kind: Family) -> ReceiptRejection | None:
        """What a Success or Error needs for the linked mandate's kind; None when it is there."""
        needed = _SUCCESS_NEEDS[kind] if self.status is ReceiptStatus.SUCCESS else ("error",)
        for name in needed:
            if type(self.payload.get(name)) is not str or not self.payload[name]:
                return ReceiptRejection(f"a {self.status} {kind} receipt needs '{name}'")
        return None


def reference_form(reference: str, spec: str, sdk: str) -> ReferenceForm | None:
    """Which stored reference of a mandate the receipt's `reference` names, if any."""
    if reference == spec:
        return ReferenceForm.SPEC
    if reference == sdk:
        return ReferenceForm.SDK
    return None


def _status(payload: dict[str, Any]) -> ReceiptStatus | ReceiptRejection:
    status, result = payload.get("status"), payload.get("result")
    if status is None and result is None:
        return ReceiptRejection("receipt has neither 'status' nor 'result'")
    from_status = _STATUSES.get(status) if type(status) is str else None
    from_result = _RESULT_ALIAS.get(result) if type(result) is str else None
    if status is not None and from_status is None:
        return ReceiptRejection("receipt 'status' must be Success or Error")
    if result is not None and from_result is None:
        return ReceiptRejection("receipt 'result' must be success or error")
    if from_status is not None and from_result is not None and from_status is not from_result:
        return ReceiptRejection("receipt 'status' and 'result' disagree")
    found = from_status or from_result
    return found if found is not None else ReceiptRejection("receipt status is unreadable")


def _signer(
    header: dict[str, Any], signing_input: bytes, signature: bytes, root_keys: RootKeys
) -> list[RootKey] | ReceiptRejection:
    if header.get("alg") != ALG:
        return ReceiptRejection("receipt alg must be ES256")
    if "crit" in header or ("b64" in header and header["b64"] is not True):
        return ReceiptRejection("receipt header asks for an unsupported extension")
    kid = header.get("kid")
    if type(kid) is not str or not kid:
        return ReceiptRejection("receipt header has no 'kid'")
    verified = []
    for root in root_keys.candidates(kid):
        if root.key.kid != kid or not is_es256_key(root.key):
            continue
        try:
            root.key.verifiers[ALG](signature, signing_input)
        except (InvalidSignature, ValueError):
            continue
        verified.append(root)
    if not verified:
        return ReceiptRejection("receipt signature does not verify with a trusted key of its kid")
    return verified


def verify_receipt(
    jwt: object, root_keys: RootKeys, now: datetime
) -> IncomingReceipt | ReceiptRejection:
    """Verify an incoming receipt JWS and its common members; never raises for any `jwt`."""
    now_us = micros(now)
    if type(jwt) is not str or len(jwt) > MAX_RECEIPT_CHARS or not jwt.isascii():
        return ReceiptRejection("receipt must be a compact JWS string")
    try:
        jws = split_jws(jwt, "receipt")
        header = load_object(jws.header_raw, "receipt header")
        signers = _signer(header, jws.signing_input, jws.signature, root_keys)
        if isinstance(signers, ReceiptRejection):
            return signers
        raw = load_object(jws.payload_raw, "receipt payload")
    except WireError as exc:
        return ReceiptRejection(str(exc))
    payload = {name: value for name, value in raw.items() if value is not None}
    status = _status(payload)
    if isinstance(status, ReceiptRejection):
        return status
    iss, iat, reference = payload.get("iss"), payload.get("iat"), payload.get("reference")
    if type(iss) is not str:
        return ReceiptRejection("receipt 'iss' must be a string")
    owner = next((root for root in signers if root.issuer_did == iss), None)
    if owner is None:
        return ReceiptRejection("receipt 'iss' is not the DID of the issuer whose key signed it")
    if type(iat) is not int:
        return ReceiptRejection("receipt 'iat' must be an integer")
    if iat * 1_000_000 - _FUTURE_LEEWAY_US > now_us:
        return ReceiptRejection("receipt 'iat' is more than 60 s ahead")
    if type(reference) is not str or not reference:
        return ReceiptRejection("receipt 'reference' must be a string")
    if status is ReceiptStatus.ERROR and type(payload.get("error")) is not str:
        return ReceiptRejection("an Error receipt needs 'error'")
    kid = header["kid"]
    return IncomingReceipt(jwt, status, owner.issuer_did, kid, iss, iat, reference, payload)
