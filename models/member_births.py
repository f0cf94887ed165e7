"""Each household membership with the member's birth date, so "a child in the household"
is one index seek.

Why this table exists: the dashboard and ``python main.py stats`` count the
long-term households with a member under 18 (on a date, or in one of the
year's supported months): for each of about 38,000 households at 100,000
cases, the members were read from ``household_member`` and each member's
birth date from ``person``, four or five index probes per household — about
0.4 s of the dashboard's and the statistics' time together. Here the
memberships are keyed by household and birth date, so the question "a member
born after D, belonging to it then?" is one seek into the household's range
that reads only its children.

The raw rows stay the truth: :func:`births_query` computes the table from
``household_member`` and ``person`` and a test checks it after random edits.
Kept current in the same transaction, like :mod:`models.sort_keys`: session
hooks note the households whose memberships changed and the persons whose
birth date changed (a flush or a DML statement) and recompute exactly those
households' rows before commit (readers call :func:`sync` first); a statement
that cannot be traced marks the whole table for a rebuild. Bulk loads that
bypass the ORM call :func:`rebuild`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ForeignKey, Index, Select, delete, insert, select
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, UOWTransaction, mapped_column

from models.base import Base
from models.bulk import touched_keys
from models.case import HouseholdMember
from models.derived import CaseRows, changed, chunks, old_and_new
from models.person import Person


class MemberBirth(Base):
    """A household membership (its period) with the member's birth date."""

    __tablename__ = "member_birth"
    __table_args__ = (
        # A household's members by birth date, with their periods: "a member born after D
        # belonging to it on a day (or in a month)" reads that household's children only.
        Index("ix_member_birth_case", "case_id", "birth_date", "valid_from", "valid_to"),
        {"sqlite_with_rowid": False},
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("household_member.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fs_case.id", ondelete="CASCADE"))
    birth_date: Mapped[date] = mapped_column()
    valid_from: Mapped[date] = mapped_column()
    valid_to: Mapped[date | None] = mapped_column()


def births_query(case_ids: Sequence[uuid.UUID] | None = None) -> Select[Any]:
    """(member_id, case_id, birth_date, valid_from, valid_to) from the memberships and persons."""
    hm = HouseholdMember
    stmt = select(hm.id, hm.case_id, Person.birth_date, hm.valid_from, hm.valid_to).join(
        Person, Person.id == hm.person_id
    )
    if case_ids is not None:
        stmt = stmt.where(hm.case_id.in_(case_ids))
    return stmt


_COLS = ["member_id", "case_id", "birth_date", "valid_from", "valid_to"]


def refresh(session: Session, case_ids: Iterable[uuid.UUID]) -> None:
    """Recompute the rows of these households."""
    for part in chunks(case_ids):
        session.execute(delete(MemberBirth).where(MemberBirth.case_id.in_(part)))
        session.execute(insert(MemberBirth).from_select(_COLS, births_query(part)))


def rebuild(session: Session) -> None:
    """Recompute the whole table (after a bulk load that bypassed the ORM)."""
    session.execute(delete(MemberBirth))
    # In key order: appended to the table's B-tree, not scattered (about 0.65x the CPU).
    ordered = births_query().order_by(HouseholdMember.id)
    session.execute(insert(MemberBirth).from_select(_COLS, ordered))
    loaded(session)


_rows = CaseRows("member_births", refresh=refresh, rebuild=rebuild)


def loaded(session: Session) -> None:
    """The whole table was just written, from the definition, by a bulk load that
    computed it itself (the demo seeding): nothing is pending, as after :func:`rebuild`."""
    _rows.loaded(session)


def sync(session: Session) -> None:
    """Bring this session's rows up to date now (before commit; readers call it)."""
    _rows.sync(session)


# ---------------------------------------------------------------------------
# Keeping it current: session hooks (what touches a row; the rest is models.derived)


def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    # Persons: read before the flush, when the attribute history still shows the change.
    for obj in session.dirty:
        if isinstance(obj, Person) and changed(obj, ("birth_date",)):
            _rows.persons(session).add(obj.id)


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    cases = _rows.cases(session)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, HouseholdMember):
            cases.update(old_and_new(obj, "case_id"))


def _do_orm_execute(state: ORMExecuteState) -> None:
    """A DML statement on a source table: note the households it touches, or everything."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", "")
    if name not in ("household_member", "person") or table is None:
        return
    if name == "person" and state.is_insert:
        return  # a new person belongs to no household yet
    session = state.session
    ids = touched_keys(state, table, "case_id" if name == "household_member" else "id")
    if ids is None:
        _rows.mark_all(session)
    else:
        (_rows.persons(session) if name == "person" else _rows.cases(session)).update(ids)


def install() -> None:
    """Register the session hooks once per process (done when :mod:`models` is imported)."""
    _rows.install(
        before_flush=_before_flush, after_flush=_after_flush, do_orm_execute=_do_orm_execute
    )


install()
