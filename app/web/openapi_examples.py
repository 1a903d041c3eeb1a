"""Examples for the OpenAPI document, and the errors routes raise on their own.

`SCHEMA_EXAMPLES` gives each request and response schema one realistic value
(tests/web/test_openapi.py validates every one against its schema, so they
cannot drift). `RESPONSE_EXAMPLES` covers answers without a schema of their own.
`OWN_ERRORS` lists, per operation, what its service refuses beyond what
`app.web.openapi.standard_errors` derives from its dependencies.
"""

from __future__ import annotations

from typing import Any

TENANT = "3f6c1e2a-7b4d-4c1e-9a2f-5d8e7c6b1a09"
USER = "8a1d5c3e-2f4b-4e6a-b7c9-0d1e2f3a4b5c"
KEY = "b2c4d6e8-1a3b-4c5d-8e9f-a0b1c2d3e4f5"
ISSUER = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
MANDATE = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b"
WHEN = "2026-12-01T09:30:00Z"
TOKEN = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImJhbmstMSIsInR5cCI6InZjK2p3dCJ9."
    "eyJpc3MiOiJkaWQ6d2ViOmJhbmsuZXhhbXBsZSIsInN1YiI6ImRpZDpleGFtcGxlOmFnZW50LTEifQ."
    "MEUCIQDx3v9Xw4n6G0Q2yS1b7kqQ9ZgWcX8yJmHf5c0V2rV1hQIgb3m8Kq0YtN4P1s6cLwD7uR9eA2x5zJ0kH3f4gT6vB8c"
)
JWK = {
    "kty": "EC",
    "crv": "P-256",
    "kid": "bank-1",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}
MANDATE_READ = {
    "id": MANDATE,
    "mandate_type": "generic",
    "issuer_did": "did:web:bank.example",
    "subject_did": "did:example:agent-1",
    "jti": "5b7f0c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e",
    "scope": "groceries",
    "amount_limit": "250.00",
    "currency": "USD",
    "merchants": ["fresh-market.example"],
    "labels": {"team": "travel"},
    "details": {},
    "issued_at": WHEN,
    "not_before": None,
    "expires_at": "2026-12-31T09:30:00Z",
    "status": "active",
    "verification_status": "VALID",
    "verification_reason": "signature and claims verified",
    "verified_at": WHEN,
    "retention_days": 90,
    "revoked_at": None,
    "revocation_reason": None,
    "deleted_at": None,
    "created_at": WHEN,
    "updated_at": WHEN,
    "vc_jwt": None,
}
USER_READ = {
    "id": USER,
    "tenant_id": TENANT,
    "email": "ana@acme.example",
    "full_name": "Ana Lima",
    "role": "customer_user",
    "is_active": True,
    "locked_until": None,
    "last_login_at": None,
    "created_at": WHEN,
    "updated_at": WHEN,
}
KEY_READ = {
    "id": KEY,
    "tenant_id": TENANT,
    "name": "checkout-service",
    "role": "customer_user",
    "prefix": "mvk_3hT9",
    "expires_at": None,
    "revoked_at": None,
    "last_used_at": None,
    "created_at": WHEN,
}
TENANT_READ = {
    "id": TENANT,
    "name": "Acme Payments",
    "slug": "acme-payments",
    "email": "ops@acme.example",
    "is_active": True,
    "settings": {},
    "created_at": WHEN,
    "updated_at": WHEN,
}
PASSWORD = "Velvet-Harbour-Lantern-42"
TOKENS = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI4YTFkIn0.c2lnbmF0dXJl",
    "refresh_token": "mvr_Qm9va3NoZWxmLWxhbnRlcm4tNDItcmVmcmVzaA",
    "token_type": "bearer",
    "expires_in": 900,
}

