"""AP2 v0.2: v0.2 chains stored as mandates (format, ledger key, transaction id,
receipt references, amount in minor units), the spend ledger, its approvals and
the merchant / processor receipts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = "mandate_type IN ('generic', 'intent', 'cart', 'payment')"
NEW_TYPES = "mandate_type IN ('generic', 'intent', 'cart', 'payment', 'checkout')"


def upgrade() -> None:
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('format', sa.String(length=16), server_default='vc-jwt', nullable=False))
        batch_op.add_column(sa.Column('open_mandate_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('transaction_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reference', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reference_sdk', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('amount_minor', sa.BigInteger(), nullable=True))
        batch_op.drop_constraint(op.f('ck_mandates_mandate_type'), type_='check')
        batch_op.create_check_constraint(op.f('ck_mandates_mandate_type'), NEW_TYPES)
        batch_op.create_check_constraint(op.f('ck_mandates_format'), "format IN ('vc-jwt', 'ap2-v0.2')")
        batch_op.create_index('idx_mandates_tenant_open_hash', ['tenant_id', 'open_mandate_hash'], unique=False)
        batch_op.create_index('idx_mandates_tenant_transaction', ['tenant_id', 'transaction_id'], unique=False)
        batch_op.create_index('idx_mandates_tenant_reference', ['tenant_id', 'reference'], unique=False)
        batch_op.create_index('idx_mandates_tenant_reference_sdk', ['tenant_id', 'reference_sdk'], unique=False)
    op.create_table('ap2_ledgers',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('open_mandate_hash', sa.String(length=64), nullable=False),
    sa.Column('family', sa.String(length=16), nullable=True),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('last_approval_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('spent', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('revoked_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('occurrences >= 0', name=op.f('ck_ap2_ledgers_occurrences')),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_ap2_ledgers_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ap2_ledgers'))
    )
    op.create_index('uq_ap2_ledgers_tenant_hash', 'ap2_ledgers', ['tenant_id', 'open_mandate_hash'], unique=True)
    op.create_table('ap2_approvals',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('ledger_id', sa.Uuid(), nullable=False),
    sa.Column('mandate_id', sa.Uuid(), nullable=False),
    sa.Column('leaf_jwt_hash', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('approved_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['ledger_id'], ['ap2_ledgers.id'], name=op.f('fk_ap2_approvals_ledger_id_ap2_ledgers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mandate_id'], ['mandates.id'], name=op.f('fk_ap2_approvals_mandate_id_mandates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_ap2_approvals_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ap2_approvals'))
    )
    op.create_index('idx_ap2_approvals_ledger', 'ap2_approvals', ['ledger_id', 'approved_at'], unique=False)
    op.create_index('uq_ap2_approvals_tenant_leaf', 'ap2_approvals', ['tenant_id', 'leaf_jwt_hash'], unique=True)
    op.create_table('ap2_receipts',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('mandate_id', sa.Uuid(), nullable=False),
    sa.Column('receipt_jwt', sa.Text(), nullable=False),
    sa.Column('jwt_sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('issuer_did', sa.String(length=2048), nullable=False),
    sa.Column('kid', sa.String(length=255), nullable=False),
    sa.Column('issuer_jwk', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reference', sa.String(length=255), nullable=False),
    sa.Column('reference_form', sa.String(length=8), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("kind IN ('checkout', 'payment')", name=op.f('ck_ap2_receipts_kind')),
    sa.ForeignKeyConstraint(['mandate_id'], ['mandates.id'], name=op.f('fk_ap2_receipts_mandate_id_mandates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_ap2_receipts_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ap2_receipts'))
    )
    op.create_index('idx_ap2_receipts_mandate', 'ap2_receipts', ['mandate_id', 'created_at'], unique=False)
    op.create_index('uq_ap2_receipts_tenant_sha', 'ap2_receipts', ['tenant_id', 'jwt_sha256'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_ap2_receipts_tenant_sha', table_name='ap2_receipts')
    op.drop_index('idx_ap2_receipts_mandate', table_name='ap2_receipts')
    op.drop_table('ap2_receipts')
    op.drop_index('uq_ap2_approvals_tenant_leaf', table_name='ap2_approvals')
    op.drop_index('idx_ap2_approvals_ledger', table_name='ap2_approvals')
    op.drop_table('ap2_approvals')
    op.drop_index('uq_ap2_ledgers_tenant_hash', table_name='ap2_ledgers')
    op.drop_table('ap2_ledgers')
    # v0.2 rows cannot exist under the old schema.
    op.execute("DELETE FROM mandates WHERE format = 'ap2-v0.2'")
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.drop_index('idx_mandates_tenant_reference_sdk')
        batch_op.drop_index('idx_mandates_tenant_reference')
        batch_op.drop_index('idx_mandates_tenant_transaction')
        batch_op.drop_index('idx_mandates_tenant_open_hash')
        batch_op.drop_constraint(op.f('ck_mandates_format'), type_='check')
        batch_op.drop_constraint(op.f('ck_mandates_mandate_type'), type_='check')
        batch_op.create_check_constraint(op.f('ck_mandates_mandate_type'), OLD_TYPES)
        batch_op.drop_column('amount_minor')
        batch_op.drop_column('reference_sdk')
        batch_op.drop_column('reference')
        batch_op.drop_column('transaction_id')
        batch_op.drop_column('open_mandate_hash')
        batch_op.drop_column('format')
