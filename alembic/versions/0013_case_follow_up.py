"""Each case's unanswered follow-up date, for the dashboard's and the list's counts.

New table ``case_follow_up``: one row per case whose latest contact note
(newest ``occurred_at``, then newest ``created_at``) has a follow-up date and
is corrected by no note — the date and the note — indexed by date, so "due by
today" is an index range instead of one probe per case for its latest note
(see models/follow_ups.py, which keeps the rows current in the same
transaction as the notes). The upgrade fills it from the existing notes with
the same definition, written out here so this revision stays what it was when
the model code changes. The downgrade drops it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_follow_up",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["fs_case.id"],
            name=op.f("fk_case_follow_up_case_id_fs_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_follow_up")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_case_follow_up_due", "case_follow_up", ["due_on", "case_id"], unique=False)
    op.execute(
        "INSERT INTO case_follow_up (case_id, due_on, note_id) "
        "SELECT latest.case_id, n.follow_up_on, latest.note_id FROM ("
        "SELECT c.id AS case_id, (SELECT e.id FROM contact_entry e WHERE e.case_id = c.id "
        "ORDER BY e.occurred_at DESC, e.created_at DESC LIMIT 1) AS note_id FROM fs_case c"
        ") AS latest JOIN contact_entry n ON n.id = latest.note_id "
        "WHERE n.follow_up_on IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM contact_entry k WHERE k.corrects_id = latest.note_id)"
    )
    # Fresh statistics, so the planners know the new table.
    op.execute("ANALYZE case_follow_up")


def downgrade() -> None:
    op.drop_index("ix_case_follow_up_due", table_name="case_follow_up")
    op.drop_table("case_follow_up")
