"""Dashboard and statistics: long-term counts, thresholds, and the latest note per case.

``python main.py stats`` and the dashboard (Översikt) count households and
persons with 10 or more months in a year and, per open case, whether its
latest contact note asks for a follow-up. At 100,000 cases both walked far
more rows than they count:

* the support-year aggregate's year index is now (year, months, subject,
  mask), so "10 or more months in year Y" is a range of the index instead of
  every row of the year;
* each person-year row gains ``prior_mask``, the months of the three years
  before it, so the thresholds reached in the reference month (jobbstimulans,
  the aktivitetskrav, 27 of 36 months) are read from the person's row of
  the reference month's year alone, without grouping four years of rows;
* contact_entry's (case_id, occurred_at) index gains created_at,
  follow_up_on and id, so a case's latest note, its follow-up date and
  whether it was corrected are read from indexes alone (the tie on
  occurred_at is broken by created_at, as the follow-up list does) instead
  of from the wide note rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Each person-year row's months of the three years before it, as one 36-bit mask
# (what models.stats.prior_masks_update computes for the rows it refreshes).
FILL_PRIOR_MASKS = """
UPDATE support_year_person SET prior_mask = (
    SELECT CAST(COALESCE(SUM(
        CAST(o.month_mask AS BIGINT) << (12 * (o.year - support_year_person.year + 3))
    ), 0) AS BIGINT)
    FROM support_year_person AS o
    WHERE o.person_id = support_year_person.person_id
      AND o.year >= support_year_person.year - 3
      AND o.year < support_year_person.year
)
"""


def upgrade() -> None:
    op.drop_index("ix_support_year_case_year", table_name="support_year_case")
    op.create_index(
        "ix_support_year_case_months",
        "support_year_case",
        ["year", "months", "case_id", "month_mask"],
    )
    op.add_column(
        "support_year_person",
        sa.Column("prior_mask", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute(FILL_PRIOR_MASKS)
    op.drop_index("ix_support_year_person_year", table_name="support_year_person")
    op.create_index(
        "ix_support_year_person_months",
        "support_year_person",
        ["year", "months", "person_id", "month_mask", "prior_mask"],
    )
    op.drop_index("ix_contact_entry_case_occurred", table_name="contact_entry")
    op.create_index(
        "ix_contact_entry_case_latest",
        "contact_entry",
        ["case_id", "occurred_at", "created_at", "follow_up_on", "id"],
    )
    # Fresh statistics for the new indexes (sampled on SQLite, as seed-demo does).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA analysis_limit=2000")
    for table in ("support_year_case", "support_year_person", "contact_entry"):
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    op.drop_index("ix_contact_entry_case_latest", table_name="contact_entry")
    op.create_index("ix_contact_entry_case_occurred", "contact_entry", ["case_id", "occurred_at"])
    op.drop_index("ix_support_year_person_months", table_name="support_year_person")
    op.drop_column("support_year_person", "prior_mask")
    op.create_index(
        "ix_support_year_person_year",
        "support_year_person",
        ["year", "person_id", "months", "month_mask"],
    )
    op.drop_index("ix_support_year_case_months", table_name="support_year_case")
    op.create_index(
        "ix_support_year_case_year",
        "support_year_case",
        ["year", "case_id", "months", "month_mask"],
    )
