"""Caseload counts from one index: (status, caseworker_id) gains is_focus.

The dashboard and ``stats`` count open cases, and of them focus cases, per
caseworker. With full planner statistics SQLite judged the is_focus index
unselective (two values) and the status index no better than walking the
caseworker index in order, so both counts read every case row (0.2–0.45 s
CPU at 100,000 cases on a loaded machine). Grouped by (status, caseworker_id)
over this covering index the counts are one ordered pass without a table
read, whatever the statistics say.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_fs_case_status_caseworker", table_name="fs_case")
    op.create_index(
        "ix_fs_case_status_caseworker", "fs_case", ["status", "caseworker_id", "is_focus"]
    )


def downgrade() -> None:
    op.drop_index("ix_fs_case_status_caseworker", table_name="fs_case")
    op.create_index("ix_fs_case_status_caseworker", "fs_case", ["status", "caseworker_id"])
