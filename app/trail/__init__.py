"""The audit trail over HTTP: read, export and verify it; the vault's public keys.

Its own package, above both `app.audit` (the chain) and `app.tenancy` (who may
read it), since tenancy's own changes are audited through `app.audit`.
"""
