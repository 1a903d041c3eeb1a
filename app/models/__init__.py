"""ORM models, one module per table. Importing this package registers them all."""

from app.models.activity import ActivityHour, ActivityRollup, StatusCount
from app.models.alert import Alert
from app.models.ap2 import Ap2Approval, Ap2Ledger, Ap2Receipt, Ap2Rejection
from app.models.api_key import ApiKey
from app.models.audit_anchor import AuditAnchor
from app.models.audit_chain import (
    AuditChainHead,
    AuditCheckpoint,
    IssuerKeyHistory,
    IssuerStatusHistory,
    VaultSigningKey,
)
from app.models.audit_log import AuditLog
from app.models.base import Base
from app.models.idempotency_key import IdempotencyKey
from app.models.issuer import Issuer
from app.models.mandate import Mandate
from app.models.refresh_token import RefreshToken
from app.models.tenant import Tenant
from app.models.user import User
from app.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "ActivityHour",
    "ActivityRollup",
    "Alert",
    "Ap2Approval",
    "Ap2Ledger",
    "Ap2Receipt",
    "Ap2Rejection",
    "ApiKey",
    "AuditAnchor",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditLog",
    "Base",
    "Tenant",
    "IdempotencyKey",
    "IssuerKeyHistory",
    "IssuerStatusHistory",
    "Issuer",
    "Mandate",
    "RefreshToken",
    "StatusCount",
    "User",
    "VaultSigningKey",
    "Webhook",
    "WebhookDelivery",
]
