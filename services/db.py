"""Opening the database: URL precedence, engine set-up, schema checks, migration.

SQLite (the embedded default) is migrated automatically when opened, after a
backup copy, and only when a migration is actually applied. A PostgreSQL
database is never migrated by a client: ``python main.py db upgrade`` does it.
"""

from __future__ import annotations

import ast
import functools
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from services.errors import (
    ConflictError,
    ConnectionLostError,
    DatabaseUnavailableError,
    FokusError,
    SchemaMismatchError,
)
from services.settings import Settings, data_dir, load_settings

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "alembic.ini"


@dataclass(frozen=True)
class ResolvedUrl:
    url: str
    source: str  # "--url", "FOKUS_DATABASE_URL", "inställningsfilen" or "standard"


def default_sqlite_url() -> str:
    return f"sqlite:///{data_dir() / 'fokus.db'}"


def resolve_url(cli_url: str | None, settings: Settings | None = None) -> ResolvedUrl:
    """``--url``, then ``FOKUS_DATABASE_URL``, then the settings file, then the default file."""
    if cli_url:
        return ResolvedUrl(cli_url, "--url")
    env = os.environ.get("FOKUS_DATABASE_URL")
    if env:
        return ResolvedUrl(env, "FOKUS_DATABASE_URL")
    settings = settings if settings is not None else load_settings()
    if settings.database_url:
        return ResolvedUrl(settings.database_url, "inställningsfilen")
    return ResolvedUrl(default_sqlite_url(), "standard")


