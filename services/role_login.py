"""Logging in to a PostgreSQL server as the user's own database role.

On a shared server the desktop app does not connect with a configured
account: the URL names only the server and database
(``postgresql+psycopg://host:port/database``, what the settings dialog
saves), and the login dialog's user name and password open the connection
as the user's own LOGIN role (``fokus_u_<username>``, made by ``user add``).
So the **server** checks the password (SCRAM), and every statement the app
runs afterwards is subject to that role's grants and row-level security.

The password is handed to the driver for each new connection of the pool
(``open_database(password=…)``), never put in the URL: it is kept only in
the engine's memory, never written to disk, and no URL or message shows it.

What Fokus can and cannot check here:

* a wrong password, an unknown user name and a role without LOGIN are
  refused by the server before Fokus has a connection; the first two give
  the same message (nothing is revealed about which accounts exist), and
  "not permitted to log in" — said by the server only after a correct
  password — says the account is deactivated;
* a failed attempt cannot be counted or audited by Fokus (it has no
  connection to write with): the server's own protection applies
  (``auth_delay``, log monitoring; see docs/access.md);
* after the connection is made the role is mapped to its active Fokus
  account (:func:`services.pg_roles.connected_user`, which audits the
  login); a role without one, or an account still locked out, is refused
  and the connection closed.

A URL that names a database user (e.g. the owner's, for IT's own work and
the tests) keeps the older way: that user connects and Fokus checks its own
argon2id password (:func:`services.auth.authenticate`).
"""

from __future__ import annotations

import contextlib

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from models import utcnow
from models.codes import Role
from services.audit import Actor, record
from services.auth import LOCK_MINUTES, WRONG_CREDENTIALS, LoginError, SessionUser, authenticate
from services.db import Database, open_database
from services.errors import DatabaseUnavailableError
from services.pg_roles import LOGIN_PREFIX, connected_user, db_role_name, session_account

INACTIVE = "kontot är inaktiverat; kontakta administratören"


def is_per_user_url(url: str) -> bool:
    """A PostgreSQL URL without a database user: the app logs in as each user's own role."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    return parsed.get_backend_name() == "postgresql" and not parsed.username


def role_url(server_url: str, username: str) -> str:
    """The server URL with the user's own role as database user (no password in it)."""
    parsed = make_url(server_url)
    return URL.create(
        parsed.drivername,
        username=db_role_name(username),
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)


def _refusal(exc: DatabaseUnavailableError) -> LoginError | None:
    """The login refusal a connection error stands for, or None when it is not one
    (the server is down, the database is missing: those stay as they are)."""
    cause = exc.__cause__
    orig = getattr(cause, "orig", cause)
    state = str(getattr(orig, "sqlstate", "") or "")
    text = str(orig or "").lower()
    if "not permitted to log in" in text:
        return LoginError(INACTIVE)
    if (
        state in ("28P01", "28000")
        or "password authentication failed" in text
        or "no password supplied" in text
        or ('role "' in text and "does not exist" in text)
    ):
        return LoginError(WRONG_CREDENTIALS)
    return None


def connect_as_user(server_url: str, username: str, password: str) -> Database:
    """A :class:`Database` whose every connection is the user's own role with ``password``.

    Raises :class:`LoginError` when the server refuses the credentials, or
    :class:`DatabaseUnavailableError` / :class:`SchemaMismatchError` as
    :func:`open_database` does.
    """
    wanted = (username or "").strip().lower()
    if not wanted:
        raise LoginError("ange ditt användarnamn")
    try:
        return open_database(
            role_url(server_url, wanted), auto_migrate_sqlite=False, password=password or ""
        )
    except DatabaseUnavailableError as exc:
        refusal = _refusal(exc)
        if refusal is not None:
            raise refusal from None
        raise


def login_as_role(
    server_url: str, username: str, password: str, workstation: str
) -> tuple[Database, SessionUser]:
    """Log in as the user's own role: the open :class:`Database` and the logged-in user."""
    db = connect_as_user(server_url, username, password)
    try:
        user = role_session_user(db, workstation)
    except BaseException:
        db.dispose()
        raise
    return db, user


