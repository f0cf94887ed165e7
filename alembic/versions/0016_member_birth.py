"""Each household membership with the member's birth date, keyed by household.

New table ``member_birth``: per ``household_member`` row its case, period and
the person's birth date, with an index (case_id, birth_date, valid_from,
valid_to), so "a member under 18 belonging to the household then" — asked of
every long-term household by the dashboard and ``stats`` — is one seek that
reads only the household's children, instead of every member and then each
member's person (see models/member_births.py, which keeps the rows current in
the same transaction as the memberships and persons). The upgrade fills it
from the existing rows with the same definition, written out here so this
revision stays what it was when the model code changes. The downgrade drops it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_birth",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["fs_case.id"],
            name=op.f("fk_member_birth_case_id_fs_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["household_member.id"],
            name=op.f("fk_member_birth_member_id_household_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_birth")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_member_birth_case",
        "member_birth",
        ["case_id", "birth_date", "valid_from", "valid_to"],
        unique=False,
    )
    op.execute(
        "INSERT INTO member_birth (member_id, case_id, birth_date, valid_from, valid_to) "
        "SELECT hm.id, hm.case_id, p.birth_date, hm.valid_from, hm.valid_to "
        "FROM household_member hm JOIN person p ON p.id = hm.person_id"
    )
    # Fresh statistics, so the planners know the new table.
    op.execute("ANALYZE member_birth")


def downgrade() -> None:
    op.drop_index("ix_member_birth_case", table_name="member_birth")
    op.drop_table("member_birth")
