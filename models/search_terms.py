"""The register's name search as an index ordered by name term and case number.

Why this table exists: a name search shows the first 200 matching cases in
case-number order. Matching is by person (``person.search_*``) and the order
by case, two joins away, so without this table a search either lists every
case of every matching person and sorts them (cost grows with the persons:
~5 µs each), or walks the case-number index asking each case whether a member
matches (cost grows with how far it must walk). For prefixes matching a few
thousand persons both cost 20–45 ms. Here each (name term, case) pair is one
index entry holding the case number: a prefix is one range of this index, read
without touching a person, member or case row, and its first cases in
case-number order come from a top-N sort of that range (services/search.py).

What a term is: today's search matches a case when any person who is or was
a member of its household (any role, any dates) has a ``search_first``,
``search_last``, ``search_full`` ("first last") or ``search_full_rev`` ("last
first") starting with the folded text. The terms of a person are those four
values, less a first or last name that is itself a prefix of the full form
beginning with it (every prefix of it is then a prefix of that full form, so
it finds nothing more): usually just the two full forms.

The raw rows stay the truth: :func:`terms_query` computes the table from
them and a test checks it does after edits. Kept current in the same
transaction as the changes, like :mod:`models.sort_keys`: session hooks note
the cases a flush or a DML statement touched (memberships, a person's name,
a case's number — offline provisional numbers get real ones at sync) and
recompute exactly their rows before commit; a statement that cannot be traced
marks the whole table for a rebuild. Bulk loads that bypass the ORM call
:func:`rebuild`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    ForeignKey,
    Index,
    Select,
    Table,
    delete,
    func,
    insert,
    literal_column,
    select,
    union,
)
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, UOWTransaction, mapped_column

from models.base import Base, FoldedText
from models.bulk import touched_keys
from models.case import Case, HouseholdMember
from models.derived import CaseRows, changed, chunks, old_and_new
from models.person import Person

# Columns the terms are made of: a change to any other column touches no term.
_PERSON_TERM_COLUMNS = frozenset({"search_first", "search_last", "search_full", "search_full_rev"})
_CASE_TERM_COLUMNS = frozenset({"number_year", "number_seq"})
_MEMBER_TERM_COLUMNS = frozenset({"case_id", "person_id"})


class SearchTerm(Base):
    """One name term of a (past or present) household member, with its case's number."""

    __tablename__ = "search_term"
    __table_args__ = (
        # For refreshing a case's rows.
        Index("ix_search_term_case_id", "case_id"),
        {"sqlite_with_rowid": False},
    )

    # The key is the search's index: a prefix is a range of it, and each entry carries
    # the case number it is ordered by next, so a search reads nothing else.
    term: Mapped[str] = mapped_column(FoldedText, primary_key=True)
    number_year: Mapped[int] = mapped_column(primary_key=True)
    number_seq: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fs_case.id", ondelete="CASCADE"), primary_key=True
    )


_COLS = ["term", "number_year", "number_seq", "case_id"]


def terms_query(case_ids: Sequence[uuid.UUID] | None = None) -> CompoundSelect[Any]:
    """(term, number_year, number_seq, case_id), distinct, computed from the raw rows."""
    hm, p, c = HouseholdMember, Person, Case

    def part(term: Any, *where: Any) -> Select[Any]:
        stmt = (
            select(term.label("term"), c.number_year, c.number_seq, c.id)
            .select_from(hm)
            .join(p, p.id == hm.person_id)
            .join(c, c.id == hm.case_id)
            .where(*where)
        )
        if case_ids is not None:
            stmt = stmt.where(hm.case_id.in_(case_ids))
        return stmt

    def not_prefix_of(short: Any, full: Any) -> Any:
        return func.substr(full, 1, func.length(short)) != short

    # UNION (not UNION ALL): one row per (term, case) however many members share it.
    return union(
        part(p.search_full),
        part(p.search_full_rev),
        part(p.search_first, not_prefix_of(p.search_first, p.search_full)),
        part(p.search_last, not_prefix_of(p.search_last, p.search_full_rev)),
    ).order_by(literal_column("term"))


