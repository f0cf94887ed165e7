"""Months with support per household and per person and calendar year, kept current.

Why this table exists: the dashboard and ``python main.py stats`` count, over
a whole register, the households and persons with 10 or more months in a
year and the months inside a 36-month window. Counted from the raw
``support_month`` rows (joined with ``household_member`` for persons) that
took about 2 s at 100,000 cases; read from one row per subject and year it
takes a fraction of that. The raw months stay the truth: every figure here
can be recomputed from them, and a test checks that it is after random edits.

Each row holds the number of months and a 12-bit mask of them (bit 0 =
January), so a part of a year (up to the reference month, the start of the
36-month window) is a mask and a bit count, not another scan of the months.

Kept up to date in the same transaction as the months it sums, for every
writer that goes through the ORM (support months, household memberships):
:func:`install` registers session hooks that note the households and
persons a flush touched and recompute exactly their rows before the
transaction commits (or earlier, when a reader calls :func:`sync`). Bulk
loads that bypass the ORM (the demo seeding's raw inserts) call
:func:`rebuild` afterwards, inside their own transaction. A DML statement
run through a session against either source table (``session.execute(
insert(SupportMonth) …)``) cannot be traced to subjects and marks the whole
table for a rebuild at commit: correct, just slower.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Select,
    and_,
    cast,
    delete,
    distinct,
    event,
    extract,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    UOWTransaction,
    aliased,
    mapped_column,
)
from sqlalchemy.sql.elements import ColumnElement

from models.base import Base
from models.bulk import touched_keys
from models.case import HouseholdMember, SupportMonth
from models.person import Person

FULL_YEAR_MASK = 0xFFF
_CHUNK = 500
_INFO_PENDING = "fokus_support_year_pending"
_INFO_ALL = "fokus_support_year_all"


class SupportYearCase(Base):
    """A household's (case's) months with support in one calendar year."""

    __tablename__ = "support_year_case"
    __table_args__ = (
        # Covering index for the register-wide counts of one or a few years; with the
        # months second, "10 or more months in year Y" is a range of it.
        Index("ix_support_year_case_months", "year", "months", "case_id", "month_mask"),
        # SQLite: the key is the table, so a (case_id, year) lookup reads no second B-tree.
        {"sqlite_with_rowid": False},
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fs_case.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    months: Mapped[int] = mapped_column()
    month_mask: Mapped[int] = mapped_column()


class SupportYearPerson(Base):
    """A person's distinct months with support in one calendar year, over all households."""

    __tablename__ = "support_year_person"
    __table_args__ = (
        Index(
            "ix_support_year_person_months",
            "year",
            "months",
            "person_id",
            "month_mask",
            "prior_mask",
        ),
        {"sqlite_with_rowid": False},
    )

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    months: Mapped[int] = mapped_column()
    month_mask: Mapped[int] = mapped_column()
    # The months of the three years before, as one 36-bit mask (bit 12*k + month - 1 for
    # year - 3 + k): with month_mask the 48 months up to December of this year, so the
    # thresholds reached in a month (a run of 6 or 3, 27 of 36) are read from one row.
    prior_mask: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


# The yearly counts and the Långvariga view join persons for their age and the mental
# ill-health flag: with this covering index that join reads
# a small index instead of the wide person rows (0.45 s → 0.13 s at 235,000 persons).
Index("ix_person_support_stats", Person.id, Person.birth_date, Person.mental_ill_health)
# … and the children's memberships of a household without reading the membership rows.
Index(
    "ix_household_member_case_period",
    HouseholdMember.case_id,
    HouseholdMember.person_id,
    HouseholdMember.valid_from,
    HouseholdMember.valid_to,
)


# ---------------------------------------------------------------------------
# The definition, as SQL (the same for a refresh and a rebuild)


def _int(expr: Any) -> ColumnElement[int]:
    return cast(expr, Integer)


def _year(col: Any) -> ColumnElement[int]:
    return _int(extract("year", col))


def _month_no(col: Any) -> ColumnElement[int]:
    return _int(extract("month", col))


def _month_bit(col: Any) -> ColumnElement[int]:
    """``1 << (month - 1)``: the month's bit in the year's mask."""
    return literal_column("1", Integer).op("<<", return_type=Integer)(_month_no(col) - 1)


def _index(col: Any) -> ColumnElement[int]:
    return _year(col) * literal_column("12", Integer) + _month_no(col)


def member_in_month(month_col: Any) -> ColumnElement[bool]:
    """A ``household_member`` period active on at least one day of the month."""
    hm = HouseholdMember
    return and_(
        or_(hm.valid_to.is_(None), hm.valid_to >= month_col),
        or_(hm.valid_from <= month_col, _index(hm.valid_from) <= _index(month_col)),
    )


def case_years_query(case_ids: Sequence[uuid.UUID] | None = None) -> Select[Any]:
    """(case_id, year, months, month_mask) computed from ``support_month``."""
    sm = SupportMonth
    year = _year(sm.month)
    stmt = select(sm.case_id, year, func.count(), func.sum(_month_bit(sm.month))).group_by(
        sm.case_id, year
    )
    if case_ids is not None:
        stmt = stmt.where(sm.case_id.in_(case_ids))
    return stmt


def person_years_query(person_ids: Sequence[uuid.UUID] | None = None) -> Select[Any]:
    """(person_id, year, months, month_mask) from memberships and their households' months.

    A month counts once even when the person belonged to two supported
    households in it, hence the distinct month and the sum of distinct bits
    (within a year, distinct months have distinct bits).
    """
    hm, sm = HouseholdMember, SupportMonth
    year = _year(sm.month)
    stmt = (
        select(
            hm.person_id,
            year,
            func.count(distinct(sm.month)),
            func.sum(distinct(_month_bit(sm.month))),
        )
        .join(sm, sm.case_id == hm.case_id)
        .where(member_in_month(sm.month))
        .group_by(hm.person_id, year)
    )
    if person_ids is not None:
        stmt = stmt.where(hm.person_id.in_(person_ids))
    return stmt


_CASE_COLS = ["case_id", "year", "months", "month_mask"]
_PERSON_COLS = ["person_id", "year", "months", "month_mask"]


def _chunks(ids: Iterable[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    values = sorted(set(ids))
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def prior_masks_update() -> Any:
    """UPDATE of ``support_year_person.prior_mask`` from the person's rows of the three
    years before each row (narrow it with ``.where``)."""
    py, other = SupportYearPerson, aliased(SupportYearPerson)
    shift = literal_column("12", Integer) * (other.year - py.year + literal_column("3", Integer))
    bits = cast(other.month_mask, BigInteger).op("<<", return_type=BigInteger)(shift)
    prior = (
        select(cast(func.coalesce(func.sum(bits), 0), BigInteger))
        .where(
            other.person_id == py.person_id,
            other.year >= py.year - literal_column("3", Integer),
            other.year < py.year,
        )
        .scalar_subquery()
    )
    return update(py).values(prior_mask=prior).execution_options(synchronize_session=False)


def refresh(
    session: Session,
    *,
    case_ids: Iterable[uuid.UUID] = (),
    person_ids: Iterable[uuid.UUID] = (),
) -> None:
    """Recompute the rows of these households, of every person who was ever a member of
    one of them, and of these persons."""
    cy, py = SupportYearCase, SupportYearPerson
    persons = set(person_ids)
    for part in _chunks(case_ids):
        session.execute(delete(cy).where(cy.case_id.in_(part)))
        session.execute(insert(cy).from_select(_CASE_COLS, case_years_query(part)))
        persons.update(
            session.scalars(
                select(HouseholdMember.person_id).where(HouseholdMember.case_id.in_(part))
            )
        )
    for part in _chunks(persons):
        session.execute(delete(py).where(py.person_id.in_(part)))
        session.execute(insert(py).from_select(_PERSON_COLS, person_years_query(part)))
        session.execute(prior_masks_update().where(py.person_id.in_(part)))


def rebuild(session: Session) -> None:
    """Recompute the whole table (after a bulk load that bypassed the ORM)."""
    session.execute(delete(SupportYearCase))
    session.execute(delete(SupportYearPerson))
    session.execute(insert(SupportYearCase).from_select(_CASE_COLS, case_years_query()))
    session.execute(insert(SupportYearPerson).from_select(_PERSON_COLS, person_years_query()))
    session.execute(prior_masks_update())
    loaded(session)


def loaded(session: Session) -> None:
    """The whole table was just written, from the definition, by a bulk load that
    computed it itself (the demo seeding): nothing is pending, as after :func:`rebuild`."""
    pending = _pending(session)
    pending.clear()
    pending.rebuilt = True
    session.info.pop(_INFO_ALL, None)


# ---------------------------------------------------------------------------
# Keeping it current: session hooks


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_INFO_PENDING)
    if not isinstance(pending, _Pending):
        pending = session.info[_INFO_PENDING] = _Pending()
    return pending


class _Pending:
    """Households and persons whose rows wait for a refresh in this session.

    Those already refreshed in this transaction are kept too (``done_*``):
    rolling back a savepoint undoes a refresh made inside it, so they are
    refreshed again.
    """

    def __init__(self) -> None:
        self.cases: set[uuid.UUID] = set()
        self.persons: set[uuid.UUID] = set()
        self.done_cases: set[uuid.UUID] = set()
        self.done_persons: set[uuid.UUID] = set()
        self.rebuilt = False

    def clear(self) -> None:
        self.cases.clear()
        self.persons.clear()

    def mark_done(self) -> None:
        self.done_cases |= self.cases
        self.done_persons |= self.persons
        self.clear()

    def reset(self) -> None:
        self.clear()
        self.done_cases.clear()
        self.done_persons.clear()
        self.rebuilt = False

    def __bool__(self) -> bool:
        return bool(self.cases or self.persons)


def _old_and_new(obj: Any, attr: str) -> set[Any]:
    from sqlalchemy import inspect as sa_inspect

    history = sa_inspect(obj).attrs[attr].history
    values = {getattr(obj, attr)}
    values.update(history.deleted or ())
    values.update(history.added or ())
    values.discard(None)
    return values


def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    pending = _pending(session)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, SupportMonth):
            pending.cases.update(_old_and_new(obj, "case_id"))
        elif isinstance(obj, HouseholdMember):
            pending.persons.update(_old_and_new(obj, "person_id"))


_KEYS = {SupportMonth.__tablename__: "case_id", HouseholdMember.__tablename__: "person_id"}


def _do_orm_execute(state: ORMExecuteState) -> None:
    """A DML statement on a source table: note the subjects it touches, or everything.

    INSERT with parameter rows: the ids in them. UPDATE/DELETE with a WHERE
    clause: the ids of the rows it matches, read before it runs (and, for an
    UPDATE that moves rows to another subject, everything). Anything else
    marks the whole table for a rebuild at commit.
    """
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    key = _KEYS.get(getattr(table, "name", ""))
    if key is None or table is None:
        return
    ids = touched_keys(state, table, key)
    if ids is None:
        state.session.info[_INFO_ALL] = True
        return
    pending = _pending(state.session)
    (pending.cases if key == "case_id" else pending.persons).update(ids)


def sync(session: Session) -> None:
    """Bring this session's rows up to date now (readers call it before counting)."""
    session.flush()
    if session.info.pop(_INFO_ALL, False):
        rebuild(session)
        return
    pending = _pending(session)
    if pending:
        cases, persons = set(pending.cases), set(pending.persons)
        pending.mark_done()
        refresh(session, case_ids=cases, person_ids=persons)


def _before_commit(session: Session) -> None:
    # Commit flushes only after this hook: flush here so the last changes are seen too.
    sync(session)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    """A savepoint rolled back: what was refreshed in this transaction is refreshed again."""
    if not session.in_transaction():
        return
    pending = _pending(session)
    if pending.rebuilt:
        session.info[_INFO_ALL] = True
    pending.cases |= pending.done_cases
    pending.persons |= pending.done_persons


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        _pending(session).reset()
        session.info.pop(_INFO_ALL, None)


_installed = False


def install() -> None:
    """Register the session hooks once per process (done when :mod:`models` is imported)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _do_orm_execute)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    event.listen(Session, "after_transaction_end", _after_transaction_end)
    _installed = True


install()
