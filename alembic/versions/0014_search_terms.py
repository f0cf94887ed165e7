"""The register's name search as an index: table ``search_term``.

One row per (name term, case) for every person who is or was a member of the
case's household, with the case number: ``PRIMARY KEY (term, number_year,
number_seq, case_id)`` (without rowid on SQLite), so a name prefix is one
range of the key whose entries carry the case number the register orders by
(see models/search_terms.py, which keeps the rows current in the same
transaction as the persons, members and case numbers, and services/search.py).
A term is a person's ``search_full`` or ``search_full_rev``, or its
``search_first`` / ``search_last`` when that is not a prefix of the full form
it begins. The upgrade fills the table with that definition, written out here
so this revision stays what it was when the model code changes; the
downgrade drops it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLDED = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")


def _part(term: str, where: str = "") -> str:
    return (
        f"SELECT {term} AS term, c.number_year, c.number_seq, c.id "
        "FROM household_member hm JOIN person p ON p.id = hm.person_id "
        f"JOIN fs_case c ON c.id = hm.case_id {where}"
    )


def upgrade() -> None:
    op.create_table(
        "search_term",
        sa.Column("term", FOLDED, nullable=False),
        sa.Column("number_year", sa.Integer(), nullable=False),
        sa.Column("number_seq", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["fs_case.id"],
            name=op.f("fk_search_term_case_id_fs_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "term", "number_year", "number_seq", "case_id", name=op.f("pk_search_term")
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_search_term_case_id", "search_term", ["case_id"], unique=False)
    parts = [
        _part("p.search_full"),
        _part("p.search_full_rev"),
        _part(
            "p.search_first",
            "WHERE substr(p.search_full, 1, length(p.search_first)) != p.search_first",
        ),
        _part(
            "p.search_last",
            "WHERE substr(p.search_full_rev, 1, length(p.search_last)) != p.search_last",
        ),
    ]
    op.execute(
        "INSERT INTO search_term (term, number_year, number_seq, case_id) "
        + " UNION ".join(parts)
        + " ORDER BY 1"
    )
    op.execute("ANALYZE search_term")


def downgrade() -> None:
    op.drop_index("ix_search_term_case_id", table_name="search_term")
    op.drop_table("search_term")
