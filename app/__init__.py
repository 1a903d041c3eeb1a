"""Mandate Vault: a multi-tenant vault for signed payment mandates."""

__version__ = "0.1.0"
