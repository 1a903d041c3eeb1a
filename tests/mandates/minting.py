"""A test issuer that registers itself and mints real signed mandates."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from app.issuers.schemas import IssuerCreate
from app.issuers.service import IssuerService
from tests.mandates.conftest import ACTOR
from tests.verification.helpers import generic_claims, mint, public_jwk


@dataclass
class MintingIssuer:
    did: str = field(default_factory=lambda: f"did:web:{uuid.uuid4().hex[:10]}.bank.example")
    key: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    kid: str = "k1"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.key, self.kid)]}

    async def register(self, session, tenant_id):
        service = IssuerService(session, tenant_id, ACTOR, None)
        return await service.create(IssuerCreate(did=self.did, jwks=self.jwks()))

    def token(
        self,
        *,
        scope: str = "payments:recurring",
        amount: str = "500.00",
        currency: str = "USD",
        merchants: list[str] | None = None,
        expires_in: int = 3600,
        subject: str = "did:example:agent-1",
        kid: str | None = None,
        key: Any = None,
    ) -> str:
        now = int(time.time())
        claims = generic_claims(self.did, iat=now - 5, exp=now + expires_in, sub=subject)
        credential = claims["vc"]["credentialSubject"]
        credential.update(
            {"id": subject, "scope": scope, "amount_limit": amount, "currency": currency}
        )
        if merchants is not None:
            credential["merchants"] = merchants
        return mint(claims, key or self.key, "ES256", kid=kid or self.kid)
