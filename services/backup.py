"""``python main.py db backup FILE``: a consistent copy of an SQLite database while it is in use.

The copy is made with SQLite's online backup API (``sqlite3.Connection.backup``)
in a single step: the source is read inside one read transaction, so the copy
is the database as of one commit, whatever other connections are writing
(in WAL mode they are not even blocked; an open write transaction elsewhere is
simply not in the copy). A plain file copy could catch a half-written page or
miss the WAL.

The copy is written to a temporary file in the target's directory (created
0600: the file holds secret case data), switched to a self-contained
rollback-journal file, checked with ``PRAGMA quick_check``, flushed to disk and
only then given its name, with a hard link, which fails instead of replacing a
file that appeared meanwhile: an existing FILE is never overwritten, and a
crash leaves no half-written FILE behind.

A PostgreSQL database is refused: its backup is the server's business
(``pg_dump``, see docs/access.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.exc import OperationalError

from services.audit import DB_BACKUP, Actor, record
from services.errors import DatabaseUnavailableError, FokusError, NotFoundError, ValidationError

log = logging.getLogger(__name__)

PG_DUMP_HINT = (
    "db backup gäller en SQLite-fil; en PostgreSQL-databas säkerhetskopieras på servern "
    "med pg_dump (se docs/access.md)"
)


@dataclass(frozen=True)
class BackupResult:
    """What was written: the file, its size and the copy's schema revision."""

    path: Path
    size_bytes: int
    revision: str | None
    audited: bool | None = None  # None: not asked to audit

    def summary(self) -> str:
        size = f"{self.size_bytes / 1_000_000:.1f} MB"
        revision = f"schemaversion {self.revision}" if self.revision else "utan Fokus-schema"
        return f"säkerhetskopia skriven: {self.path} ({size}, {revision})"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the file itself is synced
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exists(target: Path) -> ValidationError:
    return ValidationError.single(
        "fil", f"{target} finns redan; säkerhetskopian skriver aldrig över"
    )


def copy_sqlite(source: Path, target: Path) -> BackupResult:
    """Copy the SQLite file ``source`` to the new file ``target`` (see the module doc)."""
    if not source.is_file():
        raise NotFoundError(f"databasfilen {source} finns inte")
    target = target.absolute()
    if target.exists() or target.is_symlink():
        raise _exists(target)
    if not target.parent.is_dir():
        raise NotFoundError(f"mappen {target.parent} finns inte")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)  # mkstemp made it 0600; sqlite3 opens it by name
    tmp = Path(tmp_name)
    try:
        try:
            src = sqlite3.connect(source, timeout=30)
        except sqlite3.Error as exc:
            raise DatabaseUnavailableError(f"databasfilen {source} kan inte öppnas: {exc}") from exc
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)  # pages=-1: everything in one step, one consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                check = dst.execute("PRAGMA quick_check").fetchone()
                if check is None or check[0] != "ok":
                    raise DatabaseUnavailableError(
                        f"säkerhetskopian av {source} klarade inte kontrollen: {check}"
                    )
                revision = _revision(dst)
            finally:
                dst.close()
        except sqlite3.Error as exc:
            raise DatabaseUnavailableError(
                f"databasfilen {source} kan inte säkerhetskopieras: {exc}"
            ) from exc
        finally:
            src.close()
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        try:
            os.link(tmp, target)  # atomic, and never replaces an existing file
        except FileExistsError:
            raise _exists(target) from None
        _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return BackupResult(target, target.stat().st_size, revision)


def _revision(conn: sqlite3.Connection) -> str | None:
    has = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if has is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def backup_database(url: str, target: Path, actor: Actor | None = None) -> BackupResult:
    """``db backup``: the database at ``url`` (SQLite only) copied to the new file ``target``.

    A copy of everything is an export of everything: with ``actor`` it is audited in
    the source database (action ``db_backup``: size and schema revision, not the
    path), after the copy — so the copy itself does not hold its own event. A file at
    another schema than this program's is copied but not written to.
    """
    from services.db import head_revision, open_database, sqlite_path

    path = sqlite_path(url)
    if path is None:
        if url.startswith("postgresql"):
            raise ValidationError.single("--url", PG_DUMP_HINT)
        raise ValidationError.single("--url", "db backup gäller en SQLite-fil")
    result = copy_sqlite(path, target)
    if actor is None or result.revision != head_revision():
        return result
    try:
        db = open_database(url, auto_migrate_sqlite=False)
        try:
            with db.begin() as s:
                record(s, actor, DB_BACKUP, size_bytes=result.size_bytes, revision=result.revision)
        finally:
            db.dispose()
    except (OperationalError, FokusError) as exc:
        # Another connection held the write lock past the busy timeout (5 s). The copy is
        # good and is kept; the caller says that it was not logged.
        log.info("db backup not audited: %s", type(exc).__name__)
        return replace(result, audited=False)
    return replace(result, audited=True)
