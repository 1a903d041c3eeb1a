"""Initial schema: tenants, identities, truststore, mandates, audit, webhooks, alerts.

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 14:10:37.477839+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('customers',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('slug', name=op.f('uq_customers_slug'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('timestamp', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=True),
    sa.Column('resource_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('row_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_audit_log_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('idx_audit_log_resource', ['resource_type', 'resource_id'], unique=False)
        batch_op.create_index('idx_audit_log_tenant_timestamp', ['tenant_id', 'timestamp'], unique=False)
        batch_op.create_index('idx_audit_log_timestamp', ['timestamp'], unique=False)

    op.create_table('issuers',
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('did', sa.String(length=2048), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('jwks', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('jwks_url', sa.String(length=2048), nullable=True),
    sa.Column('jwks_fetched_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status_changed_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'suspended', 'revoked')", name=op.f('ck_issuers_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_issuers_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issuers'))
    )
    with op.batch_alter_table('issuers', schema=None) as batch_op:
        batch_op.create_index('idx_issuers_did', ['did'], unique=False)
        batch_op.create_index('idx_issuers_tenant_did', ['tenant_id', 'did'], unique=True)

    op.create_table('mandates',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('vc_jwt', sa.Text(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('mandate_type', sa.String(length=16), nullable=False),
    sa.Column('issuer_did', sa.String(length=2048), nullable=False),
    sa.Column('subject_did', sa.String(length=2048), nullable=False),
    sa.Column('jti', sa.String(length=255), nullable=True),
    sa.Column('scope', sa.String(length=255), nullable=True),
    sa.Column('amount_limit', app.models.base.Money(precision=20, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('merchants', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('issued_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('not_before', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verification_status', sa.String(length=32), nullable=False),
    sa.Column('verification_reason', sa.Text(), nullable=True),
    sa.Column('verification_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('verified_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retention_days', sa.Integer(), server_default='90', nullable=False),
    sa.Column('revoked_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.Column('deleted_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mandate_type IN ('generic', 'intent', 'cart', 'payment')", name=op.f('ck_mandates_mandate_type')),
    sa.CheckConstraint("status IN ('active', 'expired', 'revoked', 'deleted')", name=op.f('ck_mandates_status')),
    sa.CheckConstraint('retention_days >= 0', name=op.f('ck_mandates_retention_days')),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_mandates_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandates')),
    sa.UniqueConstraint('tenant_id', 'token_sha256', name=op.f('uq_mandates_tenant_id_token_sha256'))
    )
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.create_index('idx_mandates_deleted_at', ['deleted_at'], unique=False)
        batch_op.create_index('idx_mandates_status_expires', ['status', 'expires_at'], unique=False)
        batch_op.create_index('idx_mandates_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('idx_mandates_tenant_expires', ['tenant_id', 'expires_at', 'id'], unique=False)
        batch_op.create_index('idx_mandates_tenant_issuer', ['tenant_id', 'issuer_did', 'created_at', 'id'], unique=False)
        batch_op.create_index('idx_mandates_tenant_status', ['tenant_id', 'status'], unique=False)
        batch_op.create_index('idx_mandates_tenant_subject', ['tenant_id', 'subject_did'], unique=False)

    op.create_table('users',
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('failed_login_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_until', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'customer_admin', 'customer_user', 'readonly')", name=op.f('ck_users_role')),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_users_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('idx_users_email', ['email'], unique=True)
        batch_op.create_index('idx_users_tenant', ['tenant_id'], unique=False)

    op.create_table('webhooks',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('event_types', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_webhooks_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks'))
    )
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.create_index('idx_webhooks_tenant', ['tenant_id'], unique=False)

    op.create_table('alerts',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('mandate_id', sa.Uuid(), nullable=True),
    sa.Column('alert_type', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('acknowledged_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name=op.f('ck_alerts_severity')),
    sa.ForeignKeyConstraint(['mandate_id'], ['mandates.id'], name=op.f('fk_alerts_mandate_id_mandates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_alerts_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('idx_alerts_tenant_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('idx_alerts_tenant_unresolved', ['tenant_id', 'resolved_at'], unique=False)

    op.create_table('api_keys',
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=128), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('expires_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'customer_admin', 'customer_user', 'readonly')", name=op.f('ck_api_keys_role')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_api_keys_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_api_keys_tenant_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index('idx_api_keys_tenant', ['tenant_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('webhook_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'delivering', 'succeeded', 'failed', 'dead')", name=op.f('ck_webhook_deliveries_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['customers.id'], name=op.f('fk_webhook_deliveries_tenant_id_customers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_deliveries_webhook_id_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('idx_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('idx_webhook_deliveries_tenant_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('idx_webhook_deliveries_webhook', ['webhook_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('idx_webhook_deliveries_webhook')
        batch_op.drop_index('idx_webhook_deliveries_tenant_created')
        batch_op.drop_index('idx_webhook_deliveries_due')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index('idx_api_keys_tenant')

    op.drop_table('api_keys')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('idx_alerts_tenant_unresolved')
        batch_op.drop_index('idx_alerts_tenant_created')

    op.drop_table('alerts')
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_index('idx_webhooks_tenant')

    op.drop_table('webhooks')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('idx_users_tenant')
        batch_op.drop_index('idx_users_email')

    op.drop_table('users')
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.drop_index('idx_mandates_tenant_subject')
        batch_op.drop_index('idx_mandates_tenant_status')
        batch_op.drop_index('idx_mandates_tenant_issuer')
        batch_op.drop_index('idx_mandates_tenant_expires')
        batch_op.drop_index('idx_mandates_tenant_created')
        batch_op.drop_index('idx_mandates_status_expires')
        batch_op.drop_index('idx_mandates_deleted_at')

    op.drop_table('mandates')
    with op.batch_alter_table('issuers', schema=None) as batch_op:
        batch_op.drop_index('idx_issuers_tenant_did')
        batch_op.drop_index('idx_issuers_did')

    op.drop_table('issuers')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('idx_audit_log_timestamp')
        batch_op.drop_index('idx_audit_log_tenant_timestamp')
        batch_op.drop_index('idx_audit_log_resource')

    op.drop_table('audit_log')
    op.drop_table('customers')
    
