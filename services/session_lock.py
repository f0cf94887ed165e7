"""The idle lock's service side: audit the lock, check the password to unlock, log out.

Unlocking is a password check like a login, through
:func:`services.auth.authenticate`: a wrong password counts toward the
lockout (five failures lock the account for 15 minutes) and is audited as a
failed login, and an account deactivated while the screen was locked cannot
be unlocked. The lock and the unlock themselves are audited too, so the log
shows when case data was hidden.
"""

from __future__ import annotations

from services.audit import LOGOUT, SESSION_LOCKED, SESSION_UNLOCKED, Actor, record
from services.auth import LoginError, SessionUser, authenticate
from services.db import Database


def record_locked(db: Database, actor: Actor, *, idle_minutes: int) -> None:
    """The screen was locked after ``idle_minutes`` without input."""
    with db.begin() as s:
        record(s, actor, SESSION_LOCKED, idle_minutes=idle_minutes)


def unlock(db: Database, user: SessionUser, password: str) -> SessionUser:
    """Check ``password`` for the locked-in user; raise :class:`LoginError` when refused.

    Only the user who was logged in can unlock: the username is not asked for.
    """
    again = authenticate(db, user.username, password, user.actor.workstation)
    if again.user_id != user.user_id:  # the account was replaced under the same name
        raise LoginError("kontot har ändrats; logga ut och logga in igen")
    with db.begin() as s:
        record(s, user.actor, SESSION_UNLOCKED)
    return again


def unlock_as_role(db: Database, server_url: str, user: SessionUser, password: str) -> SessionUser:
    """:func:`unlock` for a session connected as the user's own PostgreSQL role.

    The server checks the password (a new connection as the role, closed at
    once): the role may not read password hashes, and need not. A refusal is
    audited on the open connection; the server-side lockout applies, since the
    role cannot change the account's failure counter (docs/access.md).
    """
    from services.role_login import verify_password_as_role

    try:
        verify_password_as_role(server_url, user, password)
    except LoginError:
        with db.begin() as s:
            record(s, user.actor, "login_failure", reason="idle_lock", db_role=True)
        raise
    with db.begin() as s:
        record(s, user.actor, SESSION_UNLOCKED)
    return user


def record_logout(db: Database, actor: Actor, *, reason: str) -> None:
    """The user logged out (``reason``: e.g. ``"idle_lock"`` when done from the lock)."""
    with db.begin() as s:
        record(s, actor, LOGOUT, reason=reason)
