"""AP2 v0.2: genuine chains refused in stage D, kept verbatim with their verdict.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('ap2_rejections',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('sd_jwt', sa.Text(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('violations', JSON, nullable=False),
    sa.Column('mandate_type', sa.String(length=16), nullable=False),
    sa.Column('issuer_did', sa.String(length=2048), nullable=False),
    sa.Column('open_mandate_hash', sa.String(length=64), nullable=False),
    sa.Column('transaction_id', sa.String(length=255), nullable=True),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('reference_sdk', sa.String(length=64), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('merchant_id', sa.String(length=255), nullable=True),
    sa.Column('details', JSON, nullable=False),
    sa.Column('receipt', sa.Text(), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("mandate_type IN ('checkout', 'payment')", name=op.f('ck_ap2_rejections_mandate_type')),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_ap2_rejections_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ap2_rejections'))
    )
    op.create_index('idx_ap2_rejections_tenant_created', 'ap2_rejections', ['tenant_id', 'created_at'], unique=False)
    op.create_index('idx_ap2_rejections_tenant_open_hash', 'ap2_rejections', ['tenant_id', 'open_mandate_hash'], unique=False)
    op.create_index('idx_ap2_rejections_tenant_transaction', 'ap2_rejections', ['tenant_id', 'transaction_id'], unique=False)


def downgrade() -> None:
    op.drop_index('idx_ap2_rejections_tenant_transaction', table_name='ap2_rejections')
    op.drop_index('idx_ap2_rejections_tenant_open_hash', table_name='ap2_rejections')
    op.drop_index('idx_ap2_rejections_tenant_created', table_name='ap2_rejections')
    op.drop_table('ap2_rejections')
