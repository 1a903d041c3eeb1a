"""Request and response bodies. Read schemas never carry secrets or hashes;
Create/Update schemas forbid unknown fields, so a `tenant_id` in a body is an error."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core.types import STORABLE, JsonObject, Name
from app.tenancy.passwords import MAX_LENGTH

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.[A-Za-z]{2,}$")
_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$"


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


Email = Annotated[str, StringConstraints(max_length=320), STORABLE, AfterValidator(_email)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LENGTH), STORABLE]
TenantRole = Literal["customer_admin", "customer_user", "readonly"]
AnyRole = Literal["admin", "customer_admin", "customer_user", "readonly"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# Tenants


class TenantCreate(Strict):
    name: Name
    slug: Annotated[str, StringConstraints(max_length=100, pattern=_SLUG), STORABLE] | None = None
    email: Email | None = None
    settings: JsonObject = Field(default_factory=dict)


class TenantUpdate(Strict):
    name: Name | None = None
    email: Email | None = None
    settings: JsonObject | None = None
    is_active: bool | None = None


class TenantRead(Read):
    id: uuid.UUID
    name: str
    slug: str
    email: str | None
    is_active: bool
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# Users


class UserCreate(Strict):
    email: Email
    full_name: Name | None = None
    role: TenantRole = "customer_user"
    password: Password | None = Field(
        default=None, description="Omit to invite: the answer then carries an invite_token."
    )


class UserUpdate(Strict):
    full_name: Name | None = None
    role: TenantRole | None = None
    is_active: bool | None = None


class UserRead(Read):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    email: str
    full_name: str | None
    role: str
    is_active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UserCreated(UserRead):
    invite_token: str | None = Field(
        default=None, description="Shown once when the user was invited without a password."
    )


# API keys


class ApiKeyCreate(Strict):
    name: Name
    role: TenantRole = "customer_user"
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyRead(Read):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    name: str
    role: str
    prefix: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret. Shown once; only its hash is stored.")


# Sign-in


class LoginRequest(Strict):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320), STORABLE]
    password: Password


class RefreshRequest(Strict):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200), STORABLE]


class LogoutRequest(Strict):
    refresh_token: (
        Annotated[str, StringConstraints(min_length=1, max_length=200), STORABLE] | None
    ) = None


class AcceptInvite(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=2000), STORABLE]
    password: Password


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid.")


class Me(BaseModel):
    kind: Literal["user", "api_key"]
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    role: str
    name: str
    permissions: list[str]


class PasswordChange(Strict):
    current_password: Password
    new_password: Password
