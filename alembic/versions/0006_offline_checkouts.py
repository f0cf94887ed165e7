"""Offline laptops: checkouts recorded centrally, and a laptop file's own bookkeeping.

New tables only. Central: ``offline_checkout`` (laptop, user, checked out
at, expires at, revoked at/by, last sync, returned at) and
``offline_checkout_case`` (its cases). Laptop file: ``offline_local_state``
(the single row saying whose copy it is), ``offline_local_base`` (row values
at checkout, the common ancestor of the three-way merge) and
``offline_local_conflict`` (fields changed differently on both sides). Both
kinds exist in every database because the laptop file is made by the same
migrations; see docs/offline.md. Downgrading drops exactly these tables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

import models
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('offline_local_base',
    sa.Column('table_name', sa.String(length=40), nullable=False),
    sa.Column('row_key', sa.String(length=80), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('table_name', 'row_key', name=op.f('pk_offline_local_base'))
    )
    op.create_table('offline_local_conflict',
    sa.Column('table_name', sa.String(length=40), nullable=False),
    sa.Column('row_key', sa.String(length=80), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('case_number', sa.String(length=32), nullable=True),
    sa.Column('base_value', sa.Text(), nullable=False),
    sa.Column('theirs_value', sa.Text(), nullable=False),
    sa.Column('yours_value', sa.Text(), nullable=False),
    sa.Column('detected_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=10), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_local_conflict'))
    )
    op.create_index('ix_offline_local_conflict_row', 'offline_local_conflict', ['table_name', 'row_key', 'field'], unique=False)
    op.create_table('offline_local_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('laptop_id', sa.Uuid(), nullable=False),
    sa.Column('laptop_code', sa.String(length=16), nullable=False),
    sa.Column('checkout_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('checked_out_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_sync_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_provisional', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_local_state'))
    )
    op.create_table('offline_checkout',
    sa.Column('laptop_id', sa.Uuid(), nullable=False),
    sa.Column('laptop_code', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('workstation', sa.String(length=120), nullable=False),
    sa.Column('checked_out_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=80), nullable=True),
    sa.Column('last_synced_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('returned_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_offline_checkout_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_checkout'))
    )
    op.create_index('ix_offline_checkout_laptop', 'offline_checkout', ['laptop_id'], unique=False)
    op.create_index(op.f('ix_offline_checkout_user_id'), 'offline_checkout', ['user_id'], unique=False)
    op.create_table('offline_checkout_case',
    sa.Column('checkout_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['fs_case.id'], name=op.f('fk_offline_checkout_case_case_id_fs_case')),
    sa.ForeignKeyConstraint(['checkout_id'], ['offline_checkout.id'], name=op.f('fk_offline_checkout_case_checkout_id_offline_checkout')),
    sa.PrimaryKeyConstraint('checkout_id', 'case_id', name=op.f('pk_offline_checkout_case'))
    )
    op.create_index(op.f('ix_offline_checkout_case_case_id'), 'offline_checkout_case', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_offline_checkout_case_case_id'), table_name='offline_checkout_case')
    op.drop_table('offline_checkout_case')
    op.drop_index(op.f('ix_offline_checkout_user_id'), table_name='offline_checkout')
    op.drop_index('ix_offline_checkout_laptop', table_name='offline_checkout')
    op.drop_table('offline_checkout')
    op.drop_table('offline_local_state')
    op.drop_index('ix_offline_local_conflict_row', table_name='offline_local_conflict')
    op.drop_table('offline_local_conflict')
    op.drop_table('offline_local_base')
