"""User administration for the administratör: list, add, change, deactivate, reset, unlock.

Only an active administratör (or the command line, which holds the database
URL) may administer users; the role is read from the database on every
call, not trusted from the :class:`Actor`, so a demoted administrator loses
the right at their next action. Every change is one transaction with one
audit event naming the target user by id (never by name) and what changed.

Accounts are never deleted: a deactivated user keeps their history (cases,
notes, audit events) and cannot log in. The last active administratör can be
neither deactivated nor given another role, so the system can always be
administered. Adding a user goes through :func:`services.users.create_user_in`,
the same path as ``python main.py user add``.

On PostgreSQL every account also has its own login role (see
:mod:`services.pg_roles`): adding a user creates it with the same password,
a role change moves it to the matching group role, deactivation sets
NOLOGIN, a password reset changes its SCRAM password — each in the same
transaction as the change to the account, so the two never disagree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Unit, User, utcnow
from models.codes import ROLE_LABELS, Role
from services.audit import (
    USER_DEACTIVATED,
    USER_PASSWORD_RESET,
    USER_REACTIVATED,
    USER_UNLOCKED,
    USER_UPDATED,
    Actor,
    record,
)
from services.db import Database
from services.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from services.pg_roles import (
    create_login_role,
    set_login_enabled,
    set_login_password,
    sync_group,
)
from services.users import (
    PASSWORD_MIN,
    UserInput,
    create_user_in,
    get_or_create_unit,
    hash_password,
)
from services.validation import Checker


@dataclass(frozen=True)
class UserRow:
    """One account as the administrator sees it (never the password hash)."""

    id: uuid.UUID
    username: str
    full_name: str
    role: Role
    unit_id: uuid.UUID
    unit_name: str
    active: bool
    locked_until: datetime | None
    failed_logins: int
    version: int

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    def is_locked(self, now: datetime | None = None) -> bool:
        """Locked out after too many failed logins, right now."""
        return self.locked_until is not None and self.locked_until > (now or utcnow())


@dataclass(frozen=True)
class UserChanges:
    """What the administrator changes on an account; None leaves a field as it is."""

    full_name: str | None = None
    role: Role | None = None
    unit_name: str | None = None


def require_admin(session: Session, actor: Actor) -> None:
    """Refuse anyone but an active administratör or the command line."""
    if actor.is_cli:
        return
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise PermissionDeniedError("ditt konto är inte aktivt; logga in igen")
    if user.role != Role.ADMIN.value:
        raise PermissionDeniedError("bara en administratör får hantera användare")


def _row(user: User, unit_name: str) -> UserRow:
    return UserRow(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=Role(user.role),
        unit_id=user.unit_id,
        unit_name=unit_name,
        active=user.active,
        locked_until=user.locked_until,
        failed_logins=user.failed_logins,
        version=user.version,
    )


def _load(session: Session, user_id: uuid.UUID, expected_version: int | None) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("användaren finns inte")
    if expected_version is not None and user.version != expected_version:
        raise ConflictError("användaren", expected_version, user.version)
    return user


def _unit_name(session: Session, unit_id: uuid.UUID) -> str:
    return session.scalar(select(Unit.name).where(Unit.id == unit_id)) or ""


def _other_active_admins(session: Session, user_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != user_id)
        )
        or 0
    )


def list_users_in(session: Session, actor: Actor) -> list[UserRow]:
    """Every account, active or not, by username."""
    require_admin(session, actor)
    rows = session.execute(
        select(User, Unit.name).join(Unit, Unit.id == User.unit_id).order_by(User.username)
    )
    return [_row(user, unit_name) for user, unit_name in rows]


def find_user_in(session: Session, actor: Actor, username: str) -> UserRow:
    """The account with ``username`` (case and surrounding spaces ignored), for the
    command line's ``user unlock|reset-password|deactivate|reactivate USERNAME``."""
    require_admin(session, actor)
    wanted = (username or "").strip().lower()
    row = (
        session.execute(
            select(User, Unit.name)
            .join(Unit, Unit.id == User.unit_id)
            .where(User.username == wanted)
        ).first()
        if wanted
        else None
    )
    if row is None:
        raise NotFoundError(f"användaren {wanted or username!r} finns inte")
    return _row(row[0], row[1])


def unit_names_in(session: Session, actor: Actor) -> list[str]:
    """The units a user can be placed in, by name."""
    require_admin(session, actor)
    return list(session.scalars(select(Unit.name).order_by(Unit.name)))


def add_user_in(session: Session, actor: Actor, data: UserInput) -> UserRow:
    """Create an account with an initial password (the user changes it with the admin's help)."""
    require_admin(session, actor)
    if not data.password:
        raise ValidationError.single("lösenord", "måste fyllas i")
    cleaned = UserInput(
        username=(data.username or "").strip().lower(),
        full_name=data.full_name,
        role=data.role,
        unit_name=data.unit_name,
        is_focus=data.is_focus,
        caseload_cap=data.caseload_cap,
        password=data.password,
    )
    user = create_user_in(session, actor, cleaned)
    create_login_role(session, actor, user, data.password)  # PostgreSQL only
    return _row(user, _unit_name(session, user.unit_id))


