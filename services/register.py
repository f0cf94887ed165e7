"""The desktop register: counts and keyset windows of cases, never the whole table.

The register shows 100,000 cases by holding only the rows fetched so far. A
window is the next ``limit`` cases after a key ``(number_year, number_seq)``
in case-number order, which the unique index on those columns serves
directly: the cost of a window does not grow with how far the user has
scrolled, unlike ``OFFSET``. Details that need other tables (household
counts, months with support, flags) are fetched for the window's ids only.

Each call is its own short read transaction, so a worker thread can call it
with no session shared across threads.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from models import Case, HouseholdMember, Person, User
from models.codes import STATUS_LABELS, CaseStatus, MemberRole
from models.stats import SupportYearCase
from services.access import sees_no_cases
from services.audit import Actor
from services.db import Database
from services.personal_id import format_personal_id
from services.search import (
    LONG_TERM_MONTHS_PER_YEAR,
    RegisterFilter,
    reference_month,
    register_conditions,
    search_window_ids,
)
from services.validation import age_on

WINDOW = 200

RegisterKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """One line of the desktop register. Never carries an address."""

    id: uuid.UUID
    key: RegisterKey
    case_number: str
    applicant_name: str
    personal_id: str  # YYYYMMDD-NNNN, or "" when the applicant has none
    status: CaseStatus
    caseworker_name: str
    is_focus: bool
    protected: bool = False
    adults: int = 0
    children: int = 0
    months_this_year: int = 0
    child_family: bool = False
    long_term: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def flags(self) -> list[str]:
        """Swedish markers for the register's flag column, in a fixed order."""
        out = []
        if self.protected:
            out.append("skyddad")
        if self.is_focus:
            out.append("fokus")
        if self.child_family:
            out.append("barnfamilj")
        if self.long_term:
            out.append("långvarig")
        return out


@dataclass
class _Details:
    adults: int = 0
    children: int = 0
    protected: bool = False
    child_family: bool = False
    months_this_year: int = 0
    long_term: bool = False


def _base_query(flt: RegisterFilter, today: date, actor: Actor | None = None) -> Select[Any]:
    applicant_m = aliased(HouseholdMember)
    applicant = aliased(Person)
    worker = aliased(User)
    return (
        select(
            Case.id,
            Case.number_year,
            Case.number_seq,
            Case.case_number,
            Case.status,
            Case.is_focus,
            applicant.first_name,
            applicant.last_name,
            applicant.personal_id,
            worker.full_name,
        )
        .outerjoin(
            applicant_m,
            and_(
                applicant_m.case_id == Case.id,
                applicant_m.role == MemberRole.APPLICANT.value,
                applicant_m.valid_to.is_(None),
            ),
        )
        .outerjoin(applicant, applicant.id == applicant_m.person_id)
        .outerjoin(worker, worker.id == Case.caseworker_id)
        # Windows walk the case-number index: per-case (correlated) flag tests.
        .where(*register_conditions(flt, today=today, correlated=True, actor=actor))
    )


def count_in(
    session: Session, flt: RegisterFilter, *, today: date, actor: Actor | None = None
) -> int:
    """How many cases match ``flt`` (conditions are on the case table alone: no joins)."""
    if sees_no_cases(actor):
        return 0
    conds = register_conditions(flt, today=today, actor=actor)
    stmt = select(func.count()).select_from(Case).where(*conds)
    return int(session.scalar(stmt) or 0)


