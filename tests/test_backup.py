"""``db backup FILE``: SQLite's online backup API while other connections write.

A copy must be the database as of one commit: a write transaction still open
elsewhere is not in it, and rows committed by a concurrent writer are in it
either whole or not at all — the audit log's hash chain in the copy verifies,
which it would not if the copy had caught the log between two commits.
"""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Unit
from services.audit import Actor, record, verify_chain
from services.backup import backup_database
from services.db import head_revision, open_database
from services.errors import NotFoundError, ValidationError
from services.users import get_or_create_unit
from tests.test_cli import fokus


def _check_copy(path: Path) -> None:
    """A self-contained, intact file at the current schema, readable by Fokus, 0600."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        raw.close()
    assert not Path(f"{path}-wal").exists()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_backup_while_another_connection_holds_a_write_transaction(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = open_database(sqlite_url)
    cli = Actor.cli()
    try:
        with db.begin() as s:
            get_or_create_unit(s, cli, "Försörjningsstöd Söder")
        holder = db.sessions()
        holder.begin()
        get_or_create_unit(holder, cli, "Ej sparad enhet")
        holder.flush()  # this connection now holds SQLite's write lock, uncommitted
        try:
            target = tmp_path / "kopior" / "fokus-kopia.db"
            target.parent.mkdir()
            result = fokus("db", "backup", str(target), "--url", sqlite_url)
            assert result.returncode == 0, result.stderr
            assert result.stdout.startswith(f"säkerhetskopia skriven: {target} (")
            assert f"schemaversion {head_revision()})" in result.stdout
            # The audit event waits for the write lock, which is still held: not logged.
            assert result.stderr == (
                "fokus: varning: säkerhetskopian kunde inte loggas i granskningsloggen "
                "(databasen var låst för skrivning); kopian är hel\n"
            )
        finally:
            holder.commit()
            holder.close()
        _check_copy(target)
        copy = open_database(f"sqlite:///{target}", auto_migrate_sqlite=False)  # at head
        try:
            with copy.begin() as s:
                assert set(s.scalars(select(Unit.name))) == {"Försörjningsstöd Söder"}
                assert verify_chain(s).ok
                assert not s.scalars(
                    select(AuditEvent).where(AuditEvent.action == "db_backup")
                ).first()
        finally:
            copy.dispose()
        with db.begin() as s:  # the open transaction was not disturbed by the backup
            assert "Ej sparad enhet" in set(s.scalars(select(Unit.name)))
            assert not s.scalars(select(AuditEvent).where(AuditEvent.action == "db_backup")).first()
        again = fokus("db", "backup", str(target.with_name("andra.db")), "--url", sqlite_url)
        assert again.returncode == 0 and again.stderr == ""
        with db.begin() as s:  # without a competing writer the backup is audited
            backups = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "db_backup")))
            assert len(backups) == 1 and backups[0].actor.startswith("cli:")
            assert "andra.db" not in backups[0].detail  # the size and revision, not the path
            assert verify_chain(s).ok
    finally:
        db.dispose()


def test_backups_taken_while_a_writer_commits_are_each_one_consistent_state(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = open_database(sqlite_url)
    cli = Actor.cli()
    try:
        with db.begin() as s:  # some bulk, so a backup is not instant
            for i in range(3000):
                record(s, cli, "case_list", rows=i, searched=False)
        stop = threading.Event()
        commits: list[int] = []
        errors: list[BaseException] = []

        def writer() -> None:
            own = open_database(sqlite_url)
            try:
                n = 0
                while not stop.is_set():
                    with own.begin() as s:  # several events per commit
                        for _ in range(5):
                            record(s, cli, "case_list", rows=n, searched=False)
                    n += 1
                    commits.append(n)
            except BaseException as exc:  # reported by the test below
                errors.append(exc)
            finally:
                own.dispose()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            copies = []
            for i in range(3):
                copies.append(backup_database(sqlite_url, tmp_path / f"kopia-{i}.db"))
        finally:
            stop.set()
            thread.join(timeout=60)
        assert not errors, errors
        assert len(commits) > 3  # the writer really committed while the copies were made
        counts = []
        for result in copies:
            _check_copy(result.path)
            assert result.revision == head_revision()
            copy = open_database(f"sqlite:///{result.path}", auto_migrate_sqlite=False)
            try:
                with copy.begin() as s:
                    assert verify_chain(s).ok  # no half commit, no torn page
                    n = s.scalar(select(func.count()).select_from(AuditEvent))
                    assert n is not None
                    counts.append(n)
            finally:
                copy.dispose()
        assert all((n - counts[0]) % 5 == 0 for n in counts)  # whole commits only
        assert counts == sorted(counts)
    finally:
        db.dispose()


def test_refusals(sqlite_url: str, tmp_path: Path) -> None:
    open_database(sqlite_url).dispose()
    existing = tmp_path / "finns.db"
    existing.write_bytes(b"other content")
    refused = fokus("db", "backup", str(existing), "--url", sqlite_url)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"fokus: fil: {existing} finns redan; säkerhetskopian skriver aldrig över\n"
    )
    assert existing.read_bytes() == b"other content"

    pg = fokus("db", "backup", str(tmp_path / "pg.db"), "--url", "postgresql+psycopg://x@h/fokus")
    assert pg.returncode == 1 and "pg_dump" in pg.stderr and pg.stderr.count("\n") == 1
    assert not (tmp_path / "pg.db").exists()

    missing = fokus("db", "backup", str(tmp_path / "k.db"), "--url", f"sqlite:///{tmp_path}/x.db")
    assert (missing.returncode, missing.stderr) == (
        2,
        f"fokus: databasfilen {tmp_path}/x.db finns inte\n",
    )
    with pytest.raises(NotFoundError, match="mappen .* finns inte"):
        backup_database(sqlite_url, tmp_path / "saknas" / "k.db")
    with pytest.raises(ValidationError, match="finns redan"):
        backup_database(sqlite_url, Path(sqlite_url.removeprefix("sqlite:///")))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
