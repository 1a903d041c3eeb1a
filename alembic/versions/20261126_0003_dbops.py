"""Database operations: audit_anchors, what retention cut from each audit chain.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_anchors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('cutoff', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_id', sa.BigInteger(), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('last_row_hash', sa.String(length=64), nullable=True),
    sa.Column('last_timestamp', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rows_removed', sa.BigInteger(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_anchors'))
    )
    with op.batch_alter_table('audit_anchors', schema=None) as batch_op:
        batch_op.create_index('idx_audit_anchors_run', ['run_id'], unique=False)
        batch_op.create_index('idx_audit_anchors_tenant_last', ['tenant_id', 'last_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_anchors', schema=None) as batch_op:
        batch_op.drop_index('idx_audit_anchors_tenant_last')
        batch_op.drop_index('idx_audit_anchors_run')

    op.drop_table('audit_anchors')
