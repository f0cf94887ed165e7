"""The register's sort keys per case, and two indexes for its windows.

New table ``case_sort_key``: per case, the applicant's sort key
(``person.sort_key``, Swedish order) and personnummer, each indexed with the
case id, so the register can fetch keyset windows sorted by applicant or
personnummer without sorting every case (see models/sort_keys.py, which keeps
the rows current in the same transaction as the cases, members and persons).
The upgrade fills it from the existing rows with the same definition, written
out here so this revision stays what it was when the model code changes.
Also an index ``household_member (case_id, role, valid_to, valid_from,
person_id)``, which covers a window's applicant and household lookups. The
downgrade drops them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLDED = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "case_sort_key",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("applicant", FOLDED, nullable=False),
        sa.Column("personal_id", FOLDED, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["fs_case.id"],
            name=op.f("fk_case_sort_key_case_id_fs_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_sort_key")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_case_sort_key_applicant", "case_sort_key", ["applicant", "case_id"], unique=False
    )
    op.create_index(
        "ix_case_sort_key_personal_id", "case_sort_key", ["personal_id", "case_id"], unique=False
    )
    op.create_index(
        "ix_household_member_case_role",
        "household_member",
        ["case_id", "role", "valid_to", "valid_from", "person_id"],
        unique=False,
    )
    op.execute(
        "INSERT INTO case_sort_key (case_id, applicant, personal_id) "
        "SELECT c.id, coalesce(min(p.sort_key), ''), coalesce(min(p.personal_id), '') "
        "FROM fs_case c LEFT JOIN household_member hm ON hm.case_id = c.id "
        "AND hm.role = 'applicant' AND hm.valid_to IS NULL "
        "LEFT JOIN person p ON p.id = hm.person_id GROUP BY c.id"
    )
    # Fresh statistics, so the planners know the new indexes.
    op.execute("ANALYZE case_sort_key")
    op.execute("ANALYZE household_member")


def downgrade() -> None:
    op.drop_index("ix_household_member_case_role", table_name="household_member")
    op.drop_index("ix_case_sort_key_personal_id", table_name="case_sort_key")
    op.drop_index("ix_case_sort_key_applicant", table_name="case_sort_key")
    op.drop_table("case_sort_key")
