"""Alerts: platform alerts (no tenant), one open alert per condition, and who
acknowledged or resolved each and how.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:35:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text('resolved_at IS NULL')


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('tenant_id', existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(op.f('ck_alerts_resolution'), "resolution IN ('cleared', 'manual')")
        batch_op.create_index('uq_alerts_open_condition', ['alert_type', 'dedupe_key'], unique=True, sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index('idx_alerts_type_key', ['alert_type', 'dedupe_key'], unique=False)
        batch_op.create_index('idx_alerts_resolved_at', ['resolved_at'], unique=False)


def downgrade() -> None:
    # Platform alerts have no tenant to keep them under the old NOT NULL column.
    op.execute('DELETE FROM alerts WHERE tenant_id IS NULL')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('idx_alerts_resolved_at')
        batch_op.drop_index('idx_alerts_type_key')
        batch_op.drop_index('uq_alerts_open_condition')
        batch_op.drop_constraint(op.f('ck_alerts_resolution'), type_='check')
        batch_op.drop_column('resolution')
        batch_op.drop_column('resolved_by')
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('dedupe_key')
        batch_op.alter_column('tenant_id', existing_type=sa.Uuid(), nullable=False)
