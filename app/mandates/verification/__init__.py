"""Pure mandate verification engine: no database, no HTTP, no I/O."""

from app.mandates.verification.codes import Code, MandateFields, VerificationResult
from app.mandates.verification.content import cart_hash
from app.mandates.verification.engine import verify_token
from app.mandates.verification.peek import referenced_issuers, referenced_keys

__all__ = [
    "Code",
    "MandateFields",
    "VerificationResult",
    "cart_hash",
    "referenced_issuers",
    "referenced_keys",
    "verify_token",
]
