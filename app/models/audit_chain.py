"""The audit chain's state: heads, signed checkpoints, the vault's signing keys,
and the issuer key and status history evidence packs verify "as of ingest" with."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntId, JSONType, UTCDateTime, utcnow


class AuditChainHead(Base):
    """The sealer's state per chain: the newest sealed row and the last checkpoint.

    It survives retention cutting every row of a chain.
    """

    __tablename__ = "audit_chain_heads"

    chain_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    row_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_checkpoint_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    checkpointed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditCheckpoint(Base):
    """A signed chain head; the JWS is the truth, the other columns serve queries."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index("uq_audit_checkpoints_chain_seq", "chain_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    chain_id: Mapped[str] = mapped_column(String(40), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    first_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    row_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    root: Mapped[str] = mapped_column(String(64), nullable=False)
    kid: Mapped[str] = mapped_column(String(64), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    jws: Mapped[str] = mapped_column(Text, nullable=False)


class VaultSigningKey(Base):
    """One of the vault's ES256 keys; retired keys stay published in jwks.json."""

    __tablename__ = "vault_signing_keys"
    __table_args__ = (
        Index(
            "uq_vault_signing_keys_current",
            "status",
            unique=True,
            postgresql_where=text("status = 'current'"),
            sqlite_where=text("status = 'current'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    # NULL when the private key lives in SIGNING_KEY_FILE.
    sealed_private_key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IssuerKeyHistory(Base):
    """A public key of an issuer and the period it was trusted, [valid_from, valid_until)."""

    __tablename__ = "issuer_key_history"
    __table_args__ = (Index("idx_issuer_key_history_tenant_did", "tenant_id", "did", "valid_from"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # No foreign keys: the history outlives the issuer (and a global issuer has no tenant).
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    issuer_id: Mapped[uuid.UUID] = mapped_column(Uuid(), nullable=False)
    did: Mapped[str] = mapped_column(String(2048), nullable=False)
    kid: Mapped[str | None] = mapped_column(String(256))
    jwk: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IssuerStatusHistory(Base):
    """An issuer's status from `since` on."""

    __tablename__ = "issuer_status_history"
    __table_args__ = (Index("idx_issuer_status_history_tenant_did", "tenant_id", "did", "since"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    did: Mapped[str] = mapped_column(String(2048), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