ALERT_READ = {
    "id": "5b7e2c1d-9a3f-4e6b-8c0d-1f2a3b4c5d6e",
    "type": "mandate_expiring",
    "severity": "warning",
    "state": "open",
    "title": "Mandate expires in 6 days",
    "message": "The cart mandate from did:web:bank.example for did:example:agent-1 expires "
    "at 2026-12-07T09:30:00+00:00; ask for a renewed mandate before then.",
    "mandate_id": MANDATE,
    "details": {"expires_at": "2026-12-07T09:30:00+00:00", "issuer_did": "did:web:bank.example"},
    "created_at": WHEN,
    "acknowledged_at": None,
    "acknowledged_by": None,
    "resolved_at": None,
    "resolved_by": None,
    "resolution": None,
}
WEBHOOK = "5b7e2c1d-9a4f-4d3e-8c2b-7a6f5e4d3c2b"
DELIVERY = "6c8f3d2e-0b5a-4e4f-9d3c-8b7a6f5e4d3c"
EVENT = "7d9a4e3f-1c6b-4f5a-8e4d-9c8b7a6f5e4d"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WEBHOOK_READ = {
    "id": WEBHOOK,
    "url": "https://hooks.acme.example/mandate-vault",
    "event_types": ["mandate.revoked", "mandate.expiring"],
    "description": "payments service",
    "enabled": True,
    "created_at": WHEN,
    "updated_at": WHEN,
    "failing_since": None,
    "last_success_at": WHEN,
    "last_failure_at": None,
    "last_status_code": 204,
    "consecutive_failures": 0,
    "disabled_at": None,
    "disabled_reason": None,
    "rotation_ends_at": None,
}
DELIVERY_READ = {
    "id": DELIVERY,
    "webhook_id": WEBHOOK,
    "event_id": EVENT,
    "message_id": "msg_7d9a4e3f1c6b4f5a8e4d9c8b7a6f5e4d",
    "event_type": "mandate.revoked",
    "status": "succeeded",
    "attempts": 1,
    "next_attempt_at": None,
    "last_attempt_at": WHEN,
    "last_outcome": "success",
    "response_status": 204,
    "latency_ms": 41.7,
    "last_error": None,
    "response_excerpt": "",
    "delivered_at": WHEN,
    "created_at": WHEN,
    "payload": {
        "type": "mandate.revoked",
        "timestamp": WHEN,
        "data": {
            "mandate_id": MANDATE,
            "status": "revoked",
            "reason": "customer withdrew consent",
            "revoked_at": WHEN,
        },
    },
}

