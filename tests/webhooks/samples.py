"""One valid `data` value for every event type, for tests that need an event of each kind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.webhooks import event_data as d
from app.webhooks.catalogue import EventType

AT = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
ID = uuid.UUID("0b0e3a52-7f3c-4c1e-9d9a-3d4f5a6b7c8d")
OTHER = uuid.UUID("1c1f4b63-8a4d-4d2f-8eab-4e5a6b7c8d9e")
DID = "did:web:bank.example"

SAMPLES: dict[EventType, d.EventData] = {
    EventType.MANDATE_CREATED: d.MandateCreated(
        mandate_id=ID,
        mandate_type="intent",
        status="active",
        verification_status="VALID",
        issuer_did=DID,
        subject_did="did:key:z6Mkagent",
        amount_limit=Decimal("250.00"),
        currency="EUR",
        expires_at=AT + timedelta(days=30),
        created_at=AT,
    ),
    EventType.MANDATE_VERIFICATION_FAILED: d.MandateVerificationFailed(
        token_sha256="a" * 64, verification_code="SIG_INVALID", issuer_did=DID, failed_at=AT
    ),
    EventType.MANDATE_REVOKED: d.MandateRevoked(
        mandate_id=ID, reason="customer request", revoked_at=AT
    ),
    EventType.MANDATE_EXPIRED: d.MandateExpired(mandate_id=ID, expires_at=AT),
    EventType.MANDATE_DELETED: d.MandateDeleted(
        mandate_id=ID, deleted_at=AT, purge_after=AT + timedelta(days=90)
    ),
    EventType.MANDATE_RESTORED: d.MandateRestored(mandate_id=ID, status="active", restored_at=AT),
    EventType.MANDATE_EXPIRING: d.MandateExpiring(
        mandate_id=ID, mandate_type="payment", expires_at=AT + timedelta(days=3)
    ),
    EventType.ISSUER_SUSPENDED: d.IssuerStatusChanged(
        issuer_id=ID, issuer_did=DID, status="suspended", previous_status="active", changed_at=AT
    ),
    EventType.ISSUER_REVOKED: d.IssuerStatusChanged(
        issuer_id=ID, issuer_did=DID, status="revoked", previous_status="suspended", changed_at=AT
    ),
    EventType.ISSUER_KEYS_REFRESH_FAILED: d.IssuerKeysRefreshFailed(
        issuer_id=ID,
        issuer_did=DID,
        jwks_url="https://bank.example/.well-known/jwks.json",
        error="jwks_url answered HTTP 503",
        failed_at=AT,
        last_success_at=AT - timedelta(hours=2),
    ),
    EventType.WEBHOOK_DISABLED: d.WebhookDisabled(
        webhook_id=ID, reason="gone", disabled_at=AT, last_status_code=410
    ),
    EventType.ALERT_RAISED: d.AlertRaised(
        alert_id=ID,
        alert_type="mandate_expiring",
        severity="warning",
        title="3 mandates expire this week",
        raised_at=AT,
    ),
    EventType.WEBHOOK_TEST: d.WebhookTest(webhook_id=ID),
    EventType.AP2_PRESENTATION_APPROVED: d.Ap2PresentationApproved(
        mandate_id=ID,
        mandate_type="payment",
        issuer_did=DID,
        open_mandate_hash="Xy0bQ3hash",
        transaction_id="txn_1",
        amount=19900,
        currency="USD",
        occurrences=1,
        approved_at=AT,
    ),
    EventType.AP2_PRESENTATION_REJECTED: d.Ap2PresentationRejected(
        code="invalid_mandate", issuer_did=DID, constraints=["payment.budget"], rejected_at=AT
    ),
    EventType.AP2_RECEIPT_STORED: d.Ap2ReceiptStored(
        receipt_id=OTHER,
        mandate_id=ID,
        kind="payment",
        status="Success",
        issuer_did="did:web:psp.example",
        reference_form="spec",
        stored_at=AT,
    ),
    EventType.AP2_OPEN_MANDATE_REVOKED: d.Ap2OpenMandateRevoked(
        open_mandate_hash="Xy0bQ3hash",
        reason="the user withdrew it",
        presented=False,
        revoked_at=AT,
    ),
}
