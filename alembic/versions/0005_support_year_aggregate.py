"""Months with support per household and per person and calendar year (an aggregate).

New tables ``support_year_case`` and ``support_year_person``: one row per
subject and year with the number of months and a 12-bit mask of them (bit 0
= January), so that the dashboard and ``stats`` count a register of 100,000
cases in well under a second (see models/stats.py, which keeps the rows
current in the same transaction as the months they sum). The upgrade fills
them from the existing ``support_month`` and ``household_member`` rows with
the same definition as models/stats.py, written out here so that this
revision stays what it was when later model code changes. Also two covering
indexes for the yearly counts: ``person (id, birth_date, mental_ill_health)`` (adults, priorities) and
``household_member (case_id, person_id, valid_from, valid_to)`` (households
with children). The downgrade drops the two tables and the two indexes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('support_year_case',
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('month_mask', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['fs_case.id'], name=op.f('fk_support_year_case_case_id_fs_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'year', name=op.f('pk_support_year_case')),
    sqlite_with_rowid=False,
    )
    op.create_index('ix_support_year_case_year', 'support_year_case', ['year', 'case_id', 'months', 'month_mask'], unique=False)
    op.create_table('support_year_person',
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('month_mask', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_support_year_person_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'year', name=op.f('pk_support_year_person')),
    sqlite_with_rowid=False,
    )
    op.create_index('ix_support_year_person_year', 'support_year_person', ['year', 'person_id', 'months', 'month_mask'], unique=False)
    op.create_index(
        'ix_person_support_stats', 'person', ['id', 'birth_date', 'mental_ill_health'], unique=False
    )
    op.create_index(
        'ix_household_member_case_period',
        'household_member',
        ['case_id', 'person_id', 'valid_from', 'valid_to'],
        unique=False,
    )
    _fill()


def _fill() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        year = "CAST(strftime('%Y', {0}) AS INTEGER)"
        month = "CAST(strftime('%m', {0}) AS INTEGER)"
    else:
        year = 'CAST(EXTRACT(year FROM {0}) AS INTEGER)'
        month = 'CAST(EXTRACT(month FROM {0}) AS INTEGER)'
    y = year.format('sm.month')
    bit = f"(1 << ({month.format('sm.month')} - 1))"

    def index(col: str) -> str:
        return f'({year.format(col)} * 12 + {month.format(col)})'

    op.execute(
        'INSERT INTO support_year_case (case_id, year, months, month_mask) '
        f'SELECT sm.case_id, {y}, count(*), sum({bit}) FROM support_month sm '
        f'GROUP BY sm.case_id, {y}'
    )
    op.execute(
        'INSERT INTO support_year_person (person_id, year, months, month_mask) '
        f'SELECT hm.person_id, {y}, count(DISTINCT sm.month), sum(DISTINCT {bit}) '
        'FROM household_member hm JOIN support_month sm ON sm.case_id = hm.case_id '
        'WHERE (hm.valid_to IS NULL OR hm.valid_to >= sm.month) '
        f"AND (hm.valid_from <= sm.month OR {index('hm.valid_from')} <= {index('sm.month')}) "
        f'GROUP BY hm.person_id, {y}'
    )


def downgrade() -> None:
    op.drop_index('ix_household_member_case_period', table_name='household_member')
    op.drop_index('ix_person_support_stats', table_name='person')
    op.drop_index('ix_support_year_person_year', table_name='support_year_person')
    op.drop_table('support_year_person')
    op.drop_index('ix_support_year_case_year', table_name='support_year_case')
    op.drop_table('support_year_case')