SCHEMA_EXAMPLES: dict[str, Any] = {
    "LoginRequest": {"email": "ana@acme.example", "password": PASSWORD},
    "TokenPair": TOKENS,
    "RefreshRequest": {"refresh_token": TOKENS["refresh_token"]},
    "LogoutRequest": {"refresh_token": TOKENS["refresh_token"]},
    "AcceptInvite": {"token": "eyJpbnZpdGUiOiI4YTFkIn0.c2lnbmF0dXJl", "password": PASSWORD},
    "PasswordChange": {"current_password": PASSWORD, "new_password": "Quiet-Meadow-Compass-77"},
    "Me": {
        "kind": "api_key",
        "id": KEY,
        "tenant_id": TENANT,
        "role": "customer_admin",
        "name": "tutorial",
        "permissions": ["issuers:manage", "issuers:read", "mandates:read", "mandates:write"],
    },
    "TenantCreate": {"name": "Acme Payments", "email": "ops@acme.example"},
    "TenantUpdate": {"name": "Acme Payments Ltd"},
    "TenantRead": TENANT_READ,
    "UserCreate": {"email": "ana@acme.example", "full_name": "Ana Lima", "role": "customer_user"},
    "UserUpdate": {"role": "readonly"},
    "UserRead": USER_READ,
    "UserCreated": {**USER_READ, "invite_token": "eyJpbnZpdGUiOiI4YTFkIn0.c2lnbmF0dXJl"},
    "ApiKeyCreate": {"name": "checkout-service", "role": "customer_user", "expires_in_days": 365},
    "ApiKeyRead": KEY_READ,
    "ApiKeyCreated": {**KEY_READ, "key": "mvk_3hT9q2ZbVn8Lk1Xw0PpRr5Ss7Tt9Uu1Vv3Ww5Xx7Yy9"},
    "IssuerCreate": {
        "did": "did:web:bank.example",
        "name": "Example Bank",
        "jwks": {"keys": [JWK]},
    },
    "IssuerUpdate": {"status": "suspended"},
    "KeyAdd": {"jwk": {**JWK, "kid": "bank-2"}},
    "IssuerRead": {
        "id": ISSUER,
        "did": "did:web:bank.example",
        "name": "Example Bank",
        "status": "active",
        "is_global": False,
        "key_source": "jwks",
        "kids": ["bank-1"],
        "jwks": {"keys": [JWK]},
        "jwks_url": None,
        "jwks_fetched_at": None,
        "status_changed_at": None,
        "created_at": WHEN,
        "updated_at": WHEN,
    },
    "WebhookCreate": {
        "url": "https://hooks.acme.example/mandate-vault",
        "event_types": ["mandate.revoked", "mandate.expiring"],
        "description": "payments service",
    },
    "WebhookUpdate": {"enabled": False},
    "WebhookRead": WEBHOOK_READ,
    "WebhookCreated": {**WEBHOOK_READ, "secret": WEBHOOK_SECRET},
    "WebhookSecret": {"secret": WEBHOOK_SECRET, "previous_secret_expires_at": None},
    "SecretRotate": {},
    "WebhookTestSent": {
        "delivery_id": DELIVERY,
        "webhook_id": WEBHOOK,
        "message_id": "msg_7d9a4e3f1c6b4f5a8e4d9c8b7a6f5e4d",
    },
    "DeliveryRead": DELIVERY_READ,
    "DeliveryPage": {"items": [DELIVERY_READ], "next_cursor": None},
    "Recovered": {"requeued": 12},
    "EventTypeRead": {
        "type": "webhook.test",
        "version": 1,
        "description": "Sent on request to check an endpoint and its signature verification.",
        "schema": {"$id": "urn:mandate-vault:webhook-event:webhook.test:v1", "type": "object"},
    },
    "MandateCreate": {"vc_jwt": TOKEN, "labels": {"team": "travel"}},
    "MandateBatch": {"items": [{"vc_jwt": TOKEN}, {"vc_jwt": TOKEN, "retention_days": 30}]},
    "MandatePatch": {"labels": {"team": "travel", "order": "7781"}, "retention_days": 30},
    "RevokeRequest": {"reason": "customer withdrew consent"},
    "MandateRead": MANDATE_READ,
    "MandatePage": {"items": [MANDATE_READ], "next_cursor": None},
    "VerificationRead": {
        "mandate_id": MANDATE,
        "code": "ISSUER_REVOKED",
        "valid": False,
        "reason": "issuer did:web:bank.example is revoked",
        "details": {},
        "verified_at": WHEN,
        "status": "active",
    },
    "AlertRead": ALERT_READ,
    "AlertPage": {"items": [ALERT_READ], "next_cursor": None},
    "AlertTypeRead": {
        "type": "mandate_expiring",
        "severity": "warning",
        "raised_again": False,
        "description": "An active mandate expires within ALERT_EXPIRING_DAYS; one alert per "
        "mandate.",
    },
    "BatchItemResult": {"index": 0, "status": 201, "code": "VALID", "id": MANDATE},
    "BatchResult": {
        "items": [
            {"index": 0, "status": 201, "code": "VALID", "id": MANDATE},
            {
                "index": 1,
                "status": 422,
                "code": "SIG_INVALID",
                "detail": "signature does not verify",
            },
        ],
        "summary": {"VALID": 1, "SIG_INVALID": 1},
    },
}

AUDIT_ENTRY = {
    "id": 4711,
    "timestamp": WHEN,
    "actor_type": "api_key",
    "actor_id": KEY,
    "actor_role": "customer_admin",
    "action": "mandate.created",
    "resource_type": "mandate",
    "resource_id": MANDATE,
    "outcome": "VALID",
    "request_id": "5f0c2b9a4e1d4c3b8a7f6e5d4c3b2a19",
    "ip_address": "203.0.113.7",
    "details": {"mandate_type": "generic"},
    "chain": TENANT,
    "seq": 42,
    "prev_hash": "9f2c" + "0" * 60,
    "row_hash": "1b7e" + "0" * 60,
}
SCHEMA_EXAMPLES["AuditEntry"] = AUDIT_ENTRY
SCHEMA_EXAMPLES["AuditPage"] = {
    "items": [AUDIT_ENTRY],
    "next_cursor": "WyItaWQiLCIyMDI2LTEyLTAxVDA5OjMwOjAwKzAwOjAwIiwiMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDEyNjciXQ",
}
CHAIN_REPORT = {
    "chain": TENANT,
    "status": "intact",
    "rows_checked": 1200,
    "checkpoints_checked": 2,
    "first_seq": 1,
    "last_seq": 1200,
    "last_checkpoint_seq": 1024,
    "unattested_rows": 176,
    "roots_unchecked": 0,
    "anchor_seq": None,
    "complete": True,
    "broken": None,
    "retention_cut": None,
}
VAULT_JWKS = {
    "keys": [
        {
            "kty": "EC",
            "crv": "P-256",
            "x": JWK["x"],
            "y": JWK["y"],
            "kid": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
            "alg": "ES256",
            "use": "sig",
        }
    ]
}

