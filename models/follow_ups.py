"""Each case's unanswered follow-up date, so the dashboard counts them in one index range.

Why this table exists: a case asks for a follow-up when its latest contact
note (newest ``occurred_at``, then newest ``created_at``) has a
``follow_up_on`` date and no note corrects it; any later note answers it. The
dashboard and the follow-up list counted these by finding every case's latest
note, one index probe per case: 100,000 probes, 0.2–0.3 s on SQLite and about
1.2 s on PostgreSQL at 100,000 cases, to find the few thousand that ask. This
table holds one row per asking case (case id, date, the note), indexed by
date, so "due by today" is a range of it.

The notes stay the truth: :func:`due_query` computes the rows from them (the
same correlated "latest note" the list used, read from the index
``ix_contact_entry_case_latest``) and a test checks the table against it after
random edits. Kept current in the same transaction as the notes, like
:mod:`models.sort_keys`: session hooks note the cases whose notes a flush or a
DML statement touched and recompute exactly their rows before commit (readers
call :func:`sync` first, so a transaction sees its own notes); a statement
that cannot be traced marks the whole table for a rebuild. Bulk loads that
bypass the ORM call :func:`rebuild`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ForeignKey, Index, Select, delete, exists, insert, select
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, UOWTransaction, aliased, mapped_column

from models.base import Base
from models.bulk import touched_keys
from models.case import Case
from models.contact import ContactEntry
from models.derived import CaseRows, chunks, old_and_new


class CaseFollowUp(Base):
    """A case whose latest contact note asks for a follow-up that no note has answered."""

    __tablename__ = "case_follow_up"
    __table_args__ = (
        # "Due by D" is a range; the case id (the key, in every entry) joins the case.
        Index("ix_case_follow_up_due", "due_on", "case_id"),
        {"sqlite_with_rowid": False},
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fs_case.id", ondelete="CASCADE"), primary_key=True
    )
    due_on: Mapped[date] = mapped_column()
    # The asking note (no foreign key: a deleted draft's row is recomputed at the flush).
    note_id: Mapped[uuid.UUID] = mapped_column()


def latest_note(column: str, case: Any) -> Any:
    """The latest contact note's ``column`` for ``case`` (correlated; newest
    ``occurred_at``, then newest ``created_at``), read from the index
    (case_id, occurred_at, created_at, follow_up_on, id) alone."""
    note = aliased(ContactEntry)
    return (
        select(getattr(note, column))
        .where(note.case_id == case.id)
        .order_by(note.occurred_at.desc(), note.created_at.desc())
        .limit(1)
        .correlate(case)
        .scalar_subquery()
    )


def due_query(case_ids: Sequence[uuid.UUID] | None = None) -> Select[Any]:
    """(case_id, due_on, note_id) computed from the notes: every case whose latest note
    has a follow-up date and is corrected by no note (the reference definition).

    The date is read from the latest note found (not from a second "latest"
    lookup), so the two always belong to the same note.
    """
    latest = select(Case.id.label("case_id"), latest_note("id", Case).label("note_id"))
    if case_ids is not None:
        latest = latest.where(Case.id.in_(case_ids))
    sub = latest.subquery("latest")
    note, correction = ContactEntry, aliased(ContactEntry)
    return (
        select(sub.c.case_id, note.follow_up_on, sub.c.note_id)
        .join(note, note.id == sub.c.note_id)
        .where(
            note.follow_up_on.is_not(None),
            ~exists(select(correction.id).where(correction.corrects_id == sub.c.note_id)),
        )
    )


_COLS = ["case_id", "due_on", "note_id"]


def refresh(session: Session, case_ids: Iterable[uuid.UUID]) -> None:
    """Recompute the rows of these cases."""
    for part in chunks(case_ids):
        session.execute(delete(CaseFollowUp).where(CaseFollowUp.case_id.in_(part)))
        session.execute(insert(CaseFollowUp).from_select(_COLS, due_query(part)))


def rebuild(session: Session) -> None:
    """Recompute the whole table (after a bulk load that bypassed the ORM)."""
    session.execute(delete(CaseFollowUp))
    session.execute(insert(CaseFollowUp).from_select(_COLS, due_query()))
    _rows.loaded(session)


# ---------------------------------------------------------------------------
# Keeping it current: session hooks (what touches a case's notes; the rest is models.derived)


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    cases = _rows.cases(session)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, ContactEntry):
            cases.update(old_and_new(obj, "case_id"))


def _do_orm_execute(state: ORMExecuteState) -> None:
    """A DML statement on the notes: note the cases it touches, or everything."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", "") != ContactEntry.__tablename__ or table is None:
        return
    ids = touched_keys(state, table, "case_id")
    if ids is None:
        _rows.mark_all(state.session)
    else:
        _rows.cases(state.session).update(ids)


def _with_corrected_cases(session: Session, cases: set[Any]) -> set[Any]:
    """``cases`` and the cases of the notes their notes correct (a correction answers
    the note it corrects, wherever that note is)."""
    note, target = ContactEntry, aliased(ContactEntry)
    found = set(cases)
    for part in chunks(cases):
        found.update(
            session.scalars(
                select(target.case_id)
                .join(note, note.corrects_id == target.id)
                .where(note.case_id.in_(part), target.case_id.not_in(part))
                .distinct()
            )
        )
    return found


_rows = CaseRows("follow_up", refresh=refresh, rebuild=rebuild, expand=_with_corrected_cases)


def sync(session: Session) -> None:
    """Bring this session's rows up to date now (before commit; readers call it)."""
    _rows.sync(session)


def install() -> None:
    """Register the session hooks once per process (done when :mod:`models` is imported)."""
    _rows.install(after_flush=_after_flush, do_orm_execute=_do_orm_execute)


install()
