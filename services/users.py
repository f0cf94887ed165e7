"""Users and units: creation with argon2id password hashes, lookups."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import DEFAULT_CAP_FOCUS, DEFAULT_CAP_OTHER, Unit, User
from models.codes import ROLE_LABELS, Role
from services.access import require_admin
from services.audit import Actor, record
from services.errors import NotFoundError, ValidationError
from services.validation import Checker

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
PASSWORD_MIN = 8
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def role_from_label(label: str) -> Role:
    """ "handläggare" → Role.CASEWORKER (the Swedish labels, case-insensitive)."""
    wanted = label.strip().casefold()
    for role, text in ROLE_LABELS.items():
        if text == wanted or role.value == wanted:
            return role
    choices = ", ".join(ROLE_LABELS.values())
    raise ValidationError.single("roll", f"okänd roll {label!r}; välj {choices}")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_or_create_unit(session: Session, actor: Actor, name: str) -> Unit:
    c = Checker()
    cleaned = c.text("enhet", name, max_len=120, required=True)
    c.done()
    unit = session.scalars(select(Unit).where(Unit.name == cleaned)).first()
    if unit is None:
        require_admin(session, actor)
        unit = Unit(id=uuid.uuid4(), name=cleaned)
        session.add(unit)
        session.flush()
        record(session, actor, "unit_created", unit_id=unit.id)
    return unit


@dataclass(frozen=True)
class UserInput:
    username: str
    full_name: str
    role: Role
    unit_name: str
    is_focus: bool = False
    caseload_cap: int | None = None
    password: str | None = None


def create_user_in(session: Session, actor: Actor, data: UserInput) -> User:
    require_admin(session, actor)
    c = Checker()
    username = (data.username or "").strip()
    if not _USERNAME.match(username):
        c.fail("användarnamn", "2–64 tecken: små bokstäver a–z, siffror, punkt, - eller _")
    full_name = c.text("namn", data.full_name, max_len=120, required=True)
    cap = data.caseload_cap
    if cap is None:
        cap = DEFAULT_CAP_FOCUS if data.is_focus else DEFAULT_CAP_OTHER
    if not 0 <= cap <= 500:
        c.fail("ärendetak", f"ska vara 0–500 (fick {cap})")
    if data.password is not None and len(data.password) < PASSWORD_MIN:
        c.fail("lösenord", f"måste ha minst {PASSWORD_MIN} tecken")
    c.done()
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise ValidationError.single("användarnamn", f"{username!r} finns redan")
    unit = get_or_create_unit(session, actor, data.unit_name)
    assert full_name is not None
    user = User(
        id=uuid.uuid4(),
        username=username,
        full_name=full_name,
        role=data.role.value,
        unit_id=unit.id,
        is_focus=data.is_focus,
        caseload_cap=cap,
        password_hash=hash_password(data.password) if data.password else None,
    )
    session.add(user)
    session.flush()
    record(session, actor, "user_created", target_user=user.id, role=data.role.value)
    return user


def user_by_username(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"användaren {username!r} finns inte")
    return user
