from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.core.types import STORABLE, JsonObject
from app.keys import IssuerStatus

DID_PATTERN = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._:%\-]+(?:#[A-Za-z0-9._\-]+)?$")


IssuerName = Annotated[str, StringConstraints(max_length=200), STORABLE]
JwksUrl = Annotated[str, StringConstraints(max_length=2048), STORABLE]
# A key id named in a path (`DELETE /issuers/{id}/keys/{kid}`).
Kid = Annotated[str, StringConstraints(min_length=1, max_length=255), STORABLE]


def _check_did(value: str) -> str:
    if not DID_PATTERN.match(value):
        raise ValueError(
            "must be a DID such as did:web:bank.example, did:key:z6Mk... or did:jwk:..."
        )
    return value


class IssuerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    did: Annotated[str, StringConstraints(min_length=7, max_length=2048), STORABLE]
    name: IssuerName | None = None
    jwks: JsonObject | None = None
    jwks_url: JwksUrl | None = None
    is_global: bool = Field(
        default=False, alias="global", description="Platform admins only: trusted by every tenant."
    )

    _did = field_validator("did")(_check_did)


class IssuerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: IssuerName | None = None
    status: IssuerStatus | None = None
    jwks: JsonObject | None = None
    jwks_url: JwksUrl | None = None


class KeyAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jwk: JsonObject


class KeyInfo(BaseModel):
    """One public key of an issuer as an operator sees it."""

    kid: str | None
    kty: str
    crv: str | None
    algs: list[str]


class KeyRefresh(BaseModel):
    """What fetching an issuer's jwks_url now gave."""

    ok: bool
    error: str | None = None
    kids: list[str | None] = Field(default_factory=list)


class IssuerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    did: str
    name: str | None
    status: IssuerStatus
    is_global: bool
    key_source: Literal["jwks", "jwks_url", "did"]
    kids: list[str | None]
    jwks: dict[str, Any] | None
    jwks_url: str | None
    jwks_fetched_at: datetime | None
    jwks_error: str | None = Field(
        default=None, description="Why the last fetch of jwks_url failed"
    )
    jwks_failing_since: datetime | None = None
    status_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime
