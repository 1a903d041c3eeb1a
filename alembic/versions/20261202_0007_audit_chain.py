"""Audit chain: seq / hashes / chain on audit_log, chain heads, signed
checkpoints, the vault's signing keys, issuer key and status history.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 01:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill_chain_ids() -> None:
    """Existing rows join their tenant's chain (the lowercase UUID text) or `platform`."""
    audit = sa.table(
        'audit_log', sa.column('tenant_id', sa.Uuid()), sa.column('chain_id', sa.String(40))
    )
    bind = op.get_bind()
    tenants = bind.execute(sa.select(audit.c.tenant_id).distinct()).scalars().all()
    for tenant in tenants:
        chain = 'platform' if tenant is None else str(tenant)
        where = audit.c.tenant_id.is_(None) if tenant is None else audit.c.tenant_id == tenant
        bind.execute(sa.update(audit).where(where).values(chain_id=chain))


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('actor_role', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('sealed_at', app.models.base.UTCDateTime(timezone=True), nullable=True))
    # Rows written before the chain are unsealed: the sealer links them first.
    op.execute('UPDATE audit_log SET prev_hash = NULL, row_hash = NULL')
    _backfill_chain_ids()
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('chain_id', existing_type=sa.String(length=40), nullable=False)
        batch_op.create_check_constraint(
            op.f('ck_audit_log_sealed'), 'seq IS NULL OR (prev_hash IS NOT NULL AND row_hash IS NOT NULL)'
        )
    op.create_index(
        'uq_audit_log_chain_seq', 'audit_log', ['chain_id', 'seq'], unique=True,
        postgresql_include=['row_hash'],
    )
    op.create_index(
        'idx_audit_log_unsealed', 'audit_log', ['id'],
        postgresql_where=sa.text('seq IS NULL'), sqlite_where=sa.text('seq IS NULL'),
    )
    with op.batch_alter_table('audit_anchors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('last_seq', sa.BigInteger(), nullable=True))
        batch_op.create_index('idx_audit_anchors_chain_seq', ['chain_id', 'last_seq'], unique=False)

    op.create_table('audit_chain_heads',
    sa.Column('chain_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.Column('sealed_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_checkpoint_seq', sa.BigInteger(), nullable=False),
    sa.Column('checkpointed_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('chain_id', name=op.f('pk_audit_chain_heads'))
    )
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('chain_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('first_seq', sa.BigInteger(), nullable=False),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('signed_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints'))
    )
    op.create_index('uq_audit_checkpoints_chain_seq', 'audit_checkpoints', ['chain_id', 'seq'], unique=True)
    op.create_table('vault_signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('public_jwk', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sealed_private_key', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_vault_signing_keys'))
    )
    op.create_index(
        'uq_vault_signing_keys_current', 'vault_signing_keys', ['status'], unique=True,
        postgresql_where=sa.text("status = 'current'"), sqlite_where=sa.text("status = 'current'"),
    )
    op.create_table('issuer_key_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('issuer_id', sa.Uuid(), nullable=False),
    sa.Column('did', sa.String(length=2048), nullable=False),
    sa.Column('kid', sa.String(length=256), nullable=True),
    sa.Column('jwk', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('valid_from', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issuer_key_history'))
    )
    op.create_index('idx_issuer_key_history_tenant_did', 'issuer_key_history', ['tenant_id', 'did', 'valid_from'], unique=False)
    op.create_table('issuer_status_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('did', sa.String(length=2048), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('since', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issuer_status_history'))
    )
    op.create_index('idx_issuer_status_history_tenant_did', 'issuer_status_history', ['tenant_id', 'did', 'since'], unique=False)


def downgrade() -> None:
    op.drop_index('idx_issuer_status_history_tenant_did', table_name='issuer_status_history')
    op.drop_table('issuer_status_history')
    op.drop_index('idx_issuer_key_history_tenant_did', table_name='issuer_key_history')
    op.drop_table('issuer_key_history')
    op.drop_index('uq_vault_signing_keys_current', table_name='vault_signing_keys')
    op.drop_table('vault_signing_keys')
    op.drop_index('uq_audit_checkpoints_chain_seq', table_name='audit_checkpoints')
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_chain_heads')
    with op.batch_alter_table('audit_anchors', schema=None) as batch_op:
        batch_op.drop_index('idx_audit_anchors_chain_seq')
        batch_op.drop_column('last_seq')
        batch_op.drop_column('chain_id')
    op.drop_index('idx_audit_log_unsealed', table_name='audit_log')
    op.drop_index('uq_audit_log_chain_seq', table_name='audit_log')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_audit_log_sealed'), type_='check')
        batch_op.drop_column('sealed_at')
        batch_op.drop_column('actor_role')
        batch_op.drop_column('seq')
        batch_op.drop_column('chain_id')