READY = {
    "status": "ready",
    "checks": {
        "write_db": {"ok": True, "latency_ms": 1.2},
        "migrations": {"ok": True, "current": ["0004"], "head": ["0004"]},
    },
}
# (method, path) -> status -> example, for answers whose schema is a plain object.
RESPONSE_EXAMPLES: dict[tuple[str, str], dict[int, Any]] = {
    ("GET", "/api/v1/audit/verify"): {200: CHAIN_REPORT},
    ("GET", "/.well-known/jwks.json"): {200: VAULT_JWKS},
    ("GET", "/healthz"): {200: {"status": "ok", "version": "0.1.0"}},
    ("GET", "/readyz"): {200: READY},
    ("GET", "/api/v1/admin/db"): {
        200: {
            "status": {"engine": "postgresql", "reachable": True, "pending_migrations": []},
            "monitor": {"database_size_bytes": 52428800, "cache_hit_ratio": 0.998},
        }
    },
}

_CONFLICT_MANDATE = "`mandate_deleted`: a deleted mandate cannot be revoked; restore it first."
_URL_REFUSED = (
    "`scheme_not_allowed`, `https_required`, `url_too_long`, `invalid_url`, `invalid_host`, "
    "`invalid_port`, `credentials_not_allowed`, `address_not_allowed` (loopback, private, "
    "link-local, metadata...), `host_not_found`, `dns_timeout`; `validation_error` "
    "(an unknown event type, a non-boolean `enabled`)."
)
# (method, path) -> status -> what this operation refuses by itself.
OWN_ERRORS: dict[tuple[str, str], dict[int, str]] = {
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): {
        409: "`alert_resolved`: a resolved alert cannot be acknowledged.",
    },
    ("POST", "/api/v1/webhooks"): {422: _URL_REFUSED + " `invalid_secret`."},
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): {
        422: _URL_REFUSED + " `invalid_field`: a value cannot be null."
    },
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): {
        422: "`invalid_secret`: not whsec_ + base64 of 24 to 64 bytes."
    },
    ("POST", "/api/v1/webhooks/{webhook_id}/test"): {
        409: "`webhook_disabled`: enable the endpoint first."
    },
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): {
        422: "`invalid_cursor`: the cursor is not one this API gave."
    },
    ("POST", "/api/v1/webhooks/{webhook_id}/recover"): {
        422: "`invalid_since`: `since` is in the future (or not an ISO 8601 time with a zone)."
    },
    ("POST", "/api/v1/webhook-deliveries/{delivery_id}/resend"): {
        409: "`payload_purged` (retention removed it) or `delivery_in_progress`."
    },
    ("GET", "/readyz"): {503: "`not_ready`: a check failed; `failing` names it."},
    ("POST", "/api/v1/auth/login"): {
        401: "`invalid_credentials`: wrong email or password, or the account is locked.",
        403: "`account_disabled` or `tenant_inactive`.",
        429: "`rate_limited`: too many sign-in attempts from this address.",
    },
    ("POST", "/api/v1/auth/refresh"): {
        401: "`invalid_refresh_token`, `refresh_token_revoked`, `refresh_token_expired`, "
        "`refresh_token_reused` (the whole session ends).",
        403: "`account_disabled` or `tenant_inactive`.",
        429: "`rate_limited`: too many attempts from this address.",
    },
    ("POST", "/api/v1/auth/accept-invite"): {
        401: "`invalid_invite`: the invitation is invalid, expired or used.",
        403: "`account_disabled` or `tenant_inactive`.",
        422: "`weak_password`: the password breaks a rule (`reasons` lists them).",
        429: "`rate_limited`: too many attempts from this address.",
    },
    ("POST", "/api/v1/auth/password"): {
        401: "`invalid_credentials`: the current password is wrong.",
        403: "`not_a_user`: API keys have no password.",
        422: "`weak_password`: the new password breaks a rule (`reasons` lists them).",
    },
    ("POST", "/api/v1/customers"): {409: "`slug_taken`: a tenant with this slug exists."},
    ("PATCH", "/api/v1/customers/{tenant_id}"): {
        403: "`admin_only_field`: only platform admins change `is_active`.",
        409: "`slug_taken`.",
        422: "`invalid_field`: a value cannot be empty.",
    },
    ("POST", "/api/v1/users"): {
        403: "`role_escalation`: you cannot grant a role above your own.",
        409: "`email_taken`: a user with this email exists.",
        422: "`weak_password`: the password breaks a rule; `invalid_role`.",
    },
    ("PATCH", "/api/v1/users/{user_id}"): {
        403: "`role_escalation`.",
        409: "`cannot_modify_self`: you cannot change your own role or deactivate yourself.",
    },
    ("DELETE", "/api/v1/users/{user_id}"): {
        403: "`role_escalation`.",
        409: "`cannot_modify_self`: you cannot delete yourself.",
    },
    ("POST", "/api/v1/api-keys"): {
        403: "`role_escalation`: you cannot grant a role above your own.",
        422: "`invalid_role`.",
    },
    ("POST", "/api/v1/issuers"): {
        403: "`platform_admin_only`: only platform admins manage global issuers.",
        409: "`issuer_exists`: this DID is in the truststore already.",
        422: "`invalid_jwks`, `invalid_key_source` (give jwks or jwks_url, not both), "
        "`jwks_unavailable`.",
    },
    ("PATCH", "/api/v1/issuers/{issuer_id}"): {
        422: "`invalid_jwks`, `invalid_key_source`, `jwks_unavailable`."
    },
    ("POST", "/api/v1/issuers/{issuer_id}/keys"): {
        409: "`kid_exists`, or `keys_from_url` (a jwks_url issuer's keys come from its URL).",
        422: "`invalid_jwks`: the key is unusable or has no kid.",
    },
    ("DELETE", "/api/v1/issuers/{issuer_id}/keys/{kid}"): {
        409: "`last_key` or `keys_from_url`: the key cannot be removed."
    },
    ("POST", "/api/v1/mandates"): {
        409: "`ingest_conflict`: the same token was being stored at that moment; retry.",
        422: "The token did not verify: `code` is the verification code (`SIG_INVALID`, "
        "`EXPIRED`, `ISSUER_UNKNOWN`, `KEY_NOT_FOUND`, ...), `verification` the details and "
        "`token_sha256` its hash. Also `invalid_idempotency_key` and "
        "`idempotency_key_reused` (the key was used with another request).",
    },
    ("POST", "/api/v1/mandates/{mandate_id}/revoke"): {409: _CONFLICT_MANDATE},
    ("POST", "/api/v1/mandates/{mandate_id}/restore"): {
        409: "`not_deleted`: only a deleted mandate can be restored; `retention_expired`: "
        "its retention window has passed."
    },
    ("GET", "/api/v1/mandates"): {422: "`invalid_cursor`: the cursor is not one this search gave."},
    ("GET", "/api/v1/admin/db"): {403: "`platform_admin_only`."},
}

