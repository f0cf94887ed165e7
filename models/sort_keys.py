"""Each case's applicant, as keys the register can sort by through an index.

Why this table exists: the register sorts 100,000 cases by the applicant's
name (in Swedish order) or personnummer and fetches them a keyset window at
a time. The applicant lives two joins away (``household_member`` →
``person``), and no index can order cases by a column of another table, so
every window would sort all matching cases first. This table holds, per
case, the applicant's stored sort key (``person.sort_key``, binary-comparable
in Swedish order, see services/text.py) and personnummer, next to the case
id, with an index on each: a window is an index range.

The raw rows stay the truth (the applicant is the member with role
``applicant`` and no end date, as the register shows it; ``''`` when there is
none): :func:`keys_query` computes the table from them and a test checks it
does after edits. Kept current in the same transaction as the changes, like
:mod:`models.stats`: session hooks note the cases a flush or a DML statement
touched (new cases, memberships, a person's name or number) and recompute
exactly their rows before commit; a statement that cannot be traced marks the
whole table for a rebuild. Bulk loads that bypass the ORM call :func:`rebuild`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ForeignKey, Index, Select, delete, func, insert, select
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, UOWTransaction, mapped_column

from models.base import Base, FoldedText
from models.bulk import touched_keys
from models.case import Case, HouseholdMember
from models.codes import MemberRole
from models.derived import CaseRows, changed, chunks, old_and_new
from models.person import Person

# Person columns the keys are made of: a change to any other column touches no key.
_PERSON_KEY_COLUMNS = frozenset({"sort_key", "personal_id", "first_name", "last_name"})


class CaseSortKey(Base):
    """A case's applicant as sort keys: name in Swedish order, personnummer."""

    __tablename__ = "case_sort_key"
    __table_args__ = (
        # With the case id (the key of a table without rowid, so in every index entry)
        # as the tie-breaker, each is a total order a keyset window can seek in.
        Index("ix_case_sort_key_applicant", "applicant", "case_id"),
        Index("ix_case_sort_key_personal_id", "personal_id", "case_id"),
        {"sqlite_with_rowid": False},
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fs_case.id", ondelete="CASCADE"), primary_key=True
    )
    applicant: Mapped[str] = mapped_column(FoldedText)  # person.sort_key, or ""
    personal_id: Mapped[str] = mapped_column(FoldedText)  # 12 digits, or ""


def keys_query(case_ids: Sequence[uuid.UUID] | None = None) -> Select[Any]:
    """(case_id, applicant, personal_id) computed from the cases, members and persons."""
    hm, p = HouseholdMember, Person
    stmt = (
        select(
            Case.id,
            func.coalesce(func.min(p.sort_key), ""),
            func.coalesce(func.min(p.personal_id), ""),
        )
        .outerjoin(
            hm,
            (hm.case_id == Case.id)
            & (hm.role == MemberRole.APPLICANT.value)
            & hm.valid_to.is_(None),
        )
        .outerjoin(p, p.id == hm.person_id)
        .group_by(Case.id)
    )
    if case_ids is not None:
        stmt = stmt.where(Case.id.in_(case_ids))
    return stmt


# The register's other index (revision 0012): a window's applicant and household read
# the members from it, without touching the member rows.
Index(
    "ix_household_member_case_role",
    HouseholdMember.case_id,
    HouseholdMember.role,
    HouseholdMember.valid_to,
    HouseholdMember.valid_from,
    HouseholdMember.person_id,
)


_COLS = ["case_id", "applicant", "personal_id"]


def refresh(session: Session, case_ids: Iterable[uuid.UUID]) -> None:
    """Recompute the rows of these cases."""
    for part in chunks(case_ids):
        session.execute(delete(CaseSortKey).where(CaseSortKey.case_id.in_(part)))
        session.execute(insert(CaseSortKey).from_select(_COLS, keys_query(part)))


def rebuild(session: Session) -> None:
    """Recompute the whole table (after a bulk load that bypassed the ORM)."""
    session.execute(delete(CaseSortKey))
    session.execute(insert(CaseSortKey).from_select(_COLS, keys_query()))
    loaded(session)


_rows = CaseRows("sort_keys", refresh=refresh, rebuild=rebuild)


def loaded(session: Session) -> None:
    """The whole table was just written, from the definition, by a bulk load that
    computed it itself (the demo seeding): nothing is pending, as after :func:`rebuild`."""
    _rows.loaded(session)


def sync(session: Session) -> None:
    """Bring this session's rows up to date now (before commit; readers may call it)."""
    _rows.sync(session)


# ---------------------------------------------------------------------------
# Keeping it current: session hooks (what touches a key; the rest is models.derived)


def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    # Persons: read before the flush, when the attribute history still shows the change.
    for obj in session.dirty:
        if isinstance(obj, Person) and changed(obj, _PERSON_KEY_COLUMNS):
            _rows.persons(session).add(obj.id)


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    cases = _rows.cases(session)
    for obj in session.new:  # a new case gets its row (no column of the case is a key)
        if isinstance(obj, Case):
            cases.add(obj.id)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, HouseholdMember):
            cases.update(old_and_new(obj, "case_id"))


def _do_orm_execute(state: ORMExecuteState) -> None:
    """A DML statement on a source table: note the cases it touches, or everything."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", "")
    if name not in ("fs_case", "household_member", "person") or table is None:
        return
    session = state.session
    if name == "person" and state.is_insert:
        return  # a new person belongs to no household yet
    if name == "fs_case" and not state.is_insert:
        return  # no column of the case is a key; a deleted case's row goes by cascade
    key = "case_id" if name == "household_member" else "id"
    ids = touched_keys(state, table, key)
    if ids is None:
        _rows.mark_all(session)
    elif name == "person":
        _rows.persons(session).update(ids)
    else:
        _rows.cases(session).update(ids)


def install() -> None:
    """Register the session hooks once per process (done when :mod:`models` is imported)."""
    _rows.install(
        before_flush=_before_flush, after_flush=_after_flush, do_orm_execute=_do_orm_execute
    )


install()