def refresh(session: Session, case_ids: Iterable[uuid.UUID]) -> None:
    """Recompute the rows of these cases."""
    for part in chunks(case_ids):
        session.execute(delete(SearchTerm).where(SearchTerm.case_id.in_(part)))
        session.execute(insert(SearchTerm).from_select(_COLS, terms_query(part)))


def rebuild(session: Session, *, bulk: bool = False) -> None:
    """Recompute the whole table (after a bulk load that bypassed the ORM): one
    INSERT … SELECT, in the key's order.

    ``bulk`` (seeding a new database, no other user): the case-id index is dropped
    and made again after the insert, which sorts once instead of inserting 470,000
    entries in random order (100,000 cases, SQLite: 8.5–10.0 s CPU → 6.4–7.0 s).
    """
    session.execute(delete(SearchTerm))
    table = SearchTerm.__table__
    assert isinstance(table, Table)
    indexes = list(table.indexes) if bulk else []
    for index in indexes:
        index.drop(session.connection())
    session.execute(insert(SearchTerm).from_select(_COLS, terms_query()))
    for index in indexes:
        index.create(session.connection())
    loaded(session)


_rows = CaseRows("search_terms", refresh=refresh, rebuild=rebuild)


def loaded(session: Session) -> None:
    """The whole table was just written, from the definition, by a bulk load that
    computed it itself (the demo seeding): nothing is pending, as after :func:`rebuild`."""
    _rows.loaded(session)


def sync(session: Session) -> None:
    """Bring this session's rows up to date now (before commit; readers may call it)."""
    _rows.sync(session)


# ---------------------------------------------------------------------------
# Keeping it current: session hooks (what touches a term; the rest is models.derived)


def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    # Read before the flush, when the attribute history still shows the change.
    for obj in session.dirty:
        if isinstance(obj, Person) and changed(obj, _PERSON_TERM_COLUMNS):
            _rows.persons(session).add(obj.id)
        elif isinstance(obj, Case) and changed(obj, _CASE_TERM_COLUMNS):
            _rows.cases(session).add(obj.id)  # renumbered (a provisional number made real)


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    # A new case has no members yet, or gets them in this flush: they name it.
    cases = _rows.cases(session)
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, HouseholdMember):
            cases.update(old_and_new(obj, "case_id"))
    for obj in session.dirty:
        if isinstance(obj, HouseholdMember) and changed(obj, _MEMBER_TERM_COLUMNS):
            cases.update(old_and_new(obj, "case_id"))


def _set_columns(state: ORMExecuteState) -> set[str] | None:
    """The columns an UPDATE sets, or None when they cannot be told."""
    stmt: Any = state.statement
    if getattr(stmt, "_multi_values", None) or getattr(stmt, "_ordered_values", None):
        return None
    names = {str(getattr(c, "key", c)) for c in (getattr(stmt, "_values", None) or {})}
    params: Any = state.parameters
    rows: list[Any] = list(params) if isinstance(params, list) else [params] if params else []
    for r in rows:
        names.update(str(k) for k in r)
    return names


def _do_orm_execute(state: ORMExecuteState) -> None:
    """A DML statement on a source table: note the cases it touches, or everything."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", "")
    if name not in ("fs_case", "household_member", "person") or table is None:
        return
    session = state.session
    if name != "household_member" and not state.is_update:
        # A new person belongs to no household yet, a new case has no members yet, and
        # a deleted case's rows go by cascade (a person is deleted after its memberships).
        return
    if state.is_update:
        columns = _set_columns(state)
        relevant = {
            "fs_case": _CASE_TERM_COLUMNS,
            "person": _PERSON_TERM_COLUMNS,
            "household_member": _MEMBER_TERM_COLUMNS,
        }[name]
        if columns is not None and not columns & relevant:
            return
    ids = touched_keys(state, table, "case_id" if name == "household_member" else "id")
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
