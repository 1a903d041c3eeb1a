"""Tenants, users, API keys, sign-in and the access-control context of every request."""
