"""Where this workstation's Fokus finds its database: read, test and save the choice.

The administrator's settings dialog (issue 6, item 9) chooses between a local
SQLite file and a network PostgreSQL server (host, port, database). The
choice is stored as ``database_url`` in the settings file that
:func:`services.settings.load_settings` and :func:`services.db.resolve_url`
read; ``FOKUS_DATABASE_URL`` and ``--url`` still come first.

**No user name and no password is ever written**: a server URL is
``postgresql+psycopg://host:port/database``, and the desktop app connects
to it as the logged-in user's own database role with the password typed at
login (see docs/access.md). The connection test may use a user name and
password for that one test; they stay in memory.

The rest of the settings file is kept as it is: only the top-level
``database_url = …`` line is replaced (or added), the result is parsed
back before it is written, and the file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from services.db import (
    ResolvedUrl,
    create_db_engine,
    default_sqlite_url,
    describe_url,
    head_revision,
    resolve_url,
)
from services.errors import FokusError, ValidationError
from services.settings import load_settings, settings_path
from services.validation import Checker

Kind = Literal["local", "server"]
DEFAULT_PORT = 5432
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:]+\]?$")
_DATABASE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")


@dataclass(frozen=True)
class ConnectionChoice:
    """What the dialog shows and saves: a local file, or a server's host, port and database."""

    kind: Kind
    path: str = ""
    host: str = ""
    port: int = DEFAULT_PORT
    database: str = "fokus"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of "Testa anslutning": ``ok`` (usable as it is) and one Swedish line."""

    ok: bool
    message: str


def choice_from_url(url: str) -> ConnectionChoice:
    """The dialog's fields for ``url`` (a server URL's user name and password are dropped)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return ConnectionChoice("local", path=_path_of(default_sqlite_url()))
    if parsed.get_backend_name() == "postgresql":
        return ConnectionChoice(
            "server",
            host=parsed.host or "",
            port=parsed.port or DEFAULT_PORT,
            database=parsed.database or "",
        )
    return ConnectionChoice("local", path=parsed.database or "")


def _path_of(url: str) -> str:
    return make_url(url).database or ""


def current_choice() -> tuple[ConnectionChoice, ResolvedUrl]:
    """The settings file's choice (the default file when it has none), and what this
    running program actually uses (``--url``/``FOKUS_DATABASE_URL`` come first)."""
    saved = load_settings().database_url
    choice = choice_from_url(saved or default_sqlite_url())
    return choice, resolve_url(None)


def url_for(choice: ConnectionChoice) -> str:
    """The URL for ``choice``, or :class:`ValidationError` naming every bad field."""
    c = Checker()
    if choice.kind == "local":
        raw = c.text("fil", choice.path, max_len=1000, required=True)
        c.done()
        assert raw is not None
        path = Path(raw).expanduser()
        if not path.is_absolute():
            c.fail("fil", "ange hela sökvägen till databasfilen")
        elif path.is_dir():
            c.fail("fil", "är en mapp; välj eller skriv ett filnamn")
        elif not path.parent.is_dir():
            c.fail("fil", f"mappen {path.parent} finns inte")
        c.done()
        return f"sqlite:///{path}"
    host = c.text("värd", choice.host, max_len=253, required=True)
    if host is not None and not _HOST.match(host):
        c.fail("värd", "ogiltigt värdnamn (bokstäver, siffror, punkt och bindestreck)")
    port = choice.port
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        c.fail("port", "ska vara ett heltal 1–65535")
    database = c.text("databas", choice.database, max_len=63, required=True)
    if database is not None and not _DATABASE.match(database):
        c.fail("databas", "ogiltigt databasnamn (bokstäver, siffror, _ och -)")
    c.done()
    # No user name, no password: the app connects as the logged-in user's own role.
    return URL.create(
        "postgresql+psycopg", host=host, port=port, database=database
    ).render_as_string()


def check_connection(
    choice: ConnectionChoice, username: str = "", password: str = ""
) -> CheckResult:
    """Try ``choice`` and say in one line whether Fokus can use it. Slow (a network
    connection may take seconds): call it from a worker.

    For a server, ``username``/``password`` (a Fokus user's, optional) connect as that
    user's own database role for this test only; without them libpq's defaults apply.
    """
    url = url_for(choice)
    if choice.kind == "local":
        return _test_file(Path(make_url(url).database or ""))
    if username.strip():  # the user's own role; the password goes to the driver, not the URL
        from services.role_login import role_url

        return _test_server(role_url(url, username.strip().lower()), choice, password)
    return _test_server(url, choice, None)


def _revision_line(current: str | None, what: str, *, server: bool) -> CheckResult:
    head = head_revision()
    from services.db import _known_revisions

    if current == head:
        return CheckResult(
            True, f"Anslutningen fungerar: {what} har aktuell schemaversion ({head})"
        )
    if current is not None and current not in _known_revisions():
        return CheckResult(
            False,
            f"{what} har schemaversion {current}, nyare än det här programmet; uppdatera Fokus",
        )
    if server:
        if current is None:
            return CheckResult(
                False,
                f"Servern svarar, men {what} saknar Fokus-schema; "
                "IT kör: python main.py db upgrade",
            )
        return CheckResult(
            False,
            f"Servern svarar, men {what} har en äldre schemaversion ({current}, aktuell {head}); "
            "IT kör: python main.py db upgrade",
        )
    if current is None:
        return CheckResult(True, f"{what} är tom; Fokus skapar schemat när programmet startar")
    return CheckResult(
        True,
        f"{what} har en äldre schemaversion ({current}, aktuell {head}); den uppgraderas, "
        "efter en säkerhetskopia, när Fokus startar",
    )