def update_user_in(
    session: Session,
    actor: Actor,
    user_id: uuid.UUID,
    expected_version: int,
    changes: UserChanges,
) -> UserRow:
    """Change name, role and/or unit; audited with the fields that changed."""
    require_admin(session, actor)
    user = _load(session, user_id, expected_version)
    c = Checker()
    full_name = (
        c.text("namn", changes.full_name, max_len=120, required=True)
        if changes.full_name is not None
        else None
    )
    unit_label = (
        c.text("enhet", changes.unit_name, max_len=120, required=True)
        if changes.unit_name is not None
        else None
    )
    if (
        changes.role is not None
        and changes.role != Role.ADMIN
        and user.role == Role.ADMIN.value
        and user.active
        and _other_active_admins(session, user.id) == 0
    ):
        c.fail("roll", "den sista aktiva administratören måste förbli administratör")
    c.done()
    # the unit first: creating one flushes, and the user row should change in one go
    unit = get_or_create_unit(session, actor, unit_label) if unit_label is not None else None
    changed: list[str] = []
    detail: dict[str, Any] = {}
    if full_name is not None and full_name != user.full_name:
        user.full_name = full_name
        changed.append("full_name")
    if changes.role is not None and changes.role.value != user.role:
        detail["role_from"] = user.role
        detail["role_to"] = changes.role.value
        user.role = changes.role.value
        changed.append("role")
    if unit is not None and unit.id != user.unit_id:
        detail["unit_from"] = str(user.unit_id)
        detail["unit_to"] = str(unit.id)
        user.unit_id = unit.id
        changed.append("unit")
    if changed:
        session.flush()
        if "role" in changed:
            sync_group(session, user)  # PostgreSQL: the login role follows the Fokus role
        record(session, actor, USER_UPDATED, target_user=user.id, fields=changed, **detail)
    return _row(user, _unit_name(session, user.unit_id))


def set_active_in(
    session: Session, actor: Actor, user_id: uuid.UUID, expected_version: int, active: bool
) -> UserRow:
    """Deactivate (the account keeps its history but cannot log in) or reactivate."""
    require_admin(session, actor)
    user = _load(session, user_id, expected_version)
    if user.active == active:
        return _row(user, _unit_name(session, user.unit_id))
    if not active:
        if actor.user_id == user.id:
            raise ValidationError.single("aktiv", "du kan inte inaktivera ditt eget konto")
        if user.role == Role.ADMIN.value and _other_active_admins(session, user.id) == 0:
            raise ValidationError.single(
                "aktiv", "den sista aktiva administratören kan inte inaktiveras"
            )
    user.active = active
    session.flush()
    set_login_enabled(session, user, active)  # PostgreSQL: NOLOGIN keeps the role for history
    record(session, actor, USER_REACTIVATED if active else USER_DEACTIVATED, target_user=user.id)
    return _row(user, _unit_name(session, user.unit_id))


def reset_password_in(
    session: Session, actor: Actor, user_id: uuid.UUID, expected_version: int, password: str
) -> UserRow:
    """Give the account a new password; also lifts a lockout (the admin has checked who asks)."""
    require_admin(session, actor)
    user = _load(session, user_id, expected_version)
    if not password:
        raise ValidationError.single("nytt lösenord", "måste fyllas i")
    if len(password) < PASSWORD_MIN:
        raise ValidationError.single("nytt lösenord", f"måste ha minst {PASSWORD_MIN} tecken")
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    set_login_password(session, user, password)  # PostgreSQL: the login role's SCRAM password
    record(session, actor, USER_PASSWORD_RESET, target_user=user.id)
    return _row(user, _unit_name(session, user.unit_id))


def unlock_in(session: Session, actor: Actor, user_id: uuid.UUID, expected_version: int) -> UserRow:
    """Lift a lockout after failed logins before its 15 minutes have passed."""
    require_admin(session, actor)
    user = _load(session, user_id, expected_version)
    was_locked = user.locked_until is not None and user.locked_until > utcnow()
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    record(session, actor, USER_UNLOCKED, target_user=user.id, was_locked=was_locked)
    return _row(user, _unit_name(session, user.unit_id))


class UserAdminService:
    """The user-administration operations for the UI: one transaction each."""

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def list_users(self) -> list[UserRow]:
        with self._db.begin() as s:
            return list_users_in(s, self._actor)

    def find_user(self, username: str) -> UserRow:
        with self._db.begin() as s:
            return find_user_in(s, self._actor, username)

    def unit_names(self) -> list[str]:
        with self._db.begin() as s:
            return unit_names_in(s, self._actor)

    def add_user(self, data: UserInput) -> UserRow:
        with self._db.action("användaren") as s:
            return add_user_in(s, self._actor, data)

    def update_user(
        self, user_id: uuid.UUID, expected_version: int, changes: UserChanges
    ) -> UserRow:
        with self._db.action("användaren") as s:
            return update_user_in(s, self._actor, user_id, expected_version, changes)

    def set_active(self, user_id: uuid.UUID, expected_version: int, active: bool) -> UserRow:
        with self._db.action("användaren") as s:
            return set_active_in(s, self._actor, user_id, expected_version, active)

    def reset_password(self, user_id: uuid.UUID, expected_version: int, password: str) -> UserRow:
        with self._db.action("användaren") as s:
            return reset_password_in(s, self._actor, user_id, expected_version, password)

    def unlock(self, user_id: uuid.UUID, expected_version: int) -> UserRow:
        with self._db.action("användaren") as s:
            return unlock_in(s, self._actor, user_id, expected_version)
