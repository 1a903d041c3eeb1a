from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.keys import IssuerStatus

DID_PATTERN = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._:%\-]+(?:#[A-Za-z0-9._\-]+)?$")


def _check_did(value: str) -> str:
    if not DID_PATTERN.match(value):
        raise ValueError(
            "must be a DID such as did:web:bank.example, did:key:z6Mk... or did:jwk:..."
        )
    return value


class IssuerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    did: str = Field(min_length=7, max_length=2048)
    name: str | None = Field(default=None, max_length=200)
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = Field(default=None, max_length=2048)
    is_global: bool = Field(
        default=False, alias="global", description="Platform admins only: trusted by every tenant."
    )

    _did = field_validator("did")(_check_did)


class IssuerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    status: IssuerStatus | None = None
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = Field(default=None, max_length=2048)


class KeyAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any]


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