# AP2 v0.2 (app/ap2): examples and the refusals of its own.
_AP2_HASH = "x9Rk2vQeX0rV6w3yq1mJkPZ3c0oYtM8Jp2Hq5ZfVd3A"
_AP2_LEDGER = {
    "open_mandate_hash": _AP2_HASH,
    "spent": 19900,
    "currency": "USD",
    "occurrences": 1,
}
_AP2_RECEIPT = TOKEN
SCHEMA_EXAMPLES["PresentationAnswer"] = {
    "result": "approved",
    "code": None,
    "violations": [],
    "mandate_id": MANDATE,
    "ledger": _AP2_LEDGER,
    "receipt": _AP2_RECEIPT,
    "dry_run": False,
    "rejection_id": None,
}
SCHEMA_EXAMPLES["LedgerRead"] = {
    "open_mandate_hash": _AP2_HASH,
    "family": "payment",
    "occurrences": 1,
    "spent": {"USD": 19900},
    "remaining": {"USD": 30100},
    "max_occurrences": 12,
    "last_approval_at": WHEN,
    "next_allowed_at": "2027-01-01T09:30:00Z",
    "revoked_at": None,
    "revocation_reason": None,
    "approvals": [{"mandate_id": MANDATE, "amount": 19900, "currency": "USD", "approved_at": WHEN}],
}
SCHEMA_EXAMPLES["LedgerRevoke"] = {"reason": "the user withdrew the open mandate"}
SCHEMA_EXAMPLES["ReceiptRead"] = {
    "id": "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
    "mandate_id": MANDATE,
    "kind": "payment",
    "status": "Success",
    "issuer_did": "did:web:processor.example",
    "reference_form": "spec",
}
_AP2_REJECTION = {
    "id": "6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f",
    "created_at": WHEN,
    "code": "invalid_mandate",
    "reason": "the payment amount is over the range's max",
    "violations": [
        {
            "constraint": "payment.amount_range",
            "reason": "the payment amount is over the range's max",
        }
    ],
    "mandate_type": "payment",
    "issuer_did": "did:web:agent-provider.example",
    "open_mandate_hash": _AP2_HASH,
    "transaction_id": _AP2_HASH,
    "reference": _AP2_HASH,
    "reference_sdk": _AP2_HASH,
    "amount": 25000,
    "currency": "USD",
    "merchant_id": "merchant_1",
    "context": {
        "audience": "https://verifier.example",
        "nonce": "n-0S6_WzA2Mj",
        "checkout_jwt_hash": _AP2_HASH,
        "open_checkout_hash": _AP2_HASH,
    },
    "ledger_before": {"spent": {}, "occurrences": 0, "last_approval": None},
    "receipt": TOKEN,
    "sd_jwt": None,
}
SCHEMA_EXAMPLES["RejectionRead"] = _AP2_REJECTION
SCHEMA_EXAMPLES["RejectionList"] = {"items": [_AP2_REJECTION], "next_cursor": None}
SCHEMA_EXAMPLES["DisputeResult"] = {
    "mandate_id": MANDATE,
    "result": "consistent",
    "steps": [
        {"step": "chain", "ok": True, "reason": None},
        {"step": "receipt", "ok": True, "reason": None},
        {"step": "checkout_mandate", "ok": True, "reason": None},
        {"step": "payment_reference", "ok": True, "reason": None},
    ],
}
AP2_PRESENTATION_EXAMPLE = {
    "sd_jwt": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImFwLTEifQ.eyJkZWxlZ2F0ZV9wYXlsb2FkIjpbXX0.c2ln~WyJzYWx0Il0~~"
    "eyJhbGciOiJFUzI1NiIsInR5cCI6ImtiK3NkLWp3dCJ9.eyJpYXQiOjF9.c2ln~WyJzYWx0Il0~",
    "audience": "https://verifier.example",
    "nonce": "n-0S6_WzA2Mj",
    "checkout_jwt_hash": _AP2_HASH,
    "open_checkout_hash": _AP2_HASH,
    "dry_run": False,
}
AP2_RECEIPT_EXAMPLE = {"receipt": TOKEN}
_AP2_CODES = (
    "`invalid_credential`, `mandates_not_supported`, `invalid_mandate` or "
    "`unresolved_constraint`: the presentation is rejected (the body carries `violations`, "
    "`ledger` and the vault's Error `receipt`)."
)
_AP2_BODY = {
    400: "`invalid_request`: the body is not the presentation object.",
    413: "`payload_too_large`: the body is over MAX_BODY_BYTES (1 MiB).",
    415: "`unsupported_media_type`: a JSON body must be UTF-8 (`body_not_utf8`).",
}
OWN_ERRORS[("POST", "/api/v1/ap2/presentations")] = {**_AP2_BODY, 422: _AP2_CODES}
OWN_ERRORS[("POST", "/api/v1/ap2/receipts")] = {
    413: _AP2_BODY[413],
    415: _AP2_BODY[415],
    422: "`invalid_receipt`: the receipt does not verify against the truststore, or lacks "
    "what its status and kind need.",
    404: "`mandate_not_found`: no stored closed mandate has the receipt's `reference`.",
}
OWN_ERRORS[("GET", "/api/v1/ap2/ledger/{open_mandate_hash}")] = {
    404: "`ledger_not_found`: nothing was ever recorded under this open mandate hash."
}
OWN_ERRORS[("POST", "/api/v1/ap2/ledger/{open_mandate_hash}/revoke")] = {
    404: "`ledger_not_found`: the hash is not 43 base64url characters, so no root has it."
}
OWN_ERRORS[("GET", "/api/v1/ap2/rejections")] = {
    422: "`invalid_cursor`: the cursor is not one this API gave."
}
OWN_ERRORS[("GET", "/api/v1/ap2/rejections/{rejection_id}")] = {
    404: "`rejection_not_found`: no stored rejection of this tenant has this id."
}
OWN_ERRORS[("POST", "/api/v1/mandates/{mandate_id}/dispute-check")] = {
    422: "`mandates_not_supported`: the mandate is not an AP2 v0.2 mandate."
}