def role_session_user(db: Database, workstation: str) -> SessionUser:
    """The logged-in user of a connection made as a user's own role (the server has checked
    the password): an account still locked out is refused (audited), else the login is
    audited (:func:`services.pg_roles.connected_user`). Raises :class:`LoginError`."""
    refusal: str | None = None
    with db.begin() as s:
        account = session_account(s)
        if account.locked_until is not None and account.locked_until > utcnow():
            actor = Actor(
                username=account.username,
                role=Role(account.role),
                user_id=account.id,
                workstation=workstation,
            )
            record(s, actor, "login_failure", reason="locked", db_role=True)
            refusal = (
                "kontot är tillfälligt låst efter för många misslyckade inloggningar; "
                f"försök igen om {LOCK_MINUTES} minuter eller kontakta administratören"
            )
        else:
            user: SessionUser = connected_user(s, workstation)
    if refusal is not None:
        raise LoginError(refusal)
    return user


def verify_password_as_role(server_url: str, user: SessionUser, password: str) -> None:
    """Check ``password`` for the logged-in ``user`` by letting the server check it: a new
    connection as their role (the idle lock's unlock). Raises :class:`LoginError`."""
    check = connect_as_user(server_url, user.username, password)
    try:
        with check.begin() as s:
            account = session_account(s)
        if account.id != user.user_id:
            raise LoginError("kontot har ändrats; logga ut och logga in igen")
    finally:
        with contextlib.suppress(Exception):
            check.dispose()


# --- the offline laptop's central connection (checkout and sync) ---------------------------------


def names_own_role(url: str, username: str) -> bool:
    """A PostgreSQL URL whose database user is ``username``'s own login role."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    return (
        parsed.get_backend_name() == "postgresql"
        and bool(username.strip())
        and parsed.username == db_role_name(username.strip().lower())
    )


def connect_central(url: str, username: str, password: str) -> Database:
    """The central database for ``offline checkout`` and ``sync``, connected as
    ``username`` where the server has per-user roles.

    * a PostgreSQL URL without a database user (what workstations have): as the
      user's own role, the password to the driver (:func:`connect_as_user`), so the
      server checks it and every statement of the checkout or sync is under that
      role's grants and row-level security;
    * a URL naming the user's own role: the same, with the password given here unless
      the URL has one;
    * any other URL (the owner's: IT, tests, the bench): that user connects, and
      :func:`login_central` checks the Fokus password itself.
    """
    if is_per_user_url(url):
        return connect_as_user(url, username, password)
    if names_own_role(url, username) and not make_url(url).password:
        try:
            return open_database(url, auto_migrate_sqlite=False, password=password or "")
        except DatabaseUnavailableError as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                raise refusal from None
            raise
    return open_database(url, auto_migrate_sqlite=False)


def connected_role(db: Database) -> str | None:
    """The Fokus login role ``db`` is connected as, or None (the owner, SQLite)."""
    if db.engine.dialect.name != "postgresql":
        return None
    with db.begin() as s:
        role = str(s.scalar(text("SELECT session_user")) or "")
    return role if role.startswith(LOGIN_PREFIX) else None


def login_central(db: Database, username: str, password: str, workstation: str) -> SessionUser:
    """Log ``username`` in on the central database ``db`` (from :func:`connect_central`).

    Connected as a user's own role, the server has checked the password when the
    connection was made: the role must be ``username``'s, and it is mapped to its
    active account (audited). Connected as anyone else (the owner), Fokus checks its own
    argon2id password (:func:`services.auth.authenticate`, audited, counted for the
    lockout). Raises :class:`LoginError`.
    """
    role = connected_role(db)
    if role is None:
        return authenticate(db, username, password, workstation)
    if role != db_role_name((username or "").strip().lower()):
        raise LoginError(WRONG_CREDENTIALS)
    return role_session_user(db, workstation)
