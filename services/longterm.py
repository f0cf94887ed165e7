"""Time on support: the clocks per person and household, the Långvariga view and statistics.

Why this module exists: the units Fokus serves are measured by how many
long-term clients leave försörjningsstöd, and the rules that follow from time
on support (jobbstimulans, the aktivitetskrav) apply to *individuals*, who
move between households. Every figure here is therefore computed the same
way for a person and for a household, in SQL, identically on SQLite and
PostgreSQL (window functions; SQLite ≥ 3.25), and never by looping over
months in Python.

Definitions (the single place they are written down):

* **Reference dates.** ``as_of`` defaults to today. The *reference month* is
  the last complete calendar month before ``as_of`` (for 2026-11-20 it is
  2026-10). A *year* is a calendar year, by default the last complete one
  (``as_of.year - 1``); the *current year* is ``as_of.year``. Nothing after
  the reference month is counted, so every figure is "as of" one month end,
  also when a month later in the year is already recorded.
* **A household's months** are its case's ``support_month`` rows.
* **A person's months** are the distinct months for which some household the
  person belonged to received support. A person belongs to a household in a
  month when a ``household_member`` period of that case is active on at
  least one day of the month (``valid_from`` on or before the month's last
  day, ``valid_to`` empty or on or after its first day). A person who moves
  mid-month between two supported households counts that month once; both
  households count it. Closing a case does not end memberships, so a person
  whose closed case is followed by a new one simply has months in both.
* **Långvarig for a year**: at least 10 months with support in that calendar
  year (Socialstyrelsen's definition, also used by Kolada).
* **The register's Långvarig flag**: långvarig in the last complete year, or
  already 10 months in the current year up to the reference month.
* **The current run**: the consecutive months with support ending at the
  reference month (0 when the reference month has none). Its first month is
  ``run_started``.
* **Jobbstimulans** (prop. 2012/13:94) is reached in the 6th consecutive month
  of the run: ``run_started + 5 months``.
* **Aktivitetskrav** applies to anyone with 3 consecutive months or more,
  from 2026-07-01. Months before that date count toward the three (the
  requirement is about the time on support, not about when it began), but
  the requirement cannot be reached before it applies: the month reached is
  ``max(run_started + 2 months, 2026-07)``. A run that ended before 2026-07
  never reaches it.
* **Mycket långvarig** (a comparison measure whose official definition was
  not confirmed): at least ``Settings.long_term_threshold_months`` (27) of the
  ``Settings.long_term_window_months`` (36) months ending at the reference
  month, labelled as a setting wherever it is shown.
* **Barn** in a household: a member under 18 on ``as_of``. In the Långvariga
  view the member must belong to the household on ``as_of``; in the yearly
  statistics the member must belong to it in one of the year's supported
  months (the household as it was that year, the age as of now).
* **A person's outcome**: their ``person_outcome`` row where one exists (an
  empty outcome there means "none for this person"); otherwise, for a closed
  case with an outcome, every adult member (not ``barn``) belonging to the
  household on the closing day gets the case's outcome, dated the closing
  day.

Register-wide figures (the Långvarig flag, the Långvariga view, the
statistics, the dashboard) read the aggregate of ``models/stats.py`` — one
row per household or person and calendar year with a month count and a
12-bit month mask — instead of the raw months: on a 100,000-case demo
register (2.45 million support months, 235,000 persons) the raw counting
took about 2–4 s for :func:`stats`, mostly the persons' distinct months. The
aggregate is kept current in the same transaction as the months it sums, and
every reader here first calls :func:`models.stats.sync` so that a
transaction sees its own edits. The raw definitions stay here
(:func:`stats_from_months`, :func:`long_term_case_ids_from_months`, the
clocks) and the tests check that both give the same figures. One person's or
household's clock reads the raw months (a few milliseconds): it needs the
runs across years, which the masks would only complicate.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    distinct,
    exists,
    extract,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Select, Subquery
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.types import TypeEngine

from models import (
    Case,
    HouseholdMember,
    Person,
    PersonOutcome,
    SupportMonth,
    SupportYearCase,
    SupportYearPerson,
    User,
)
from models.codes import OUTCOME_LABELS, CaseStatus, MemberRole, Outcome, Role
from models.member_births import MemberBirth
from models.member_births import sync as sync_member_births
from models.stats import FULL_YEAR_MASK
from models.stats import sync as sync_support_years
from services.audit import Actor
from services.caseload import OPEN_STATUSES
from services.db import Database
from services.settings import Settings

LONG_TERM_MONTHS = 10
JOBBSTIMULANS_MONTHS = 6
AKTIVITETSKRAV_MONTHS = 3
AKTIVITETSKRAV_FROM = date(2026, 7, 1)
ADULT_AGE = 18


# ---------------------------------------------------------------------------
# Reference dates and month arithmetic


def month_index(d: date) -> int:
    """Months since year 0: consecutive months have consecutive indexes."""
    return d.year * 12 + d.month - 1


def month_from_index(i: int) -> date:
    return date(i // 12, i % 12 + 1, 1)


def add_months(month: date, n: int) -> date:
    return month_from_index(month_index(month) + n)


def _sql_month_index(col: Any) -> ColumnElement[int]:
    """The same index in SQL (``extract`` compiles to strftime on SQLite)."""
    year = cast(extract("year", col), Integer)
    month = cast(extract("month", col), Integer)
    return year * literal_column("12") + month - literal_column("1")


class _mostly_true(FunctionElement[Any]):  # noqa: N801 - reads like the SQL function
    """A condition SQLite's planner should treat as true for most rows.

    Rendered as ``likelihood(condition, 0.9)`` on SQLite and as the bare
    condition elsewhere. Without ANALYZE statistics SQLite guesses that a
    month range selects few rows, and then reads ``support_month`` by month
    and sorts the joined rows; told that the range is wide, it walks the
    (case_id, month) or (person_id, …) key in order instead — two to three
    times faster on a 100,000-case register, with the same result.
    """

    # Not Boolean: SQLAlchemy would render "likelihood(...) = 1" on SQLite, which no
    # index can serve.
    type: TypeEngine[Any] = NullType()
    inherit_cache = True
    name = "mostly_true"


@compiles(_mostly_true)
def _mostly_true_default(element: _mostly_true, compiler: SQLCompiler, **kw: Any) -> str:
    (condition,) = element.clauses.clauses
    return compiler.process(condition, **kw)


@compiles(_mostly_true, "sqlite")
def _mostly_true_sqlite(element: _mostly_true, compiler: SQLCompiler, **kw: Any) -> str:
    (condition,) = element.clauses.clauses
    return f"likelihood({compiler.process(condition, **kw)}, 0.9)"


def _wide_month_range(col: Any, since: date, until: date) -> list[ColumnElement[Any]]:
    return [_mostly_true(col >= since), _mostly_true(col <= until)]


def _years_before(d: date, years: int) -> date:
    """``d`` moved back ``years`` years (29 February becomes 28 February)."""
    try:
        return d.replace(year=d.year - years)
    except ValueError:
        return d.replace(year=d.year - years, day=28)


@dataclass(frozen=True)
class ReferenceDates:
    """The dates every figure is computed as of (see the module docstring)."""

    as_of: date
    reference_month: date
    year: int

    @property
    def current_year(self) -> int:
        return self.as_of.year

    @property
    def last_complete_year(self) -> int:
        return self.as_of.year - 1

    @property
    def reference_index(self) -> int:
        return month_index(self.reference_month)

    @property
    def adult_born_on_or_before(self) -> date:
        """Born on or before this day ⇔ 18 or older on ``as_of``."""
        return _years_before(self.as_of, ADULT_AGE)

    def window_start(self, settings: Settings) -> date:
        """First month of the mycket-långvarig window ending at the reference month."""
        return add_months(self.reference_month, 1 - settings.long_term_window_months)


def reference_dates(as_of: date | None = None, year: int | None = None) -> ReferenceDates:
    """``as_of`` defaults to today, ``year`` to the last complete calendar year."""
    as_of = as_of or date.today()
    ref = add_months(as_of.replace(day=1), -1)
    return ReferenceDates(as_of=as_of, reference_month=ref, year=year or as_of.year - 1)


def very_long_term_label(settings: Settings) -> str:
    return (
        f"mycket långvarig (inställning: minst {settings.long_term_threshold_months} "
        f"av {settings.long_term_window_months} månader)"
    )


# ---------------------------------------------------------------------------
# Months per subject (person or household), as SQL


def _member_in_month(hm: type[HouseholdMember], month_col: Any) -> ColumnElement[bool]:
    """Membership active on at least one day of the month starting at ``month_col``.

    ``valid_from <= month`` settles almost every row without the month
    arithmetic, which is only needed for a membership starting mid-month.
    """
    return and_(
        or_(hm.valid_to.is_(None), hm.valid_to >= month_col),
        or_(
            hm.valid_from <= month_col,
            _sql_month_index(hm.valid_from) <= _sql_month_index(month_col),
        ),
    )


def _month_range(col: Any, since: date | None, until: date) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [col <= until]
    if since is not None:
        conds.append(col >= since)
    return conds


def person_months(
    *,
    until: date,
    since: date | None = None,
    person_ids: list[uuid.UUID] | None = None,
    case_ids: list[uuid.UUID] | None = None,
) -> Select[Any]:
    """Distinct (subject_id = person, month) pairs with support, ``since``–``until``."""
    hm, sm = HouseholdMember, SupportMonth
    stmt = (
        select(hm.person_id.label("subject_id"), sm.month.label("month"))
        .join(sm, sm.case_id == hm.case_id)
        .where(_member_in_month(hm, sm.month), *_month_range(sm.month, since, until))
        .distinct()
    )
    if person_ids is not None:
        stmt = stmt.where(hm.person_id.in_(person_ids))
    if case_ids is not None:
        stmt = stmt.where(hm.case_id.in_(case_ids))
    return stmt


def case_months(
    *, until: date, since: date | None = None, case_ids: list[uuid.UUID] | None = None
) -> Select[Any]:
    """(subject_id = case, month) pairs with support, ``since``–``until``."""
    sm = SupportMonth
    stmt = select(sm.case_id.label("subject_id"), sm.month.label("month")).where(
        *_month_range(sm.month, since, until)
    )
    if case_ids is not None:
        stmt = stmt.where(sm.case_id.in_(case_ids))
    return stmt


def case_month_counts(since: date, until: date) -> Select[Any]:
    """(case_id, months): each household's months with support in ``since``–``until``.

    A range scan of the covering index ``ix_support_month_month_case``.
    """
    sm = SupportMonth
    return (
        select(sm.case_id.label("case_id"), func.count().label("months"))
        .where(sm.month >= since, sm.month <= until)
        .group_by(sm.case_id)
    )


def person_month_counts(since: date, until: date) -> Select[Any]:
    """(person_id, months): each person's distinct months with support, ``since``–``until``.

    The same figure as counting :func:`person_months` per person, written so
    that SQLite walks ``household_member`` in person order through the
    covering index ``ix_household_member_person_period`` and looks each
    household's months up in ``support_month``'s (case_id, month) key: no
    sort of the joined rows, one small ``COUNT(DISTINCT)`` per person.
    """
    hm, sm = HouseholdMember, SupportMonth
    return (
        select(hm.person_id.label("person_id"), func.count(distinct(sm.month)).label("months"))
        .join(sm, sm.case_id == hm.case_id)
        .where(*_wide_month_range(sm.month, since, until), _member_in_month(hm, sm.month))
        .group_by(hm.person_id)
    )


# ---------------------------------------------------------------------------
# Counting from the support-year aggregate (models/stats.py)

YearTable = type[SupportYearCase] | type[SupportYearPerson]


def _bits(mask_expr: Any, mask: int) -> ColumnElement[int]:
    """The number of months in ``mask_expr & mask`` (a portable popcount).

    One term per bit set in ``mask`` (``(x >> k) & 1``), so a window edge of
    two months costs two terms, not twelve.
    """
    one = literal_column("1", Integer)
    terms: list[ColumnElement[int]] = [
        mask_expr.op(">>", return_type=Integer)(literal_column(str(k), Integer)).op(
            "&", return_type=Integer
        )(one)
        if k
        else mask_expr.op("&", return_type=Integer)(one)
        for k in range(12)
        if mask >> k & 1
    ]
    if not terms:
        return literal_column("0", Integer)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _month_span_mask(first_month: int, last_month: int) -> int:
    """Bits of months ``first_month``..``last_month`` (1 = January) of one year."""
    return ((1 << last_month) - 1) & ~((1 << (first_month - 1)) - 1)


def _year_bits(table: YearTable, mask: int) -> ColumnElement[int]:
    """One aggregate row's months among the months of ``mask``.

    A row's ``months`` is the number of bits in its ``month_mask`` (one bit per
    distinct month), so when ``mask`` holds more than half the year its months
    are ``months`` less those outside it: January–November is one term
    (``months - December``), not eleven. Every row of the counts evaluates this,
    so the shorter form is what makes them cheap (per-row arithmetic was most of
    their time at 100,000 cases).
    """
    rest = FULL_YEAR_MASK & ~mask
    if rest.bit_count() < mask.bit_count():
        return table.months - _bits(table.month_mask, rest)
    return _bits(table.month_mask, mask)


def months_in(table: YearTable, first: date, last: date) -> ColumnElement[int]:
    """One aggregate row's months from month ``first`` to month ``last`` (inclusive).

    Whole years read the count column, the first and last year a masked
    popcount; rows of other years give 0. ``first`` after ``last`` gives 0.
    """
    if first > last:
        return literal_column("0", Integer)
    whens: list[tuple[ColumnElement[bool], ColumnElement[int]]] = []
    for year in range(first.year, last.year + 1):
        lo = first.month if year == first.year else 1
        hi = last.month if year == last.year else 12
        mask = _month_span_mask(lo, hi)
        value: Any = table.months if mask == FULL_YEAR_MASK else _year_bits(table, mask)
        whens.append((table.year == year, value))
    return case(*whens, else_=0)


def _in_years(table: YearTable, first: date, last: date) -> ColumnElement[bool]:
    return and_(table.year >= first.year, table.year <= last.year)


def subject_of(table: YearTable) -> Any:
    """The subject column of an aggregate table (``case_id`` or ``person_id``)."""
    return table.case_id if hasattr(table, "case_id") else table.person_id


def in_years_by_subject(table: YearTable, first: date, last: date) -> ColumnElement[bool]:
    """:func:`_in_years` for a GROUP BY subject: SQLite walks the (subject, year) key in
    order instead of the year index, so the groups come sorted (no temporary B-tree;
    about half the time at 100,000 cases). ``year + 0`` only hides the index."""
    year = table.year + literal_column("0", Integer)
    return and_(year >= first.year, year <= last.year)


def long_term_parts(table: YearTable, dates: ReferenceDates) -> list[list[ColumnElement[bool]]]:
    """The Långvarig flag (:func:`long_term_year_condition`) as disjoint sets of aggregate
    rows, each with at most one row per subject: counting the rows of each part and
    adding counts the subjects, no DISTINCT needed.

    Each part is a range of the (year, months) index: 10 or more months in the last
    complete year; or 10 or more of the current year up to the reference month
    (a year's months bound its part, so ``months >= 10`` first) for a subject not
    already counted by the first.
    """
    last = dates.last_complete_year
    parts = [[table.year == last, table.months >= LONG_TERM_MONTHS]]
    ref = dates.reference_month
    if ref.year == dates.current_year:
        other = aliased(table)
        upto = _year_bits(table, _month_span_mask(1, ref.month))
        already: ColumnElement[bool]
        if table is SupportYearPerson:
            # Last year's months are in the row itself (the top 12 bits of prior_mask).
            already = _popcount_at_least(
                table.prior_mask, PRIOR_MONTHS - 12, PRIOR_MONTHS - 1, LONG_TERM_MONTHS
            )
        else:
            already = exists(
                select(subject_of(other)).where(
                    subject_of(other) == subject_of(table),
                    other.year == last,
                    other.months >= LONG_TERM_MONTHS,
                )
            )
        parts.append(
            [
                table.year == dates.current_year,
                table.months >= LONG_TERM_MONTHS,
                upto >= LONG_TERM_MONTHS,
                ~already,
            ]
        )
    return parts


def count_long_term(
    session: Session,
    table: YearTable,
    dates: ReferenceDates,
    *conds: ColumnElement[bool],
) -> int:
    """Subjects with the Långvarig flag now (further ``conds`` on the aggregate row)."""
    return count_long_term_and(session, table, dates, None, *conds)[0]


def count_long_term_and(
    session: Session,
    table: YearTable,
    dates: ReferenceDates,
    also: ColumnElement[bool] | None,
    *conds: ColumnElement[bool],
) -> tuple[int, int]:
    """(subjects with the Långvarig flag, of those the ones meeting ``also``), in one
    pass over each part of :func:`long_term_parts`."""
    total = met = 0
    for part in long_term_parts(table, dates):
        columns: list[Any] = [func.count()]
        if also is not None:
            columns.append(func.coalesce(func.sum(case((also, 1), else_=0)), 0))
        row = session.execute(select(*columns).select_from(table).where(*part, *conds)).one()
        total += int(row[0] or 0)
        met += int(row[1] or 0) if also is not None else 0
    return total, met


# ---------------------------------------------------------------------------
# Clocks


@dataclass(frozen=True)
class Clock:
    """Time on support for one person or household, as of the reference month."""

    subject_id: uuid.UUID
    months_by_year: dict[int, int]
    months_last_year: int
    months_current_year: int
    long_term_last_year: bool
    long_term_flag: bool
    run_months: int
    run_started: date | None
    jobbstimulans_reached: date | None
    aktivitetskrav_reached: date | None
    window_months: int
    very_long_term: bool

    @staticmethod
    def empty(subject_id: uuid.UUID) -> Clock:
        return Clock(subject_id, {}, 0, 0, False, False, 0, None, None, None, 0, False)


def _clock_query(months: Subquery, dates: ReferenceDates, settings: Settings) -> Select[Any]:
    """One row per subject with every clock figure, from (subject_id, month) rows.

    Gaps and islands: within a subject, ``index - row_number`` is constant
    along a run of consecutive months, so grouping by it yields the runs.
    """
    ref = dates.reference_index
    idx = _sql_month_index(months.c.month)
    indexed = select(months.c.subject_id, months.c.month, idx.label("idx")).subquery("indexed")
    islands = select(
        indexed.c.subject_id,
        indexed.c.idx,
        (
            indexed.c.idx
            - func.row_number().over(partition_by=indexed.c.subject_id, order_by=indexed.c.idx)
        ).label("grp"),
    ).subquery("islands")
    runs = (
        select(
            islands.c.subject_id,
            func.min(islands.c.idx).label("start_idx"),
            func.max(islands.c.idx).label("end_idx"),
        )
        .group_by(islands.c.subject_id, islands.c.grp)
        .subquery("runs")
    )
    current = (
        select(runs.c.subject_id, runs.c.start_idx)
        .where(runs.c.end_idx == ref)
        .subquery("current_run")
    )
    last_y0 = date(dates.last_complete_year, 1, 1)
    cur_y0 = date(dates.current_year, 1, 1)
    window0 = dates.window_start(settings)

    def count_if(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    agg = (
        select(
            indexed.c.subject_id,
            count_if(and_(indexed.c.month >= last_y0, indexed.c.month < cur_y0)).label("last_y"),
            count_if(indexed.c.month >= cur_y0).label("cur_y"),
            count_if(indexed.c.month >= window0).label("window"),
        )
        .group_by(indexed.c.subject_id)
        .subquery("agg")
    )
    start = current.c.start_idx
    ak_from = month_index(AKTIVITETSKRAV_FROM)
    ak_month = case(
        (start + (AKTIVITETSKRAV_MONTHS - 1) >= ak_from, start + (AKTIVITETSKRAV_MONTHS - 1)),
        else_=ak_from,
    )
    threshold = settings.long_term_threshold_months
    return select(
        agg.c.subject_id,
        agg.c.last_y,
        agg.c.cur_y,
        agg.c.window,
        (agg.c.last_y >= LONG_TERM_MONTHS).label("lt_last"),
        or_(agg.c.last_y >= LONG_TERM_MONTHS, agg.c.cur_y >= LONG_TERM_MONTHS).label("lt_flag"),
        (agg.c.window >= threshold).label("very_long"),
        start.label("run_start"),
        case((start.is_(None), 0), else_=ref - start + 1).label("run_months"),
        case(
            (ref - start + 1 >= JOBBSTIMULANS_MONTHS, start + (JOBBSTIMULANS_MONTHS - 1)),
            else_=None,
        ).label("jobb_idx"),
        case((and_(start.is_not(None), ak_month <= ref), ak_month), else_=None).label("ak_idx"),
    ).outerjoin(current, current.c.subject_id == agg.c.subject_id)


def _years_query(months: Subquery) -> Select[Any]:
    year = cast(extract("year", months.c.month), Integer)
    return (
        select(months.c.subject_id, year.label("year"), func.count().label("n"))
        .group_by(months.c.subject_id, year)
        .order_by(months.c.subject_id, year)
    )


def _opt_month(i: int | None) -> date | None:
    return None if i is None else month_from_index(int(i))


def _clocks(
    session: Session,
    months: Select[Any],
    ids: list[uuid.UUID],
    dates: ReferenceDates,
    settings: Settings,
) -> dict[uuid.UUID, Clock]:
    sub = months.subquery("months")
    by_year: dict[uuid.UUID, dict[int, int]] = defaultdict(dict)
    for sid, year, n in session.execute(_years_query(sub)):
        by_year[sid][int(year)] = int(n)
    result = {i: Clock.empty(i) for i in ids}
    for r in session.execute(_clock_query(sub, dates, settings)).mappings():
        sid = r["subject_id"]
        result[sid] = Clock(
            subject_id=sid,
            months_by_year=by_year.get(sid, {}),
            months_last_year=int(r["last_y"]),
            months_current_year=int(r["cur_y"]),
            long_term_last_year=bool(r["lt_last"]),
            long_term_flag=bool(r["lt_flag"]),
            run_months=int(r["run_months"]),
            run_started=_opt_month(r["run_start"]),
            jobbstimulans_reached=_opt_month(r["jobb_idx"]),
            aktivitetskrav_reached=_opt_month(r["ak_idx"]),
            window_months=int(r["window"]),
            very_long_term=bool(r["very_long"]),
        )
    return result


def person_clocks(
    session: Session,
    person_ids: list[uuid.UUID],
    dates: ReferenceDates,
    settings: Settings | None = None,
) -> dict[uuid.UUID, Clock]:
    """Each person's clock, over every household they have belonged to."""
    months = person_months(until=dates.reference_month, person_ids=list(person_ids))
    return _clocks(session, months, list(person_ids), dates, settings or Settings())


def case_clocks(
    session: Session,
    case_ids: list[uuid.UUID],
    dates: ReferenceDates,
    settings: Settings | None = None,
) -> dict[uuid.UUID, Clock]:
    """Each household's clock, from its case's support months."""
    months = case_months(until=dates.reference_month, case_ids=list(case_ids))
    return _clocks(session, months, list(case_ids), dates, settings or Settings())


@dataclass(frozen=True)
class CaseClocks:
    """What the case view shows: the household's clock and each member's own."""

    household: Clock
    members: dict[uuid.UUID, Clock]


def clocks_for_case(
    session: Session, case_id: uuid.UUID, dates: ReferenceDates, settings: Settings | None = None
) -> CaseClocks:
    """The household's clock and a clock per person who has been a member of the case."""
    settings = settings or Settings()
    person_ids = list(
        session.scalars(
            select(HouseholdMember.person_id).where(HouseholdMember.case_id == case_id).distinct()
        )
    )
    return CaseClocks(
        household=case_clocks(session, [case_id], dates, settings)[case_id],
        members=person_clocks(session, person_ids, dates, settings),
    )


def long_term_case_ids_from_months(dates: ReferenceDates) -> Select[Any]:
    """The Långvarig flag's case ids counted from the raw months (the reference definition)."""
    sm = SupportMonth
    last_y0 = date(dates.last_complete_year, 1, 1)
    cur_y0 = date(dates.current_year, 1, 1)
    last_n = func.sum(case((sm.month < cur_y0, 1), else_=0))
    cur_n = func.sum(case((sm.month >= cur_y0, 1), else_=0))
    return (
        select(sm.case_id)
        .where(sm.month >= last_y0, sm.month <= dates.reference_month)
        .group_by(sm.case_id)
        .having(or_(last_n >= LONG_TERM_MONTHS, cur_n >= LONG_TERM_MONTHS))
    )


def long_term_year_condition(table: YearTable, dates: ReferenceDates) -> ColumnElement[bool]:
    """The Långvarig rule on one aggregate row: 10+ months in the last complete year, or
    10+ months of the current year up to the reference month.

    The single definition of the flag: the register's filter
    (:func:`services.search.long_term_predicate`), the Långvariga view, the
    dashboard and the statistics all use it.
    """
    conds = [and_(table.year == dates.last_complete_year, table.months >= LONG_TERM_MONTHS)]
    ref = dates.reference_month
    if ref.year == dates.current_year:
        upto = _year_bits(table, _month_span_mask(1, ref.month))
        conds.append(and_(table.year == dates.current_year, upto >= LONG_TERM_MONTHS))
    return or_(*conds)


def long_term_case_ids(dates: ReferenceDates) -> Select[Any]:
    """Case ids carrying the register's Långvarig flag, for ``Case.id.in_(...)``."""
    cy = SupportYearCase
    return (
        select(cy.case_id)
        .where(
            cy.year >= dates.last_complete_year,
            cy.year <= dates.current_year,
            long_term_year_condition(cy, dates),
        )
        .distinct()
    )


def long_term_flag(dates: ReferenceDates, *, correlated: bool = False) -> ColumnElement[bool]:
    """The Långvarig flag as a condition on ``Case``.

    ``correlated`` gives an EXISTS per case (fast when other conditions
    already narrow the cases); otherwise an IN list of every flagged case.
    Reads the aggregate as committed: a caller that has just written months
    in the same session calls :func:`models.stats.sync` first.
    """
    if correlated:
        cy = SupportYearCase
        return exists(
            select(cy.case_id).where(
                cy.case_id == Case.id,
                cy.year >= dates.last_complete_year,
                cy.year <= dates.current_year,
                long_term_year_condition(cy, dates),
            )
        )
    return Case.id.in_(long_term_case_ids(dates))


# ---------------------------------------------------------------------------
# The Långvariga view


@dataclass(frozen=True)
class LongTermRow:
    """One household in the Långvariga view.

    ``mental_ill_health`` is health data (GDPR art. 9): the ordering uses it,
    but a view shows it only to those who may see the case.
    """

    case_id: uuid.UUID
    case_number: str
    status: str
    caseworker_id: uuid.UUID | None
    is_focus: bool
    months_last_year: int
    months_current_year: int
    window_months: int
    very_long_term: bool
    has_children: bool
    mental_ill_health: bool
    priority: int
    applicant_name: str = ""
    caseworker_name: str = ""


def _active_on(hm: type[HouseholdMember], day: date) -> ColumnElement[bool]:
    return and_(hm.valid_from <= day, or_(hm.valid_to.is_(None), hm.valid_to >= day))


def long_term_view(
    session: Session,
    as_of: date | None = None,
    unit_id: uuid.UUID | None = None,
    *,
    settings: Settings | None = None,
    caseworker_id: uuid.UUID | None = None,
    open_only: bool = True,
    limit: int | None = None,
    offset: int = 0,
    where: Sequence[ColumnElement[bool]] = (),
    count_only: bool = False,
) -> Any:
    """Households with the Långvarig flag, prioritised (``count_only``: how many).

    Order: households with a child under 18 *and* a member flagged for mental
    ill-health (priority 1), with children (2), with mental ill-health (3),
    the rest (4); within a priority the most months in the mycket-långvarig
    window first, then case number. Sorting and paging happen in SQL.
    ``where``: further conditions on ``Case`` (the access scope of a user).
    Each row names the current applicant and the caseworker.
    """
    settings = settings or Settings()
    dates = reference_dates(as_of)
    sync_support_years(session)
    cy = SupportYearCase
    ref = dates.reference_month
    last_y0 = date(dates.last_complete_year, 1, 1)
    cur_y0 = date(dates.current_year, 1, 1)
    window0 = dates.window_start(settings)
    since = min(last_y0, window0)
    last_n = func.sum(months_in(cy, last_y0, add_months(cur_y0, -1)))
    cur_n = func.sum(months_in(cy, cur_y0, ref))
    case_filters: list[ColumnElement[bool]] = list(where)
    if unit_id is not None:
        case_filters.append(Case.unit_id == unit_id)
    if caseworker_id is not None:
        case_filters.append(Case.caseworker_id == caseworker_id)
    if open_only:
        case_filters.append(Case.status != CaseStatus.CLOSED.value)
    # One caseworker's cases: group only their rows (found through the caseworker index);
    # otherwise every household's rows, in (case, year) key order.
    in_scope = (
        [_in_years(cy, since, ref), cy.case_id.in_(select(Case.id).where(*case_filters))]
        if caseworker_id is not None
        else [in_years_by_subject(cy, since, ref)]
    )
    agg = (
        select(
            cy.case_id,
            last_n.label("last_y"),
            cur_n.label("cur_y"),
            func.sum(months_in(cy, window0, ref)).label("window"),
        )
        .where(*in_scope)
        .group_by(cy.case_id)
        # long_term_year_condition on the sums it already has (the same rule).
        .having(or_(last_n >= LONG_TERM_MONTHS, cur_n >= LONG_TERM_MONTHS))
        .subquery("agg")
    )
    if count_only:
        total = session.scalar(
            select(func.count()).select_from(agg).join(Case, Case.id == agg.c.case_id)
            .where(*case_filters)
        )  # fmt: skip
        return int(total or 0)
    hm = HouseholdMember
    children = exists(
        select(hm.case_id)
        .join(Person, Person.id == hm.person_id)
        .where(
            hm.case_id == Case.id,
            _active_on(hm, dates.as_of),
            Person.birth_date > dates.adult_born_on_or_before,
        )
    )
    mental = exists(
        select(hm.case_id)
        .join(Person, Person.id == hm.person_id)
        .where(hm.case_id == Case.id, _active_on(hm, dates.as_of), Person.mental_ill_health)
    )
    # One expression, so each EXISTS runs once per row; the flags are read back from it.
    priority = (
        literal_column("4", Integer) - case((children, 2), else_=0) - case((mental, 1), else_=0)
    ).label("priority")
    applicant_m, applicant = aliased(HouseholdMember), aliased(Person)
    stmt = (
        select(
            Case.id,
            Case.case_number,
            Case.status,
            Case.caseworker_id,
            Case.is_focus,
            agg.c.last_y,
            agg.c.cur_y,
            agg.c.window,
            priority,
            applicant.first_name,
            applicant.last_name,
            User.full_name,
        )
        .join(agg, agg.c.case_id == Case.id)
        .outerjoin(
            applicant_m,
            and_(
                applicant_m.case_id == Case.id,
                applicant_m.role == MemberRole.APPLICANT.value,
                applicant_m.valid_to.is_(None),
            ),
        )
        .outerjoin(applicant, applicant.id == applicant_m.person_id)
        .outerjoin(User, User.id == Case.caseworker_id)
        .where(*case_filters)
        .order_by(priority, agg.c.window.desc(), Case.number_year, Case.number_seq)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    threshold = settings.long_term_threshold_months
    return [
        LongTermRow(
            case_id=r.id,
            case_number=r.case_number,
            status=r.status,
            caseworker_id=r.caseworker_id,
            is_focus=r.is_focus,
            months_last_year=int(r.last_y),
            months_current_year=int(r.cur_y),
            window_months=int(r.window),
            very_long_term=int(r.window) >= threshold,
            has_children=int(r.priority) in (1, 2),
            mental_ill_health=int(r.priority) in (1, 3),
            priority=int(r.priority),
            applicant_name=" ".join(n for n in (r.first_name, r.last_name) if n),
            caseworker_name=r.full_name or "",
        )
        for r in session.execute(stmt)
    ]


# ---------------------------------------------------------------------------
# Thresholds reached in the reference month (follow-up list, dashboard)


# Months before a year that a person's aggregate row holds (``prior_mask``).
PRIOR_MONTHS = 36


def _lit(n: int) -> ColumnElement[int]:
    return literal_column(str(n), Integer)


def _span_bits(lo: int, hi: int) -> int:
    return ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1)


def _all_set(mask: Any, lo: int, hi: int) -> ColumnElement[bool]:
    bits = _span_bits(lo, hi)
    masked: ColumnElement[int] = mask.op("&", return_type=Integer)(_lit(bits))
    return masked == _lit(bits)  # a literal: a bound int4 parameter cannot hold 36 bits


def _bit_clear(mask: Any, k: int) -> ColumnElement[bool]:
    masked: ColumnElement[int] = mask.op("&", return_type=Integer)(_lit(1 << k))
    return masked == 0


def thresholds_reached(
    dates: ReferenceDates,
    settings: Settings,
    person_ids: Select[Any] | None = None,
) -> Select[Any]:
    """Persons who reached a threshold *in* the reference month, from the aggregate.

    Rows (person_id, jobbstimulans, aktivitetskrav, very_long_term), booleans,
    one per person reaching at least one: the 6th consecutive month
    (jobbstimulans), the month the aktivitetskrav is reached (see the module
    docstring: the 3rd consecutive month, or 2026-07 for a run already
    longer), and the month the mycket-långvarig count reaches its threshold
    (the reference month has support, the month leaving the window had
    none, and the count is exactly the threshold). ``person_ids`` narrows
    the persons (a SELECT of ids).
    """
    if settings.long_term_window_months <= PRIOR_MONTHS:
        return _thresholds_from_one_row(dates, settings, person_ids)
    py = SupportYearPerson
    ref = dates.reference_month
    cur, prev = ref.year, ref.year - 1
    window0 = dates.window_start(settings)
    leaving = add_months(window0, -1)
    # One pass over the persons' rows in (person, year) order, so the groups need no
    # sort; the bit tests run on the three sums in the outer query, the reference
    # month first (every threshold is reached in a month with support).
    narrowed = [] if person_ids is None else [py.person_id.in_(person_ids)]
    per_person = (
        select(
            py.person_id,
            # Two years of months as one 24-bit mask: bit 0 = January of the previous year.
            func.sum(
                case(
                    (py.year == cur, py.month_mask.op("*", return_type=Integer)(_lit(4096))),
                    (py.year == prev, py.month_mask),
                    else_=0,
                )
            ).label("m24"),
            func.sum(months_in(py, window0, ref)).label("window_n"),
            func.sum(months_in(py, leaving, leaving)).label("left_n"),
        )
        .where(in_years_by_subject(py, leaving, ref), *narrowed)
        .group_by(py.person_id)
        .subquery("per_person")
    )
    two_years = per_person.c.m24
    r = 12 + ref.month - 1
    jobb = and_(
        _all_set(two_years, r - JOBBSTIMULANS_MONTHS + 1, r),
        _bit_clear(two_years, r - JOBBSTIMULANS_MONTHS),
    )
    ak_from = AKTIVITETSKRAV_FROM.replace(day=1)
    three = _all_set(two_years, r - AKTIVITETSKRAV_MONTHS + 1, r)
    ak: ColumnElement[bool]
    if ref < ak_from:
        ak = literal_column("1", Integer) == 0
    elif ref == ak_from:
        ak = three
    else:
        ak = and_(three, _bit_clear(two_years, r - AKTIVITETSKRAV_MONTHS))
    very = and_(
        per_person.c.window_n == settings.long_term_threshold_months,
        per_person.c.left_n == 0,
        _all_set(two_years, r, r),
    )
    return select(
        per_person.c.person_id,
        case((jobb, 1), else_=0).label("jobbstimulans"),
        case((ak, 1), else_=0).label("aktivitetskrav"),
        case((very, 1), else_=0).label("very_long_term"),
    ).where(_all_set(two_years, r, r), or_(jobb, ak, very))


# From this many bits on, :func:`_popcount` adds bit pairs, nibbles and bytes in parallel
# instead of one term per bit.
_PARALLEL_POPCOUNT_BITS = 14


def _popcount(expr: Any, lo: int, hi: int) -> ColumnElement[int]:
    """Bits ``lo``..``hi`` of ``expr`` set (a portable popcount).

    Up to :data:`_PARALLEL_POPCOUNT_BITS` bits: one term per bit. Wider: the
    classic parallel count (pairs, then nibbles, then bytes, each byte holding
    its own count) and ``% 255``, which adds the bytes (256 ≡ 1 mod 255; a count
    of at most 48 bits never reaches 255): about 30 operations for 25 bits
    instead of 75, with ``expr`` repeated 8 times.
    """
    width = hi - lo + 1
    if width <= 0:
        return _lit(0)
    if width < _PARALLEL_POPCOUNT_BITS:
        terms: list[ColumnElement[int]] = [
            expr.op(">>", return_type=Integer)(_lit(k)).op("&", return_type=Integer)(_lit(1))
            for k in range(lo, hi + 1)
        ]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total
    assert width <= 48, "the masks hold at most 48 months"

    def pattern(bits: str) -> ColumnElement[int]:
        return _lit(int(bits * (48 // len(bits)), 2))  # a literal: wider than an int4

    def shr(x: Any, k: int) -> Any:
        return x.op(">>", return_type=BigInteger)(_lit(k))

    def band(x: Any, m: ColumnElement[int]) -> Any:
        return x.op("&", return_type=BigInteger)(m)

    x = band(shr(expr, lo) if lo else expr, _lit((1 << width) - 1))
    pairs = x - band(shr(x, 1), pattern("01"))
    nibbles = band(pairs, pattern("0011")) + band(shr(pairs, 2), pattern("0011"))
    octets = band(nibbles + shr(nibbles, 4), pattern("00001111"))
    return cast(octets.op("%", return_type=BigInteger)(_lit(255)), Integer)


def _popcount_at_least(expr: Any, lo: int, hi: int, n: int) -> ColumnElement[bool]:
    """At least ``n`` of bits ``lo``..``hi`` of ``expr`` set.

    When at most two may be clear (10 of 12 months), the clear bits ``z`` are
    tested instead: ``z & (z - 1)`` drops the lowest one, so after two drops
    nothing is left (a handful of operations instead of a popcount).
    """
    width = hi - lo + 1
    spare = width - n
    if spare not in (1, 2):
        return _popcount(expr, lo, hi) >= n
    full = _lit((1 << width) - 1)
    shifted = expr.op(">>", return_type=BigInteger)(_lit(lo)) if lo else expr
    clear: Any = full - shifted.op("&", return_type=BigInteger)(full)
    for _ in range(spare - 1):
        clear = clear.op("&", return_type=BigInteger)(clear - _lit(1))
    last: ColumnElement[int] = clear.op("&", return_type=BigInteger)(clear - _lit(1))
    return last == 0


def _thresholds_from_one_row(
    dates: ReferenceDates, settings: Settings, person_ids: Select[Any] | None
) -> Select[Any]:
    """:func:`thresholds_reached` from each person's row of the reference month's year.

    That row's ``month_mask`` and ``prior_mask`` (the three years before) hold the
    48 months up to its December, enough for a run of 6 and a window of up to 37
    months (the window and the month leaving it) ending in any month of the year.
    Positions below count months in ``prior_mask`` (0 = January three years
    before); ``this`` is the reference month's position among this year's bits.
    """
    py = SupportYearPerson
    ref = dates.reference_month
    this = ref.month - 1
    r = PRIOR_MONTHS + this  # the reference month among the 48

    def all_set(lo: int, hi: int) -> ColumnElement[bool]:
        conds = []
        if hi >= PRIOR_MONTHS:
            low = max(lo, PRIOR_MONTHS) - PRIOR_MONTHS
            conds.append(_all_set(py.month_mask, low, hi - PRIOR_MONTHS))
        if lo < PRIOR_MONTHS:
            conds.append(_all_set(py.prior_mask, lo, min(hi, PRIOR_MONTHS - 1)))
        return and_(*conds)

    def clear(k: int) -> ColumnElement[bool]:
        if k >= PRIOR_MONTHS:
            return _bit_clear(py.month_mask, k - PRIOR_MONTHS)
        return _bit_clear(py.prior_mask, k)

    jobb = and_(all_set(r - JOBBSTIMULANS_MONTHS + 1, r), clear(r - JOBBSTIMULANS_MONTHS))
    ak_from = AKTIVITETSKRAV_FROM.replace(day=1)
    three = all_set(r - AKTIVITETSKRAV_MONTHS + 1, r)
    ak: ColumnElement[bool]
    if ref < ak_from:
        ak = literal_column("1", Integer) == 0
    elif ref == ak_from:
        ak = three
    else:
        ak = and_(three, clear(r - AKTIVITETSKRAV_MONTHS))
    window = settings.long_term_window_months
    first = r - window + 1
    in_window = _year_bits(py, _month_span_mask(1, this + 1)) + _popcount(
        py.prior_mask, first, PRIOR_MONTHS - 1
    )
    # The month leaving the window had none, and the window now holds exactly the threshold.
    very = and_(clear(first - 1), in_window == settings.long_term_threshold_months)
    stmt = select(
        py.person_id,
        case((jobb, 1), else_=0).label("jobbstimulans"),
        case((ak, 1), else_=0).label("aktivitetskrav"),
        case((very, 1), else_=0).label("very_long_term"),
    ).where(
        py.year == ref.year,
        py.month_mask.op("&", return_type=Integer)(_lit(1 << this)) != 0,
        or_(jobb, ak, very),
    )
    if person_ids is not None:
        stmt = stmt.where(py.person_id.in_(person_ids))
    return stmt


# ---------------------------------------------------------------------------
# Outcomes per person


def person_outcomes(
    since: date | None = None,
    before: date | None = None,
    *,
    unit_id: uuid.UUID | None = None,
    focus_only: bool = False,
) -> Select[Any]:
    """Persons' outcomes as rows (person_id, case_id, outcome_on, outcome, grade, permanent).

    Optionally only those dated ``since`` ≤ outcome_on < ``before``, in cases
    of ``unit_id``, in focus cases. A ``person_outcome`` row wins; otherwise
    adult members of a closed case on its closing day inherit the case's
    outcome (see the module docstring).
    """
    po, hm = PersonOutcome, HouseholdMember
    explicit = select(
        po.person_id.label("person_id"),
        po.case_id.label("case_id"),
        po.recorded_on.label("outcome_on"),
        po.outcome.label("outcome"),
        po.outcome_grade.label("grade"),
        po.outcome_permanent.label("permanent"),
    ).where(po.outcome.is_not(None))
    inherited = (
        select(
            hm.person_id,
            Case.id,
            Case.closed_on,
            Case.outcome,
            Case.outcome_grade,
            Case.outcome_permanent,
        )
        .join(hm, hm.case_id == Case.id)
        .where(
            Case.status == CaseStatus.CLOSED.value,
            Case.outcome.is_not(None),
            hm.role != MemberRole.CHILD.value,
            hm.valid_from <= Case.closed_on,
            or_(hm.valid_to.is_(None), hm.valid_to >= Case.closed_on),
            ~exists(select(po.id).where(po.case_id == Case.id, po.person_id == hm.person_id)),
        )
    )
    if since is not None:
        explicit = explicit.where(po.recorded_on >= since)
        inherited = inherited.where(Case.closed_on >= since)
    if before is not None:
        explicit = explicit.where(po.recorded_on < before)
        inherited = inherited.where(Case.closed_on < before)
    if unit_id is not None or focus_only:
        cases = select(Case.id)
        if unit_id is not None:
            cases = cases.where(Case.unit_id == unit_id)
        if focus_only:
            cases = cases.where(Case.is_focus)
        explicit = explicit.where(po.case_id.in_(cases))
        inherited = inherited.where(Case.id.in_(cases))
    u = union_all(explicit, inherited).subquery("person_outcomes")
    return select(*u.c)


# ---------------------------------------------------------------------------
# Statistics


def _membership_mask(
    hm: type[HouseholdMember] | type[MemberBirth], year: int
) -> ColumnElement[int]:
    """The months of ``year`` a membership covers (see :func:`_member_in_month`), as a mask.

    Only meaningful for a membership that overlaps the year.
    """
    y0, y1 = date(year, 1, 1), date(year, 12, 1)
    lo = case((hm.valid_from < y0, 1), else_=cast(extract("month", hm.valid_from), Integer))
    hi = case(
        (or_(hm.valid_to.is_(None), hm.valid_to >= y1), 12),
        else_=cast(extract("month", hm.valid_to), Integer),
    )
    one = literal_column("1", Integer)
    return one.op("<<", return_type=Integer)(hi) - one.op("<<", return_type=Integer)(lo - 1)


def stats(
    session: Session,
    *,
    year: int | None = None,
    as_of: date | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The figures of ``python main.py stats``, JSON-able, every one computed in SQL.

    Keys: ``year``, ``as_of`` (ISO date) and ``reference_month`` (``YYYY-MM``),
    ``cases_with_support``, ``long_term_cases``, ``long_term_with_children``,
    ``long_term_persons``, ``long_term_adults``, ``very_long_term_cases``,
    ``very_long_term_rule`` (threshold, window, label), ``caseload``
    (username → open cases) and ``outcomes`` (outcome code → persons with
    that outcome dated in the year). Months after the reference month are not
    counted, also when ``year`` is the current year. Households and persons
    are counted from the support-year aggregate (see the module docstring).
    """
    settings = settings or Settings()
    dates = reference_dates(as_of, year)
    sync_support_years(session)
    sync_member_births(session)
    y0 = date(dates.year, 1, 1)
    y1 = date(dates.year + 1, 1, 1)
    ref = dates.reference_month
    until = min(ref, add_months(y1, -1))
    window0 = dates.window_start(settings)
    threshold = settings.long_term_threshold_months
    adult_cutoff = dates.adult_born_on_or_before
    cy, py = SupportYearCase, SupportYearPerson

    def count_if(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    year_mask = (
        _month_span_mask(1, until.month if until.year == dates.year else 12) if until >= y0 else 0
    )
    masked = cy.month_mask.op("&", return_type=Integer)(literal_column(str(year_mask), Integer))
    year_n = months_in(cy, y0, until)

    def count_cases(*conds: ColumnElement[bool]) -> int:
        return int(session.scalar(select(func.count()).select_from(cy).where(*conds)) or 0)

    # One row per household and year: the year's figures are ranges of the (year, months)
    # index (a year's months bound the part of it up to the reference month).
    with_support = count_cases(cy.year == dates.year, year_n > 0) if until >= y0 else 0
    long_term = (
        count_cases(
            cy.year == dates.year, cy.months >= LONG_TERM_MONTHS, year_n >= LONG_TERM_MONTHS
        )
        if until >= y0
        else 0
    )
    per_case = (
        select(func.sum(months_in(cy, window0, ref)).label("window_n"))
        .where(in_years_by_subject(cy, window0, ref))
        .group_by(cy.case_id)
        .subquery("per_case")
    )
    very = session.scalar(
        select(func.count()).select_from(per_case).where(per_case.c.window_n >= threshold)
    )
    counts = (with_support, long_term, int(very or 0))
    # Long-term households with a member under 18 on as_of in one of the year's supported
    # months: per long-term household of the year (a range of the (year, months) index),
    # a child's membership of it whose months (a mask) meet the household's.
    # One seek into the household's members by birth date (models/member_births.py).
    mb = MemberBirth
    child = exists(
        select(mb.member_id).where(
            mb.case_id == cy.case_id,
            mb.birth_date > adult_cutoff,
            mb.valid_from < y1,
            or_(mb.valid_to.is_(None), mb.valid_to >= y0),
            masked.op("&", return_type=Integer)(_membership_mask(mb, dates.year)) != 0,
        )
    )
    with_children = (
        count_cases(
            cy.year == dates.year,
            cy.months >= LONG_TERM_MONTHS,
            year_n >= LONG_TERM_MONTHS,
            child,
        )
        if until >= y0
        else 0
    )
    case_row = (counts[0], counts[1], with_children or 0, counts[2])

    # Conditions in WHERE (not inside CASE) so that SQLite reads the covering indexes.
    person_lt = and_(
        py.year == dates.year,
        py.months >= LONG_TERM_MONTHS,
        months_in(py, y0, until) >= LONG_TERM_MONTHS,
    )
    persons = select(func.count()).select_from(py).where(person_lt)
    adults = (
        select(func.count())
        .select_from(py)
        .join(Person, Person.id == py.person_id)
        .where(person_lt, Person.birth_date <= adult_cutoff)
    )
    person_row = (session.scalar(persons) or 0, session.scalar(adults) or 0)
    return _assemble(session, dates, settings, case_row, person_row)


def _assemble(
    session: Session,
    dates: ReferenceDates,
    settings: Settings,
    case_row: Any,
    person_row: Any,
) -> dict[str, Any]:
    """The JSON-able figures from the household and person counts, plus outcomes and caseload."""
    y0 = date(dates.year, 1, 1)
    y1 = date(dates.year + 1, 1, 1)
    threshold = settings.long_term_threshold_months
    outcomes = person_outcomes(y0, y1).subquery("po")
    outcome_rows = session.execute(
        select(outcomes.c.outcome, func.count(distinct(outcomes.c.person_id)))
        .group_by(outcomes.c.outcome)
        .order_by(outcomes.c.outcome)
    ).all()
    return {
        "year": dates.year,
        "as_of": dates.as_of.isoformat(),
        "reference_month": f"{dates.reference_month:%Y-%m}",
        "cases_with_support": int(case_row[0]),
        "long_term_cases": int(case_row[1]),
        "long_term_with_children": int(case_row[2]),
        "long_term_persons": int(person_row[0]),
        "long_term_adults": int(person_row[1]),
        "very_long_term_cases": int(case_row[3]),
        "very_long_term_rule": {
            "threshold_months": threshold,
            "window_months": settings.long_term_window_months,
            "label": very_long_term_label(settings),
        },
        "caseload": open_cases_per_user(session),
        "outcomes": {str(code): int(n) for code, n in outcome_rows},
    }


def stats_from_months(
    session: Session,
    *,
    year: int | None = None,
    as_of: date | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The figures of :func:`stats` counted from the raw months (the reference definition).

    Slower on a large register; the tests check that :func:`stats` gives the
    same figures. Keys: ``year``, ``as_of`` (ISO date) and ``reference_month`` (``YYYY-MM``),
    ``cases_with_support``, ``long_term_cases``, ``long_term_with_children``,
    ``long_term_persons``, ``long_term_adults``, ``very_long_term_cases``,
    ``very_long_term_rule`` (threshold, window, label), ``caseload``
    (username → open cases) and ``outcomes`` (outcome code → persons with
    that outcome dated in the year). Months after the reference month are not
    counted, also when ``year`` is the current year.
    """
    settings = settings or Settings()
    dates = reference_dates(as_of, year)
    y0 = date(dates.year, 1, 1)
    y1 = date(dates.year + 1, 1, 1)
    ref = dates.reference_month
    until = min(ref, add_months(y1, -1))
    window0 = dates.window_start(settings)
    threshold = settings.long_term_threshold_months
    adult_cutoff = dates.adult_born_on_or_before
    sm, hm = SupportMonth, HouseholdMember

    def count_if(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    # Households: the year's and the window's months, in one pass over support_month.
    per_case = (
        select(
            sm.case_id.label("case_id"),
            count_if(and_(sm.month >= y0, sm.month <= until)).label("year_n"),
            count_if(sm.month >= window0).label("window_n"),
        )
        .where(*_wide_month_range(sm.month, min(y0, window0), ref))
        .group_by(sm.case_id)
        .subquery("per_case")
    )
    # A member in one of the year's supported months who is under 18 on as_of.
    child = exists(
        select(hm.id)
        .join(Person, Person.id == hm.person_id)
        .join(sm, sm.case_id == hm.case_id)
        .where(
            hm.case_id == per_case.c.case_id,
            Person.birth_date > adult_cutoff,
            sm.month >= y0,
            sm.month <= until,
            _member_in_month(hm, sm.month),
        )
    )
    lt = per_case.c.year_n >= LONG_TERM_MONTHS
    case_row = session.execute(
        select(
            count_if(per_case.c.year_n > 0),
            count_if(lt),
            func.coalesce(func.sum(case((lt, case((child, 1), else_=0)), else_=0)), 0),
            count_if(per_case.c.window_n >= threshold),
        ).select_from(per_case)
    ).one()

    per_person = person_month_counts(y0, until).subquery("per_person")
    plt = per_person.c.months >= LONG_TERM_MONTHS
    person_row = session.execute(
        select(count_if(plt), count_if(and_(plt, Person.birth_date <= adult_cutoff)))
        .select_from(per_person)
        .join(Person, Person.id == per_person.c.person_id)
    ).one()

    return _assemble(session, dates, settings, case_row, person_row)


def open_cases_per_user(session: Session) -> dict[str, int]:
    """username → open (not closed) cases, for every active caseworker and anyone holding one."""
    # Grouped by (status, caseworker_id) first: one ordered pass over that covering index.
    per_status = (
        select(Case.caseworker_id.label("caseworker_id"), func.count().label("n"))
        .where(Case.status.in_(OPEN_STATUSES))
        .group_by(Case.status, Case.caseworker_id)
        .subquery("per_status")
    )
    per_user = (
        select(per_status.c.caseworker_id, func.sum(per_status.c.n).label("n"))
        .group_by(per_status.c.caseworker_id)
        .subquery("per_user")
    )
    n = func.coalesce(per_user.c.n, 0)
    rows = session.execute(
        select(User.username, n)
        .outerjoin(per_user, per_user.c.caseworker_id == User.id)
        .where(or_(n > 0, and_(User.active, User.role == Role.CASEWORKER.value)))
        .order_by(User.username)
    ).all()
    return {username: int(count) for username, count in rows}


def _num(n: int) -> str:
    """12345 → "12 345" (Swedish thousands separator)."""
    return f"{n:,}".replace(",", " ")


def format_stats(d: dict[str, Any]) -> str:
    """The plain-text report of ``python main.py stats`` (Swedish labels)."""
    rule = d["very_long_term_rule"]
    rows = [
        ("Hushåll med försörjningsstöd under året", d["cases_with_support"]),
        ("Långvariga hushåll (minst 10 månader)", d["long_term_cases"]),
        ("  varav med barn under 18 år", d["long_term_with_children"]),
        ("Långvariga personer (minst 10 månader)", d["long_term_persons"]),
        ("  varav vuxna (18 år och äldre)", d["long_term_adults"]),
        (f"Hushåll, {rule['label']}", d["very_long_term_cases"]),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [
        f"Statistik för {d['year']} (per {d['as_of']}, referensmånad {d['reference_month']})",
        "",
        *(f"{label.ljust(width)}  {_num(value):>9}" for label, value in rows),
        "",
        "Öppna ärenden per handläggare:",
    ]
    caseload: dict[str, int] = d["caseload"]
    if caseload:
        uw = max(len(u) for u in caseload)
        lines += [f"  {u.ljust(uw)}  {_num(n):>6}" for u, n in caseload.items()]
    else:
        lines.append("  (inga)")
    lines += ["", "Utfall under året (personer):"]
    outcomes: dict[str, int] = d["outcomes"]
    if outcomes:
        order = [o.value for o in Outcome]
        codes = sorted(outcomes, key=lambda c: (order.index(c) if c in order else len(order), c))
        labels = {c: OUTCOME_LABELS[Outcome(c)] if c in order else c for c in codes}
        lw = max(len(label) for label in labels.values())
        lines += [f"  {labels[c].ljust(lw)}  {_num(outcomes[c]):>6}" for c in codes]
    else:
        lines.append("  (inga)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The clock panel of the case window (plain data for ui/clock_panel.py)


@dataclass(frozen=True)
class ClockRow:
    """One line of the clock panel: the household or one person who belonged to it."""

    label: str
    role: str
    person_id: uuid.UUID | None
    clock: Clock


@dataclass(frozen=True)
class ClockPanelData:
    """What the case window's clock panel shows, as of the reference month."""

    case_id: uuid.UUID
    as_of: date
    reference_month: date
    years: tuple[int, ...]
    very_long_term_label: str
    aktivitetskrav_from: date
    rows: tuple[ClockRow, ...]


def case_clock_panel(
    session: Session,
    case_id: uuid.UUID,
    *,
    as_of: date | None = None,
    settings: Settings | None = None,
    years: int = 4,
) -> ClockPanelData:
    """The household's clock and each member's own (over all their households).

    Members are listed applicant first, then by name; ``years`` calendar
    years up to the current one get a column of months each.
    """
    from models.codes import MEMBER_ROLE_LABELS

    settings = settings or Settings()
    dates = reference_dates(as_of)
    clocks = clocks_for_case(session, case_id, dates, settings)
    order = {r.value: i for i, r in enumerate(MemberRole)}
    members = session.execute(
        select(
            HouseholdMember.person_id, HouseholdMember.role, Person.first_name, Person.last_name
        )  # fmt: skip
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(HouseholdMember.case_id == case_id)
        .order_by(HouseholdMember.valid_from)
    ).all()
    seen: dict[uuid.UUID, ClockRow] = {}
    for pid, role, first, last in members:
        if pid in seen:
            continue
        label = MEMBER_ROLE_LABELS.get(MemberRole(role), role)
        seen[pid] = ClockRow(f"{first} {last}", label, pid, clocks.members[pid])
    rows = sorted(
        seen.values(),
        key=lambda r: (
            min(order.get(m.role, 9) for m in members if m.person_id == r.person_id),
            r.label,
        ),
    )
    return ClockPanelData(
        case_id=case_id,
        as_of=dates.as_of,
        reference_month=dates.reference_month,
        years=tuple(range(dates.current_year - years + 1, dates.current_year + 1)),
        very_long_term_label=very_long_term_label(settings),
        aktivitetskrav_from=AKTIVITETSKRAV_FROM,
        rows=(ClockRow("Hushållet", "", None, clocks.household), *rows),
    )


# The Långvariga window lists the most urgent households first; past this many it says
# how many there are in all (a unit of 100,000 cases has about 46,000).
LIST_LIMIT = 1000


@dataclass(frozen=True)
class LongTermList:
    """The first rows of the Långvariga view, and how many households it holds in all."""

    rows: tuple[LongTermRow, ...]
    total: int


class LongTermService:
    """Read-only time-on-support figures for the UI; one short transaction per call."""

    def __init__(self, *, db: Database, actor: Actor, settings: Settings | None = None) -> None:
        self._db = db
        self._actor = actor
        self._settings = settings or Settings()

    def case_clock_panel(self, case_id: uuid.UUID, *, as_of: date | None = None) -> ClockPanelData:
        """The clock panel for a case the actor may open (checked first)."""
        from services.access import require_case_access

        with self._db.begin() as s:
            require_case_access(s, self._actor, case_id)
            return case_clock_panel(s, case_id, as_of=as_of, settings=self._settings)

    @property
    def window_months(self) -> int:
        """The mycket-långvarig window (a setting), for the list's column header."""
        return self._settings.long_term_window_months

    def long_term_list(
        self,
        *,
        caseworker_id: uuid.UUID | None = None,
        unit_id: uuid.UUID | None = None,
        as_of: date | None = None,
        limit: int | None = LIST_LIMIT,
    ) -> LongTermList:
        """The Långvariga view for the signed-in user: open households with the flag,
        prioritised (see :func:`long_term_view`), among the cases the user may open;
        the first ``limit`` of them (the most urgent) and how many there are.

        ``caseworker_id`` narrows to one caseworker's cases, ``unit_id`` to a unit's;
        neither: everything the user may open. Only cases in the user's access scope
        are listed, so the mental ill-health flag in a row is shown only to those
        who may see the case. Audited as ``long_term_list``.
        """
        from services.access import case_scope_condition
        from services.audit import record

        conds: list[ColumnElement[bool]] = [case_scope_condition(self._actor, as_of)]
        if caseworker_id is not None:
            conds.append(Case.caseworker_id == caseworker_id)
        with self._db.begin() as s:
            rows: list[LongTermRow] = long_term_view(
                s, as_of, unit_id, settings=self._settings, where=conds, limit=limit
            )
            total = len(rows)
            if limit is not None and total == limit:
                total = long_term_view(
                    s, as_of, unit_id, settings=self._settings, where=conds, count_only=True
                )
            record(
                s,
                self._actor,
                "long_term_list",
                unit_id=unit_id,
                caseworker_id=caseworker_id,
                rows=len(rows),
            )
            return LongTermList(tuple(rows), total)
