"""Which cases have a member with skyddade personuppgifter: one row per such case.

Why this table exists: every list of cases a user sees carries the access
scope (services/access.py), and the scope hides a case with a protected
member, current or past, from everyone not named on it. Computed from the raw
rows, that is "every membership of every protected person" for every
statement: at 100,000 cases about 2,000 protected households, rebuilt by
SQLite for each register window (~6 ms of a ~12 ms window statement). With
this table the question is one primary-key probe per case.

The raw rows stay the truth: a case is protected when some
``household_member`` row of it (any period: a past member counts, as
:func:`raw_protected_case_ids` says) points at a ``person`` whose
``protection`` is set. Database **triggers** keep the table exactly that, in
the same statement as the change (revision 0015):

* a membership inserted, deleted, or moved to another case or person;
* a person's ``protection`` set or cleared (or the person's id changed, or a
  person deleted while memberships still point at it).

Triggers rather than session hooks (as ``case_sort_key`` uses) because the
flag is a security boundary and must hold whatever writes the rows: the ORM,
bulk statements, the demo seeding's raw ``executemany``, the offline sync's
laptop file, and on PostgreSQL a caseworker's own role, whose row-level
security hides the other cases of a person whose protection they set (a
session hook could neither see nor flag them). On PostgreSQL the trigger
functions are ``SECURITY DEFINER`` (owned by the migration role, so RLS does
not apply to them) and serialise per person and per case with transaction
advisory locks, so two concurrent transactions cannot leave a protected case
unflagged. A bulk load that pauses the triggers calls :func:`rebuild`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Select, delete, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.case import HouseholdMember
from models.person import Person

# The PostgreSQL trigger on memberships (paused by a bulk load that drops the keys it uses;
# the person triggers fire on updates and deletes only).
PG_MEMBER_TRIGGER = "case_protected_member"
# The SQLite triggers (SQLite has no trigger functions: one trigger per event); the one on
# new members is paused by a bulk load too.
SQLITE_MEMBER_INSERT = "case_protected_member_insert"
SQLITE_TRIGGERS = (
    SQLITE_MEMBER_INSERT,
    "case_protected_member_delete",
    "case_protected_member_update",
    "case_protected_person_update",
    "case_protected_person_delete",
)


class CaseProtected(Base):
    """A case with a member (current or past) who has skyddade personuppgifter."""

    __tablename__ = "case_protected"
    __table_args__ = ({"sqlite_with_rowid": False},)

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fs_case.id", ondelete="CASCADE"), primary_key=True
    )


def raw_protected_case_ids() -> Select[Any]:
    """The definition, from the raw rows: ids of cases with a protected member (any period)."""
    return (
        select(HouseholdMember.case_id)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(Person.protection.is_not(None))
        .distinct()
    )


def rebuild(session: Session) -> None:
    """Recompute the whole table from the raw rows (after a load that paused the triggers)."""
    session.execute(delete(CaseProtected))
    session.execute(insert(CaseProtected).from_select(["case_id"], raw_protected_case_ids()))
