"""Household rules: who may be a member, in which role, at the same time.

Exactly one sökande and at most one medsökande at a time; a barn is under 18,
or 18–20 and studying; a person is a current member of at most one open case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from models import Case, HouseholdMember, Person
from models.codes import CaseStatus, MemberRole
from services.errors import FieldError
from services.validation import age_on

SINGLE_ROLES = {MemberRole.APPLICANT: "sökande", MemberRole.CO_APPLICANT: "medsökande"}


@dataclass(frozen=True)
class Membership:
    """The facts the rules need about one membership (stored or proposed)."""

    role: MemberRole
    birth_date: date
    valid_from: date
    valid_to: date | None
    studying: bool


def _overlaps(a: Membership, b: Membership) -> bool:
    a_end = a.valid_to or date.max
    b_end = b.valid_to or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def child_error(m: Membership) -> FieldError | None:
    """A barn must be under 18, or 18–20 and studying, when the membership starts."""
    if m.role is not MemberRole.CHILD:
        return None
    age = age_on(m.birth_date, m.valid_from)
    if age < 18:
        return None
    if age <= 20 and m.studying:
        return None
    if age <= 20:
        return FieldError(
            "studerar", f"ett barn som är {age} år ingår bara i hushållet vid studier"
        )
    return FieldError("roll", f"ett barn måste vara under 21 år (är {age})")


def role_conflict(new: Membership, existing: list[Membership]) -> FieldError | None:
    """A second sökande or medsökande overlapping in time."""
    label = SINGLE_ROLES.get(new.role)
    if label is None:
        return None
    for other in existing:
        if other.role is new.role and _overlaps(new, other):
            return FieldError("roll", f"hushållet har redan en {label} under samma period")
    return None


def open_case_elsewhere(
    session: Session, person_id: uuid.UUID, *, on: date, exclude_case: uuid.UUID | None
) -> str | None:
    """Case number of another open case the person is a current member of, if any."""
    stmt = (
        select(Case.case_number)
        .join(HouseholdMember, HouseholdMember.case_id == Case.id)
        .where(
            HouseholdMember.person_id == person_id,
            Case.status != CaseStatus.CLOSED.value,
            or_(HouseholdMember.valid_to.is_(None), HouseholdMember.valid_to >= on),
        )
    )
    if exclude_case is not None:
        stmt = stmt.where(Case.id != exclude_case)
    found = session.scalars(stmt.limit(1)).first()
    if found is not None:
        return found
    hidden = hidden_open_case(session, person_id, on=on, exclude_case=exclude_case)
    return hidden.case_number if hidden is not None else None


@dataclass(frozen=True)
class HiddenOpenCase:
    """An open case outside the user's scope: who has it, never what is in it."""

    case_id: uuid.UUID
    case_number: str
    unit_name: str
    caseworker_name: str


def hidden_open_case(
    session: Session, person_id: uuid.UUID, *, on: date, exclude_case: uuid.UUID | None
) -> HiddenOpenCase | None:
    """On PostgreSQL, the person's open case even when row-level security hides it from
    this user (``fokus_person_open_case`` in services/pg_roles.py); None on SQLite, where
    the services see every row."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    row = session.execute(
        text(
            "SELECT case_id, case_number, unit_name, caseworker_name "
            "FROM fokus_person_open_case(:p, :on, :x)"
        ),
        {"p": person_id, "on": on, "x": exclude_case},
    ).first()
    return HiddenOpenCase(row[0], row[1], row[2], row[3]) if row is not None else None


def stored_memberships(session: Session, case_id: uuid.UUID) -> list[Membership]:
    rows = session.execute(
        select(HouseholdMember, Person.birth_date)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(HouseholdMember.case_id == case_id)
    ).all()
    return [
        Membership(
            role=MemberRole(m.role),
            birth_date=birth,
            valid_from=m.valid_from,
            valid_to=m.valid_to,
            studying=m.studying,
        )
        for m, birth in rows
    ]


def is_child_family(memberships: list[Membership], on: date) -> bool:
    """Barnfamilj: a current member under 18 on ``on`` (derived, never typed in)."""
    return any(
        m.valid_from <= on
        and (m.valid_to is None or m.valid_to >= on)
        and age_on(m.birth_date, on) < 18
        for m in memberships
    )
