"""Alembic: one head, up and down on both backends, models equal the migrated schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from models import Base
from services.db import (
    alembic_config,
    create_db_engine,
    current_revision,
    downgrade,
    head_revision,
    open_database,
    upgrade,
)
from services.errors import SchemaMismatchError


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return str(request.getfixturevalue("pg_empty_url"))


def test_single_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1


def test_up_down_up_and_no_drift(empty_url: str) -> None:
    engine = create_db_engine(empty_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        downgrade(engine, "base")
        assert current_revision(engine) is None
        leftover = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert leftover == set()
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
            agencies = conn.execute(text("SELECT count(*) FROM agency")).scalar_one()
        assert diff == []
        assert agencies >= 19
    finally:
        engine.dispose()


def test_audit_event_is_insert_only(db_url: str) -> None:
    db = open_database(db_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_event (event_uuid, occurred_at, actor, workstation, action,"
                    " detail) VALUES (:u, CURRENT_TIMESTAMP, 'x', 'w', 'test', '{}')"
                ),
                {"u": "0" * 32 if db.is_sqlite else "00000000-0000-0000-0000-000000000000"},
            )
        for sql in ("UPDATE audit_event SET action = 'changed'", "DELETE FROM audit_event"):
            with pytest.raises(DBAPIError, match="skrivskyddad"), db.engine.begin() as conn:
                conn.execute(text(sql))
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT action FROM audit_event")).scalars().all() == ["test"]
    finally:
        db.dispose()


def test_sqlite_file_is_migrated_with_backup_only_when_needed(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    upgrade(engine)
    downgrade(engine, "base")  # an "old" file: tables gone, alembic_version left
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE keep_me (x)")  # something worth backing up
    con.commit()
    con.close()

    open_database(url).dispose()
    backups = list(tmp_path.glob("old.db.backup-*"))
    assert len(backups) == 1
    assert (
        sqlite3.connect(backups[0])
        .execute("SELECT name FROM sqlite_master WHERE name='keep_me'")
        .fetchone()
    )

    open_database(url).dispose()  # already at head: no second backup
    assert len(list(tmp_path.glob("old.db.backup-*"))) == 1


def test_newer_schema_is_refused(sqlite_url: str) -> None:
    db = open_database(sqlite_url)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffff'"))
    db.dispose()
    with pytest.raises(SchemaMismatchError, match="nyare"):
        open_database(sqlite_url)


@pytest.mark.postgres
def test_postgres_is_never_migrated_by_a_client(pg_empty_url: str) -> None:
    with pytest.raises(SchemaMismatchError, match="db upgrade"):
        open_database(pg_empty_url)
    engine = create_db_engine(pg_empty_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine, "0001")
        with pytest.raises(SchemaMismatchError, match="äldre schemaversion"):
            open_database(pg_empty_url)
        assert current_revision(engine) == "0001"
        upgrade(engine)
    finally:
        engine.dispose()
    open_database(pg_empty_url).dispose()
