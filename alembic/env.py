"""Alembic environment: runs on a connection injected by Fokus, or on FOKUS_DATABASE_URL.

Batch mode is on so that SQLite can alter tables (copy-and-move).
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine

from alembic import context
from models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = os.environ.get("FOKUS_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("Ange databasen i FOKUS_DATABASE_URL")
    engine = create_engine(url)
    with engine.begin() as conn:
        _configure_and_run(conn)


if context.is_offline_mode():
    raise SystemExit("Fokus kör inte migreringar i offline-läge")
run_migrations_online()
