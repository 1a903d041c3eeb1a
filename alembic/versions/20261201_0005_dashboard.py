"""Dashboard: hourly activity counts rolled up from the audit trail, mandate
counts by status, and the last JWKS fetch error of each issuer.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:37:15.753764+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('activity_rollup',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('rolled_up_to', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_rollup'))
    )
    op.create_table('activity_hourly',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('hour', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_activity_hourly_tenant_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_hourly')),
    sa.UniqueConstraint('tenant_id', 'hour', 'action', 'outcome', name=op.f('uq_activity_hourly_tenant_id_hour_action_outcome'))
    )
    op.create_table('mandate_status_counts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('counted_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_mandate_status_counts_tenant_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandate_status_counts')),
    sa.UniqueConstraint('tenant_id', 'status', name=op.f('uq_mandate_status_counts_tenant_id_status'))
    )
    with op.batch_alter_table('issuers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jwks_error', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('jwks_failing_since', app.models.base.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('issuers', schema=None) as batch_op:
        batch_op.drop_column('jwks_failing_since')
        batch_op.drop_column('jwks_error')

    op.drop_table('mandate_status_counts')
    op.drop_table('activity_hourly')
    op.drop_table('activity_rollup')
