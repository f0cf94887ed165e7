"""Shared fixtures: a fresh database per test, on SQLite and on a real PostgreSQL.

PostgreSQL tests create their own database (copied from a migrated template
made once per test session) and drop it afterwards. With CI=true they fail
when the server is unreachable; elsewhere they skip with the reason.
"""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from services.audit import Actor
from services.db import Database, create_db_engine, open_database, upgrade

PG_ADMIN_URL = os.environ.get(
    "FOKUS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _admin_conninfo() -> str:
    url = make_url(PG_ADMIN_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_reason() -> str | None:
    try:
        with psycopg.connect(_admin_conninfo(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL på {make_url(PG_ADMIN_URL).render_as_string()} nås inte: {exc}"


def _admin_exec(sql: str) -> None:
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _db_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's settings or writes to their data directory."""
    monkeypatch.setenv("FOKUS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("FOKUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FOKUS_DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def pg_available() -> bool:
    reason = _pg_reason()
    if reason is None:
        return True
    if IN_CI:
        pytest.fail(f"CI=true men {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_template(pg_available: bool) -> Iterator[str]:
    """A migrated database used as the template of every test database."""
    name = f"fokus_tmpl_{uuid.uuid4().hex[:10]}"
    _admin_exec(f'CREATE DATABASE "{name}"')
    engine = create_db_engine(_db_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_empty_url(pg_available: bool) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database (no schema)."""
    name = f"fokus_test_{uuid.uuid4().hex[:12]}"
    _admin_exec(f'CREATE DATABASE "{name}"')
    yield _db_url(name)
    _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """URL of a new PostgreSQL database at the current schema."""
    name = f"fokus_test_{uuid.uuid4().hex[:12]}"
    _admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _db_url(name)
    _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fokus.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database at the current schema, once on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fokus.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def actor() -> Actor:
    return Actor.cli()


@pytest.fixture
def unit_id(db: Database, actor: Actor) -> uuid.UUID:
    from services.users import get_or_create_unit

    with db.begin() as s:
        return get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id


@pytest.fixture(autouse=True)
def _nothing_left_frozen() -> Iterator[None]:
    """The app freezes start-up's objects out of garbage collection (ui.startup); in a test
    process that would keep every later test's leftovers of them from being collected."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _no_windows_left_behind() -> Iterator[None]:
    """Hide every window a test left on screen, so the next test in the same process
    starts with none: an app under test that runs its own event loop (the offline app,
    start-up) would otherwise find another test's window still shown and never end."""
    yield
    import sys

    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        return
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible():
            widget.hide()


@pytest.fixture
def runner(qtbot) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The app's background runner; at the end it waits for its tasks and delivers their
    late results to this test's widgets. A test file may define its own."""
    from PySide6.QtCore import QCoreApplication

    from ui.worker import BackgroundRunner

    r = BackgroundRunner()
    yield r
    r.wait()
    QCoreApplication.processEvents()
