"""Alerts: an index on (alert_type, mandate_id) for the expiry sweep's check that a
mandate never had an expiry alert.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("idx_alerts_type_mandate", "alerts", ["alert_type", "mandate_id"])


def downgrade() -> None:
    op.drop_index("idx_alerts_type_mandate", table_name="alerts")
