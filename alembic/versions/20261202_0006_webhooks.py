"""Webhooks: rotation and health of endpoints, the claim lease and log of deliveries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WEBHOOK_TIMES = (
    "secret_previous_expires_at",
    "failing_since",
    "last_success_at",
    "last_failure_at",
    "disabled_at",
)


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_previous", sa.String(length=512), nullable=True))
        for name in _WEBHOOK_TIMES:
            batch_op.add_column(
                sa.Column(name, app.models.base.UTCDateTime(timezone=True), nullable=True)
            )
        batch_op.add_column(sa.Column("last_status_code", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("disabled_reason", sa.String(length=16), nullable=True))

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("locked_until", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("latency_ms", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("response_excerpt", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "payload_purged_at", app.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.drop_index("idx_webhook_deliveries_webhook")
        batch_op.create_index(
            "idx_webhook_deliveries_webhook", ["webhook_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("idx_webhook_deliveries_event", ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("idx_webhook_deliveries_event")
        batch_op.drop_index("idx_webhook_deliveries_webhook")
        batch_op.create_index("idx_webhook_deliveries_webhook", ["webhook_id"], unique=False)
        batch_op.drop_column("payload_purged_at")
        batch_op.drop_column("response_excerpt")
        batch_op.drop_column("latency_ms")
        batch_op.drop_column("last_outcome")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("locked_by")

    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("disabled_reason")
        batch_op.drop_column("last_status_code")
        for name in reversed(_WEBHOOK_TIMES):
            batch_op.drop_column(name)
        batch_op.drop_column("secret_previous")
