"""``user unlock | reset-password | deactivate | reactivate`` end to end: real subprocesses.

The commands go through services/user_admin.py (audited, the last active
administratör stays); on PostgreSQL the user's login role follows (SCRAM
password, LOGIN/NOLOGIN), checked in the server's own catalog.
"""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from models import AuditEvent, User
from services.auth import LoginError, authenticate
from services.db import Database, open_database
from tests.test_cli import fokus
from tests.test_pg_roles import _scram_matches

PW = "första-lösen-1"
NEW_PW = "helt-nytt-lösen-2"


def _add(url: str, username: str, role: str = "handläggare") -> None:
    added = fokus(
        "user", "add", username, "--name", "Kajsa Ödmark", "--role", role,
        "--unit", "Försörjningsstöd Söder", "--url", url, stdin=PW + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


def _actions(db: Database, target: uuid.UUID) -> list[str]:
    with db.begin() as s:
        return [
            e.action
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.detail and json.loads(e.detail).get("target_user") == str(target)
        ]


def _user_id(db: Database, username: str) -> uuid.UUID:
    with db.begin() as s:
        found = s.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def test_unlock_reset_deactivate_reactivate_on_sqlite(sqlite_url: str) -> None:
    _add(sqlite_url, "admin", "administratör")
    _add(sqlite_url, "kajsa")
    db = open_database(sqlite_url)
    try:
        kajsa = _user_id(db, "kajsa")
        for _ in range(5):
            with pytest.raises(LoginError):
                authenticate(db, "kajsa", "fel-lösenord", "t")
        with pytest.raises(LoginError, match="låst"):
            authenticate(db, "kajsa", PW, "t")

        unlocked = fokus("user", "unlock", "KAJSA", "--url", sqlite_url)
        assert unlocked.returncode == 0, unlocked.stderr
        assert unlocked.stderr.strip() == "användaren kajsa är upplåst"
        assert authenticate(db, "kajsa", PW, "t").user_id == kajsa

        reset = fokus("user", "reset-password", "kajsa", "--url", sqlite_url, stdin=NEW_PW + "\n")
        assert reset.returncode == 0, reset.stderr
        assert reset.stderr.strip() == "användaren kajsa har fått ett nytt lösenord"
        with pytest.raises(LoginError):
            authenticate(db, "kajsa", PW, "t")
        assert authenticate(db, "kajsa", NEW_PW, "t").user_id == kajsa

        short = fokus("user", "reset-password", "kajsa", "--url", sqlite_url, stdin="kort\n")
        assert short.returncode == 1
        assert short.stderr == "fokus: nytt lösenord: måste ha minst 8 tecken\n"
        assert authenticate(db, "kajsa", NEW_PW, "t")  # nothing changed

        off = fokus("user", "deactivate", "kajsa", "--url", sqlite_url)
        assert off.returncode == 0, off.stderr
        assert off.stderr.strip() == "användaren kajsa är inaktiverad; historiken finns kvar"
        with pytest.raises(LoginError, match="inaktiverat"):
            authenticate(db, "kajsa", NEW_PW, "t")
        with db.begin() as s:  # the account and its history stay
            assert s.get(User, kajsa) is not None
            assert s.scalars(select(AuditEvent.id).where(AuditEvent.user_id == kajsa)).first()
        again = fokus("user", "deactivate", "kajsa", "--url", sqlite_url)
        assert again.returncode == 0 and "redan inaktiverad" in again.stderr

        on = fokus("user", "reactivate", "kajsa", "--url", sqlite_url)
        assert on.returncode == 0 and on.stderr.strip() == "användaren kajsa är aktiv igen"
        assert authenticate(db, "kajsa", NEW_PW, "t").user_id == kajsa

        assert _actions(db, kajsa) == [
            "user_created",
            "user_unlocked",
            "user_password_reset",
            "user_deactivated",
            "user_reactivated",
        ]
        with db.begin() as s:
            cli_events = s.scalars(
                select(AuditEvent.actor).where(AuditEvent.action == "user_deactivated")
            ).all()
        assert cli_events and all(u.startswith("cli:") for u in cli_events)
    finally:
        db.dispose()


def test_the_last_administrator_and_unknown_users(sqlite_url: str) -> None:
    _add(sqlite_url, "admin", "administratör")
    last = fokus("user", "deactivate", "admin", "--url", sqlite_url)
    assert last.returncode == 1
    assert last.stderr == "fokus: aktiv: den sista aktiva administratören kan inte inaktiveras\n"
    for command in ("unlock", "reset-password", "deactivate", "reactivate"):
        # reset-password names the unknown user before reading any password (empty stdin)
        missing = fokus("user", command, "nisse", "--url", sqlite_url)
        assert missing.returncode == 2, (command, missing.stderr)
        assert missing.stderr == "fokus: användaren 'nisse' finns inte\n"
    db = open_database(sqlite_url)
    try:
        assert authenticate(db, "admin", PW, "t")  # still active
    finally:
        db.dispose()


def _admin_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _role_state(url: str, role: str) -> tuple[bool, str]:
    with psycopg.connect(_admin_conninfo(url)) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone()
    assert row is not None
    return bool(row[0]), str(row[1])


@pytest.mark.postgres
def test_the_login_role_follows_on_postgresql(pg_url: str) -> None:
    username = f"kajsa{uuid.uuid4().hex[:6]}"  # login roles are server-wide
    _add(pg_url, username)
    db = open_database(pg_url)
    try:
        with db.begin() as s:
            role = s.scalar(
                text("SELECT db_role FROM app_user WHERE username = :u"), {"u": username}
            )
        assert role
        can_login, verifier = _role_state(pg_url, role)
        assert can_login and _scram_matches(verifier, PW)

        reset = fokus("user", "reset-password", username, "--url", pg_url, stdin=NEW_PW + "\n")
        assert reset.returncode == 0, reset.stderr
        assert f"databasrollen {role} har samma nya lösenord" in reset.stderr
        can_login, verifier = _role_state(pg_url, role)
        assert _scram_matches(verifier, NEW_PW) and not _scram_matches(verifier, PW)
        assert authenticate(db, username, NEW_PW, "t").username == username

        assert fokus("user", "deactivate", username, "--url", pg_url).returncode == 0
        assert _role_state(pg_url, role)[0] is False  # NOLOGIN; the role stays for history
        assert fokus("user", "reactivate", username, "--url", pg_url).returncode == 0
        assert _role_state(pg_url, role)[0] is True

        missing = fokus("user", "unlock", "nisse", "--url", pg_url)
        assert (missing.returncode, missing.stderr) == (2, "fokus: användaren 'nisse' finns inte\n")
    finally:
        db.dispose()
        with psycopg.connect(_admin_conninfo(pg_url), autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{pg_roles_name(username)}"')  # type: ignore[arg-type]


def pg_roles_name(username: str) -> str:
    from services.pg_roles import db_role_name

    return db_role_name(username)
