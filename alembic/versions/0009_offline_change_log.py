"""Offline laptops: a change log on the laptop and central change stamps in the base.

``offline_local_change`` lists the rows written on a laptop since its last
sync (filled by triggers the laptop file gets when it is opened, see
services.offline.install_change_log), and ``offline_local_base.stamp``
keeps central's change stamp of each row as last agreed (PostgreSQL's
xmin). Together they let a sync read only the rows that changed on either
side instead of every row of every checked-out case (docs/offline.md).

A laptop file made before this revision gets one ``'*'`` entry: its first
sync after the upgrade compares every row, as before. Downgrading drops the
triggers, the table and the column.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offline_local_change",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("row_key", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_offline_local_change")),
    )
    with op.batch_alter_table("offline_local_base") as batch_op:
        batch_op.add_column(sa.Column("stamp", sa.String(length=32), nullable=True))
    # Covering: the sync reads every key and stamp without touching the JSON pages.
    op.create_index(
        "ix_offline_local_base_stamp", "offline_local_base", ["table_name", "row_key", "stamp"]
    )
    # A laptop copy made before the change log: compare everything once.
    op.execute(
        "INSERT INTO offline_local_change (table_name, row_key) "
        "SELECT '*', '*' FROM offline_local_state"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        names = bind.execute(
            sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'offline_change_%'"
            )
        ).scalars()
        for name in list(names):
            op.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    op.drop_index("ix_offline_local_base_stamp", table_name="offline_local_base")
    with op.batch_alter_table("offline_local_base") as batch_op:
        batch_op.drop_column("stamp")
    op.drop_table("offline_local_change")