def _test_file(path: Path) -> CheckResult:
    if not path.exists():
        return CheckResult(
            True, f"Filen {path} finns inte än; Fokus skapar den när programmet startar"
        )
    if not os.access(path, os.R_OK | os.W_OK):
        return CheckResult(False, f"Filen {path} kan inte läsas och skrivas av dig")
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            from alembic.runtime.migration import MigrationContext

            current = MigrationContext.configure(conn).get_current_revision()
    except (OperationalError, DBAPIError, sqlite3.DatabaseError) as exc:
        text = str(getattr(exc, "orig", exc)).lower()
        if "not a database" in text or "malformed" in text:
            return CheckResult(False, f"Filen {path} är ingen Fokus-databas (eller är skadad)")
        if "locked" in text:
            return CheckResult(False, f"Filen {path} är låst av ett annat program")
        return CheckResult(False, f"Filen {path} kan inte öppnas: {text.splitlines()[0]}")
    finally:
        engine.dispose()
    return _revision_line(current, f"databasfilen {path}", server=False)


def _test_server(url: str, choice: ConnectionChoice, password: str | None) -> CheckResult:
    where = f"{choice.host}:{choice.port}"
    engine = create_db_engine(url, password=password)
    try:
        with engine.connect() as conn:
            from alembic.runtime.migration import MigrationContext

            current = MigrationContext.configure(conn).get_current_revision()
    except (OperationalError, DBAPIError) as exc:
        return CheckResult(False, _server_error(exc, where, choice.database, url))
    finally:
        engine.dispose()
    return _revision_line(current, f"databasen {choice.database} på {where}", server=True)


def _server_error(exc: BaseException, where: str, database: str, url: str) -> str:
    text = str(getattr(exc, "orig", exc)).strip()
    lowered = text.lower()
    role = make_url(url).username
    if f'database "{database.lower()}" does not exist' in lowered or (
        "database" in lowered and "does not exist" in lowered
    ):
        return f"Servern {where} svarar, men databasen {database} finns inte där (fel databas?)"
    if "role" in lowered and "does not exist" in lowered:
        who = f"rollen {role}" if role else "din inloggning"
        return f"Servern {where} svarar, men {who} finns inte där; ange ditt Fokus-användarnamn"
    if "permission denied" in lowered:
        return (
            f"Servern {where} svarar, men din roll får inte läsa databasen {database} "
            "(saknade rättigheter eller gammalt schema; IT kör: python main.py db upgrade)"
        )
    if "password" in lowered or "authentication" in lowered:
        return (
            f"Servern {where} svarar, men inloggningen nekades; ange ditt Fokus-användarnamn "
            "och lösenord för att kontrollera databasen"
        )
    if "timeout" in lowered or "timed out" in lowered:
        return f"Servern {where} svarar inte (tidsgränsen gick ut)"
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return f"Värden {where.rsplit(':', 1)[0]} finns inte (kontrollera namnet)"
    if "refused" in lowered or "could not connect" in lowered or "connection" in lowered:
        return f"Servern {where} svarar inte (nere, eller fel värd eller port)"
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"Servern {where} kan inte nås ({describe_url(url)}): {first}"


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    import json

    return json.dumps(value, ensure_ascii=False)


def save_choice(choice: ConnectionChoice, path: Path | None = None) -> str:
    """Write ``choice`` as ``database_url`` in the settings file; returns the URL saved.

    Only that key's line changes; the file is parsed back before it replaces the old
    one (atomically), so a mistake can never leave a settings file Fokus cannot read.
    """
    url = url_for(choice)
    if make_url(url).password is not None or make_url(url).username is not None:
        raise ValidationError.single(
            "databas", "adressen får inte innehålla användare eller lösenord"
        )
    path = path or settings_path()
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        tomllib.loads(old)
    except tomllib.TOMLDecodeError as exc:
        raise FokusError(f"inställningsfilen {path} kan inte läsas: {exc}") from exc
    line = f"database_url = {_toml_string(url)}"
    lines = old.splitlines()
    out: list[str] = []
    replaced = False
    in_top = True
    for text in lines:
        stripped = text.strip()
        if stripped.startswith("["):
            if in_top and not replaced:
                out.append(line)
                replaced = True
            in_top = False
        if in_top and re.match(r"^database_url\s*=", stripped):
            if not replaced:
                out.append(line)
                replaced = True
            continue
        out.append(text)
    if not replaced:  # at the end of the top-level table
        out.append(line)
    new = "\n".join(out) + "\n"
    if tomllib.loads(new).get("database_url") != url:  # never write what would not read back
        raise FokusError(f"inställningsfilen {path} kunde inte uppdateras")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return url


class ConnectionSettingsService:
    """The settings dialog's operations (no database session: a file and a test connection)."""

    def current(self) -> tuple[ConnectionChoice, ResolvedUrl]:
        return current_choice()

    def check(
        self, choice: ConnectionChoice, username: str = "", password: str = ""
    ) -> CheckResult:
        return check_connection(choice, username, password)

    def save(self, choice: ConnectionChoice) -> str:
        return save_choice(choice)
