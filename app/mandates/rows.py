"""What an ingest writes, built in one place for the single and the bulk path:
the mandate row, the stored view of it, and the events it emits."""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from app.mandates.schemas import MandateCreate
from app.mandates.verification import VerificationResult
from app.models.mandate import DEFAULT_RETENTION_DAYS
from app.webhooks import event_data as events


def mandate_row(
    tenant_id: uuid.UUID,
    data: MandateCreate,
    digest: str,
    result: VerificationResult,
    now: datetime,
) -> dict[str, Any]:
    """The `mandates` row of a verified submission (a new id each call)."""
    fields = result.fields
    assert fields is not None
    return {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "vc_jwt": data.vc_jwt,
        "token_sha256": digest,
        "mandate_type": fields.mandate_type,
        "issuer_did": fields.issuer_did,
        "subject_did": fields.subject_did,
        "jti": fields.jti,
        "scope": fields.scope,
        "amount_limit": fields.amount_limit,
        "currency": fields.currency,
        "merchants": list(fields.merchants),
        "labels": dict(data.labels or {}),
        "details": fields.details,
        "issued_at": fields.issued_at,
        "not_before": fields.not_before,
        "expires_at": fields.expires_at,
        "status": "active",
        "verification_status": result.code.value,
        "verification_reason": result.reason,
        "verification_details": {"alg": fields.alg, "kid": fields.kid},
        "verified_at": now,
        "retention_days": (
            DEFAULT_RETENTION_DAYS if data.retention_days is None else data.retention_days
        ),
        "created_at": now,
        "updated_at": now,
    }


def stored_view(values: dict[str, Any]) -> SimpleNamespace:
    """A just-inserted row as the service hands it back (no reload)."""
    return SimpleNamespace(**values, revoked_at=None, revocation_reason=None, deleted_at=None)


def created_event(values: dict[str, Any]) -> events.MandateCreated:
    """`mandate.created` for a row built by `mandate_row`."""
    return events.MandateCreated(
        mandate_id=values["id"],
        mandate_type=values["mandate_type"],
        status="active",
        verification_status=values["verification_status"],
        issuer_did=values["issuer_did"],
        subject_did=values["subject_did"],
        amount_limit=values["amount_limit"],
        currency=values["currency"],
        expires_at=values["expires_at"],
        created_at=values["created_at"],
    )


def rejected_event(
    digest: str, result: VerificationResult, issuer_did: str | None, now: datetime
) -> events.MandateVerificationFailed:
    """`mandate.verification_failed` for a refused submission."""
    return events.MandateVerificationFailed(
        token_sha256=digest,
        verification_code=result.code.value,
        issuer_did=issuer_did,
        failed_at=now,
    )