def window_in(
    session: Session,
    flt: RegisterFilter,
    *,
    after: RegisterKey | None,
    limit: int,
    today: date,
    descending: bool = False,
    actor: Actor | None = None,
) -> list[RegisterRow]:
    """The next ``limit`` matching cases after ``after`` in case-number order (or reversed)."""
    if sees_no_cases(actor):
        return []
    year_col, seq_col = Case.number_year, Case.number_seq
    # A search finds its window's ids first, by the plan that suits the text
    # (services.search); the rows are then read for those ids only.
    ids = search_window_ids(
        session, flt, after=after, limit=limit, today=today, descending=descending, actor=actor
    )
    if ids is not None:
        if not ids:
            return []
        stmt = _base_query(RegisterFilter(), today).where(Case.id.in_(ids))
        after = None
    else:
        stmt = _base_query(flt, today, actor)
    if after is not None:
        year, seq = after
        # A row-value comparison: SQLite and PostgreSQL seek the index to the key. The
        # equivalent OR form made SQLite scan from the first case every time, so a
        # window deep in 100,000 cases cost 200 ms and Ctrl+End grew quadratically.
        key, bound = tuple_(year_col, seq_col), tuple_(literal(year), literal(seq))
        stmt = stmt.where(key < bound if descending else key > bound)
    if descending:
        stmt = stmt.order_by(year_col.desc(), seq_col.desc())
    else:
        stmt = stmt.order_by(year_col, seq_col)
    stmt = stmt.limit(limit)
    base = session.execute(stmt).all()
    details = _details(session, [r[0] for r in base], today)
    rows = []
    for r in base:
        d = details.get(r[0], _Details())
        first, last = r[6], r[7]
        rows.append(
            RegisterRow(
                id=r[0],
                key=(int(r[1]), int(r[2])),
                case_number=str(r[3]),
                applicant_name=f"{first} {last}" if first is not None else "",
                personal_id=format_personal_id(r[8]) if r[8] else "",
                status=CaseStatus(r[4]),
                caseworker_name=r[9] or "",
                is_focus=bool(r[5]),
                protected=d.protected,
                adults=d.adults,
                children=d.children,
                months_this_year=d.months_this_year,
                child_family=d.child_family,
                long_term=d.long_term,
            )
        )
    return rows


def _details(session: Session, ids: Sequence[uuid.UUID], today: date) -> dict[uuid.UUID, _Details]:
    """Household counts, protection and months with support for a window's cases."""
    out: dict[uuid.UUID, _Details] = defaultdict(_Details)
    if not ids:
        return out
    members = session.execute(
        select(HouseholdMember.case_id, HouseholdMember.role, Person.birth_date, Person.protection)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(
            HouseholdMember.case_id.in_(ids),
            HouseholdMember.valid_from <= today,
            or_(HouseholdMember.valid_to.is_(None), HouseholdMember.valid_to >= today),
        )
    )
    for case_id, role, birth, protection in members:
        d = out[case_id]
        if role == MemberRole.CHILD.value:
            d.children += 1
        else:
            d.adults += 1
        if protection is not None:
            d.protected = True
        if age_on(birth, today) < 18:
            d.child_family = True
    # Months with support this year (up to today) and the Långvarig flag, from the
    # per-year aggregate (models.stats, kept current with the months): two rows per
    # case instead of up to 24 raw months; a test checks both give the same.
    ref = reference_month(today)
    up_to_today = (1 << today.month) - 1
    up_to_ref = (1 << ref.month) - 1 if ref.year == today.year else 0
    sy = SupportYearCase
    years = session.execute(
        select(sy.case_id, sy.year, sy.months, sy.month_mask).where(
            sy.case_id.in_(ids), sy.year.in_((today.year - 1, today.year))
        )
    )
    previous: dict[uuid.UUID, int] = {}
    complete: dict[uuid.UUID, int] = {}
    for case_id, year, months, mask in years:
        if year == today.year:
            out[case_id].months_this_year = (int(mask) & up_to_today).bit_count()
            complete[case_id] = (int(mask) & up_to_ref).bit_count()
        else:
            previous[case_id] = int(months)
    for case_id in previous.keys() | complete.keys():
        out[case_id].long_term = (
            previous.get(case_id, 0) >= LONG_TERM_MONTHS_PER_YEAR
            or complete.get(case_id, 0) >= LONG_TERM_MONTHS_PER_YEAR
        )
    return out


class RegisterService:
    """Read-only queries behind the register; one short transaction per call.

    Safe to call from a worker thread: it keeps no session between calls.
    """

    def __init__(
        self,
        *,
        db: Database,
        today: Callable[[], date] = date.today,
        actor: Actor | None = None,
    ) -> None:
        """``actor``: list only the cases they may open (None: every case, command line)."""
        self._db = db
        self._today = today
        self._actor = actor

    @property
    def backend_label(self) -> str:
        """ "SQLite" or "PostgreSQL", for the status bar."""
        return "SQLite" if self._db.is_sqlite else "PostgreSQL"

    def count(self, flt: RegisterFilter) -> int:
        with self._db.begin() as s:
            return count_in(s, flt, today=self._today(), actor=self._actor)

    def window(
        self,
        flt: RegisterFilter,
        after_key: RegisterKey | None = None,
        limit: int = WINDOW,
        *,
        descending: bool = False,
    ) -> list[RegisterRow]:
        """The next cases after ``after_key`` (None: from the start), oldest or newest first."""
        with self._db.begin() as s:
            return window_in(
                s,
                flt,
                after=after_key,
                limit=limit,
                today=self._today(),
                descending=descending,
                actor=self._actor,
            )