def describe_url(url: str) -> str:
    """The URL without its password, safe for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<ogiltig adress>"


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailableError(f"ogiltig databasadress: {url!r}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUnavailableError(
            f"databastypen {parsed.get_backend_name()!r} stöds inte (sqlite eller postgresql)"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_db_engine(url: str, *, password: str | None = None) -> Engine:
    """An engine with Fokus's connection settings (no schema checks).

    ``password`` (PostgreSQL) is handed to the driver on every connect instead of
    being part of the URL, so a user's own password never appears in ``engine.url``,
    in :attr:`Database.url` or in any message built from them.
    """
    parsed = _parse(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, hide_parameters=True)
            event.listen(engine, "connect", _sqlite_on_connect)
            return engine
        # pool_pre_ping: a pooled connection that died while idle (server restart, network)
        # is replaced at checkout instead of failing the next action; a connection that
        # dies *during* an action is detected by SQLAlchemy, which then discards the whole
        # pool. The TCP keepalives notice a silently dropped network within about a minute
        # instead of the operating system's two hours.
        return create_engine(
            parsed,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={
                "connect_timeout": 5,
                "application_name": "fokus",
                # Per connection, for every role:
                # * no JIT compilation: Fokus's statements are short, and compiling the
                #   dashboard's aggregates cost more than it saved;
                # * a plan for each statement's own values: psycopg prepares a statement
                #   run five times, and PostgreSQL's generic plan for it then served
                #   every search text alike (a rare name's window 5 -> 175 ms; the
                #   dashboard 900 -> 660 ms with custom plans);
                # * no parallel workers: an interactive client on a shared server; their
                #   start-up made walks of a few thousand rows cost 50-110 ms.
                # Measured at 100,000 cases: docs/performance.md.
                "options": "-c jit=off -c plan_cache_mode=force_custom_plan"
                " -c max_parallel_workers_per_gather=0",
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
                **({"password": password} if password is not None else {}),
            },
        )
    except NoSuchModuleError as exc:
        raise DatabaseUnavailableError(f"databasdrivrutinen saknas: {exc}") from exc


# SQLSTATE classes of a broken connection: 08 connection exception, 57P operator
# intervention (57P01 admin shutdown = pg_terminate_backend, 57P02 crash, 57P03 starting up).
_CONNECTION_SQLSTATES = ("08", "57P")
# A connection attempt the server answered with a refusal (libpq gives no SQLSTATE then):
# not a lost connection, and trying again will not help.
_REFUSALS = (
    "authentication failed",
    "not permitted to log in",
    "no password supplied",
    "does not exist",
    "pg_hba.conf",
    "too many clients",
    "remaining connection slots",
)


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the database server could not be reached or the connection
    broke (as opposed to an error in the statement: those are bugs or rule violations)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig: BaseException | None = exc.orig
    else:
        orig = exc
    psycopg = sys.modules.get("psycopg")  # only loaded when PostgreSQL is in use
    if psycopg is None or not isinstance(orig, psycopg.OperationalError):
        return False
    state = getattr(orig, "sqlstate", None)
    if state is None:  # libpq's own failure: no connection, unless the server said no
        return not any(marker in str(orig).lower() for marker in _REFUSALS)
    return str(state).startswith(_CONNECTION_SQLSTATES)


def explain_db_error(exc: BaseException, url: str) -> str:
    """One Swedish line for a connection problem."""
    text = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0] if str(exc) else ""
    where = describe_url(url)
    lowered = text.lower()
    if "file is not a database" in lowered or "malformed" in lowered:
        return f"databasfilen är skadad eller krypterad ({where})"
    if "database is locked" in lowered:
        return f"databasfilen är låst av ett annat program ({where})"
    if "unable to open database" in lowered:
        return f"databasfilen kan inte öppnas ({where})"
    if (
        "authentication" in lowered
        or "not permitted to log in" in lowered
        or ('role "' in lowered and "does not exist" in lowered)
    ):
        return f"inloggningen till databasen misslyckades ({where})"
    if "does not exist" in lowered and "database" in lowered:
        return f"databasen finns inte ({where})"
    return f"databasen kan inte nås ({where}): {text}"


def alembic_config(connection: Any | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except (OperationalError, DBAPIError, sqlite3.DatabaseError) as exc:
        raise DatabaseUnavailableError(explain_db_error(exc, str(engine.url))) from exc


_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.+?)\s*$", re.MULTILINE)


@functools.cache
def head_from_files() -> str | None:
    """The head revision read from the migration files' text, without loading Alembic.

    Every start-up checks the database's revision against the head; Alembic
    (and executing every migration script) is a tenth of the CPU time to the
    login dialog. The files state ``revision = "…"`` and ``down_revision =
    "…"`` as literals; None when any file does not, or there is not exactly
    one head, and the caller then asks Alembic (:func:`head_revision`, which a
    test compares with this).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (ROOT / "alembic" / "versions").glob("*.py"):
        text_ = path.read_text("utf-8")
        found: dict[str, str] = {m[1]: m[2] for m in _REVISION_LINE.finditer(text_)}
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found["down_revision"])
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
            return None
        revisions.add(revision)
        if down is not None:
            parents.add(down)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """``alembic_version``'s one row, read with plain SQL; None when it cannot be read
    so simply (no table, no row, several rows): the caller then asks Alembic."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except (OperationalError, DBAPIError, sqlite3.DatabaseError):
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
        from services.pg_roles import refresh_access_control  # PostgreSQL RLS and grants

        refresh_access_control(conn)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def backup_sqlite_file(engine: Engine) -> Path | None:
    """Copy the SQLite file (consistently, through the backup API) before migrating."""
    from services.backup import copy_sqlite

    path = engine.url.database
    if not path or path == ":memory:" or not Path(path).exists():
        return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return copy_sqlite(Path(path), Path(f"{path}.backup-{stamp}")).path


@dataclass
class Database:
    """An open, schema-checked database and its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on error.

        A connection that breaks (or cannot be made) becomes a
        :class:`ConnectionLostError`: the server rolled the transaction back, so
        nothing of it is saved and the caller may try the same work again. A new
        connection the server refuses (credentials, too many connections) is a
        :class:`DatabaseUnavailableError` with one line.
        """
        try:
            with self.sessions.begin() as session:
                yield session
        except Exception as exc:
            self._raise_for(exc)
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A Core connection for reads that need no ORM (the register's hot windows).

        No session. The transaction the driver began is committed, not rolled
        back: it wrote nothing, and after a rollback the statements psycopg had
        prepared in it were gone from ``pg_prepared_statements`` (the register's
        window reuses its plan, see services.register; tested). Errors as with
        :meth:`begin`.
        """
        try:
            with self.engine.connect() as conn:
                yield conn
                conn.commit()
        except Exception as exc:
            self._raise_for(exc)
            raise

    def _raise_for(self, exc: Exception) -> None:
        """Raise the one-line error a broken or refused connection means (else nothing)."""
        if is_connection_error(exc):
            log.warning("database connection lost: %s", type(exc).__name__)
            raise ConnectionLostError() from exc
        if isinstance(exc, OperationalError) and exc.statement is None:
            # A new connection was refused for another reason (the account's login
            # was disabled or its password changed meanwhile, the server is full).
            raise DatabaseUnavailableError(explain_db_error(exc, self.url)) from exc

    @contextmanager
    def action(self, what: str = "posten") -> Iterator[Session]:
        """One user action: like :meth:`begin`, and a row that another user changed
        between our version check and our write becomes a :class:`ConflictError`."""
        try:
            with self.begin() as session:
                yield session
        except StaleDataError as exc:
            raise ConflictError(what, -1, -1) from exc

    def ping(self) -> None:
        """Ask the server for ``SELECT 1`` on a (new, if need be) pooled connection.

        Raises :class:`ConnectionLostError` with one Swedish line when the server
        cannot be reached; blocks at most the connect timeout (5 s), so call it
        from a worker, never from the GUI thread.
        """
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, sqlite3.DatabaseError) as exc:
            raise ConnectionLostError(explain_db_error(exc, self.url)) from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _refuse_unknown(current: str | None) -> None:
    if current is not None and current not in _known_revisions():
        raise SchemaMismatchError(
            f"databasen har schemaversion {current}, som är nyare än den här versionen av "
            "Fokus; uppdatera programmet"
        )


