"""Refusals of the tenancy feature that several of its modules raise."""

from __future__ import annotations

from app.core.errors import NotFound


class TenantNotFound(NotFound):
    """Unknown, or another tenant's: the answer is the same either way."""

    code = "tenant_not_found"

    def __init__(self, detail: str = "Tenant not found.") -> None:
        super().__init__(detail)
