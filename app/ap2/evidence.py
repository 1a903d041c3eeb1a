"""AP2 v0.2 files of a mandate's evidence pack: the chain verbatim, what it was verified
with, the receipts verbatim, the linked checkout chain, and the dispute check's result."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.ap2.disputes import DisputeService
from app.ap2.repository import Ap2MandateRepository, ReceiptRepository
from app.models import Mandate
from app.models.mandate import MandateFormat


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode("utf-8")


def _presentation(mandate: Mandate) -> dict[str, Any]:
    details = dict(mandate.verification_details or {})
    details.pop("receipt", None)  # its own file
    return {
        "mandate_id": str(mandate.id),
        "format": mandate.format,
        "mandate_type": mandate.mandate_type,
        "issuer_did": mandate.issuer_did,
        "open_mandate_hash": mandate.open_mandate_hash,
        "transaction_id": mandate.transaction_id,
        "reference": mandate.reference,
        "reference_sdk": mandate.reference_sdk,
        "amount": mandate.amount_minor,
        "currency": mandate.currency,
        "verified_at": mandate.verified_at.isoformat(),
        "verification": details,
        "details": mandate.details,
    }


async def pack_files(
    session: AsyncSession, tenant_id: uuid.UUID, mandate: Mandate
) -> list[tuple[str, bytes]]:
    """(path, bytes) of every ap2/ file; none for a mandate of another format."""
    if mandate.format != MandateFormat.AP2_V02:
        return []
    mandates = Ap2MandateRepository(session, tenant_id)
    receipts = ReceiptRepository(session, tenant_id)
    files = [
        ("ap2/chain.txt", mandate.vc_jwt.encode("ascii", "replace")),
        ("ap2/presentation.json", _json(_presentation(mandate))),
    ]
    vault_receipt = (mandate.verification_details or {}).get("receipt")
    if isinstance(vault_receipt, str):
        files.append(("ap2/vault_receipt.jwt", vault_receipt.encode("ascii", "replace")))
    listed = []
    for index, row in enumerate(await receipts.of_mandate(mandate.id), start=1):
        name = f"ap2/receipts/{index:03d}.jwt"
        files.append((name, row.receipt_jwt.encode("ascii", "replace")))
        listed.append(
            {
                "file": name,
                "id": str(row.id),
                "kind": row.kind,
                "status": row.status,
                "issuer_did": row.issuer_did,
                "kid": row.kid,
                "issuer_jwk": row.issuer_jwk,
                "reference_form": row.reference_form,
                "stored_at": row.created_at.isoformat(),
            }
        )
    files.append(("ap2/receipts.json", _json(listed)))
    if mandate.mandate_type == "payment" and mandate.transaction_id:
        checkout = await mandates.checkout_by_hash(mandate.transaction_id)
        if checkout is not None:
            files.append(("ap2/checkout_chain.txt", checkout.vc_jwt.encode("ascii", "replace")))
            files.append(("ap2/checkout_presentation.json", _json(_presentation(checkout))))
    result = await DisputeService(mandates, receipts).check(mandate.id)
    files.append(("ap2/dispute_check.json", _json(result.model_dump(mode="json"))))
    return files