def migrate(engine: Engine) -> tuple[str | None, str, Path | None]:
    """Upgrade to head; returns (revision before, revision after, backup file or None).

    An SQLite file that already holds tables is copied first, and only when a
    migration is actually applied.
    """
    current = current_revision(engine)
    head = head_revision()
    _refuse_unknown(current)
    if current == head:
        return current, head, None
    backup = None
    if engine.dialect.name == "sqlite" and inspect(engine).get_table_names():
        backup = backup_sqlite_file(engine)
        log.info("backup before migration: %s", backup)
    upgrade(engine)
    return current, head, backup


def check_schema(engine: Engine, *, auto_migrate_sqlite: bool) -> Path | None:
    """Raise :class:`SchemaMismatchError` unless the schema is at head.

    An SQLite file behind head (or empty) is migrated when ``auto_migrate_sqlite``
    is set, after a backup when it already holds data; returns the backup path.
    """
    fast_head = head_from_files()
    if fast_head is not None and _stored_revision(engine) == fast_head:
        return None  # the usual case, decided without loading Alembic
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return None
    _refuse_unknown(current)
    if engine.dialect.name == "sqlite" and auto_migrate_sqlite:
        return migrate(engine)[2]
    if current is None:
        raise SchemaMismatchError("databasen saknar Fokus-schema; kör: python main.py db upgrade")
    raise SchemaMismatchError(
        f"databasen har en äldre schemaversion ({current}, aktuell {head}); "
        "kör: python main.py db upgrade"
    )


def open_database(
    url: str,
    *,
    auto_migrate_sqlite: bool = True,
    check: bool = True,
    password: str | None = None,
) -> Database:
    """Connect, check the schema (migrating SQLite files), return a :class:`Database`."""
    engine = create_db_engine(url, password=password)
    try:
        with engine.connect():
            pass
        if check:
            check_schema(engine, auto_migrate_sqlite=auto_migrate_sqlite)
    except FokusError:
        engine.dispose()
        raise
    except (OperationalError, DBAPIError, sqlite3.DatabaseError) as exc:
        engine.dispose()
        raise DatabaseUnavailableError(explain_db_error(exc, url)) from exc
    sessions = sessionmaker(engine, expire_on_commit=False)
    return Database(engine=engine, sessions=sessions, url=url)


def sqlite_path(url: str) -> Path | None:
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)
