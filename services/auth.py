"""Logging in: password check, the first-run administrator and the demo caseworker.

A login is one transaction: the user is looked up, the argon2id hash checked,
the failure counter updated and a ``login_success``/``login_failure`` event
written. The audit trail never holds the password nor a username that was
typed but does not exist (it may be someone's personal name or a password
typed into the wrong field): a failure carries the ``user_id`` only when the
account is known. The message shown to the user is the same for an unknown
user and a wrong password, so it does not reveal which accounts exist.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from models import AuditEvent, Case, Unit, User, utcnow
from models.codes import ROLE_LABELS, CaseStatus, Role
from services.audit import Actor, record
from services.db import Database
from services.errors import EXIT_INVALID, FokusError, ValidationError
from services.users import UserInput, create_user_in, hash_password, verify_password

MAX_FAILED_LOGINS = 5  # issue 6: lock after 5 failed attempts for 15 minutes
LOCK_MINUTES = 15
DEMO_USERNAME = "demo"
DEMO_FULL_NAME = "Demo Handläggare"
DEMO_UNIT = "Försörjningsstöd Demo"


@functools.cache
def _dummy_hash() -> str:
    """A real hash to verify against when the user is unknown, so a failed login takes
    the same time whether or not the account exists. Made on first use, not at import:
    an argon2 hash costs about half a second of start-up on two cores."""
    return hash_password("fokus-dummy-password")


class LoginError(FokusError):
    """The login was refused; the message says why in one Swedish line."""

    exit_code = EXIT_INVALID


WRONG_CREDENTIALS = "fel användarnamn eller lösenord"


@dataclass(frozen=True)
class SessionUser:
    """Who is logged in: the :class:`Actor` services act for, and what the window shows."""

    actor: Actor
    full_name: str
    role: Role
    unit_id: uuid.UUID
    unit_name: str
    is_focus: bool = False
    is_demo: bool = False

    @property
    def user_id(self) -> uuid.UUID:
        assert self.actor.user_id is not None
        return self.actor.user_id

    @property
    def username(self) -> str:
        return self.actor.username

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


def _session_user(
    session: Session, user: User, workstation: str, *, demo: bool = False
) -> SessionUser:
    unit = session.get(Unit, user.unit_id)
    role = Role(user.role)
    return SessionUser(
        actor=Actor(username=user.username, role=role, user_id=user.id, workstation=workstation),
        full_name=user.full_name,
        role=role,
        unit_id=user.unit_id,
        unit_name=unit.name if unit is not None else "",
        is_focus=user.is_focus,
        is_demo=demo,
    )


def _anonymous(workstation: str) -> Actor:
    """The actor of a failed login by an unknown username (never the name typed)."""
    return Actor(username="(okänd)", role=Role.CASEWORKER, workstation=workstation)


def authenticate(db: Database, username: str, password: str, workstation: str) -> SessionUser:
    """Check a username and password; return the logged-in user or raise :class:`LoginError`."""
    wanted = (username or "").strip().lower()
    refusal: str | None = None
    with db.begin() as s:
        user = s.scalars(select(User).where(User.username == wanted)).first() if wanted else None
        if user is None:
            verify_password(_dummy_hash(), password or "")
            record(s, _anonymous(workstation), "login_failure", reason="unknown_user")
            refusal = WRONG_CREDENTIALS
        else:
            actor = Actor(
                username=user.username,
                role=Role(user.role),
                user_id=user.id,
                workstation=workstation,
            )
            now = utcnow()
            stored = user.password_hash
            ok = verify_password(stored or _dummy_hash(), password or "") and stored is not None
            locked = user.locked_until is not None and user.locked_until > now
            if locked:
                record(s, actor, "login_failure", reason="locked")
                refusal = (
                    "kontot är tillfälligt låst efter för många misslyckade inloggningar; "
                    f"försök igen om {LOCK_MINUTES} minuter eller kontakta administratören"
                )
            elif not ok:
                user.failed_logins += 1
                reason = "wrong_password"
                if user.failed_logins >= MAX_FAILED_LOGINS:
                    user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                    user.failed_logins = 0
                    reason = "wrong_password_locked"
                record(s, actor, "login_failure", reason=reason)
                refusal = WRONG_CREDENTIALS
            elif not user.active:
                # Said only after a correct password, so it reveals nothing to a guesser.
                record(s, actor, "login_failure", reason="inactive")
                refusal = "kontot är inaktiverat; kontakta administratören"
            else:
                if user.failed_logins or user.locked_until is not None:
                    user.failed_logins = 0
                    user.locked_until = None
                record(s, actor, "login_success")
                return _session_user(s, user, workstation)
    assert refusal is not None
    raise LoginError(refusal)


def needs_first_run(db: Database) -> bool:
    """True for a database without any user: the first-run dialog creates the administrator."""
    with db.begin() as s:
        return not s.scalar(select(exists().where(User.id.is_not(None))))


def first_run(
    db: Database,
    admin_username: str,
    full_name: str,
    password: str,
    unit_name: str,
    *,
    workstation: str = "",
) -> SessionUser:
    """Create the first administrator and the first unit in one transaction.

    Refused once any user exists (two first-run dialogs racing: the second loses).
    The caller logs the administrator in with :func:`authenticate` afterwards.
    """
    actor = Actor(username="first-run", role=Role.ADMIN, workstation=workstation)
    with db.begin() as s:
        if s.scalar(select(exists().where(User.id.is_not(None)))):
            raise ValidationError.single(
                "administratör", "databasen har redan användare; logga in i stället"
            )
        if not password:
            raise ValidationError.single("lösenord", "måste fyllas i")
        user = create_user_in(
            s,
            actor,
            UserInput(
                username=(admin_username or "").strip().lower(),
                full_name=full_name,
                role=Role.ADMIN,
                unit_name=unit_name,
                password=password,
            ),
        )
        record(s, actor, "first_run", target_user=user.id, unit_id=user.unit_id)
        return _session_user(s, user, workstation)


def demo_login(db: Database, workstation: str) -> SessionUser:
    """Log in to a demo database as one of its caseworkers, without a password.

    Only for a database made by :func:`services.demo.seed_demo` (it holds a
    ``seed_demo`` audit event); any other database is refused, so this can
    never open real cases. The caseworker is the one with the most open
    cases, so "Mina ärenden" shows something; a demo caseworker is created
    when the demo has none. Audited as a login with ``demo=True``.
    """
    with db.begin() as s:
        seeded = s.scalar(select(exists().where(AuditEvent.action == "seed_demo")))
        if not seeded:
            raise LoginError("databasen är ingen demodatabas; demoinloggning är inte tillåten")
        load = (
            select(Case.caseworker_id, func.count().label("n"))
            .where(Case.status != CaseStatus.CLOSED.value, Case.caseworker_id.is_not(None))
            .group_by(Case.caseworker_id)
            .subquery()
        )
        user = s.scalars(
            select(User)
            .join(load, load.c.caseworker_id == User.id)
            .where(User.role == Role.CASEWORKER.value, User.active.is_(True))
            .order_by(User.is_focus, load.c.n.desc(), User.username)
            .limit(1)
        ).first()
        if user is None:
            user = s.scalars(select(User).where(User.username == DEMO_USERNAME)).first()
        if user is None:
            creator = Actor(username="demo-setup", role=Role.ADMIN, workstation=workstation)
            user = create_user_in(
                s,
                creator,
                UserInput(
                    username=DEMO_USERNAME,
                    full_name=DEMO_FULL_NAME,
                    role=Role.CASEWORKER,
                    unit_name=DEMO_UNIT,
                ),
            )
        actor = Actor(
            username=user.username, role=Role(user.role), user_id=user.id, workstation=workstation
        )
        record(s, actor, "login_success", demo=True)
        return _session_user(s, user, workstation, demo=True)
