"""The desktop register: counts and keyset windows of cases, never the whole table.

The register shows 100,000 cases by holding only the rows it has fetched. A
window is the next ``limit`` cases after a key in the chosen order
(case number, or a column such as the applicant in Swedish order), which
an index on exactly those columns serves directly: the cost of a window does
not grow with how far the user has scrolled, unlike ``OFFSET``. A jump into
the middle (``skip``) walks only that index to find the key to start from.

A window is one statement: the case, its applicant and caseworker, and two
correlated subqueries that give the household (counts, protection, children)
and the months with support, each packed into one integer (see ``_row``).

The statement of a window is built once per filter, order, user and day and
run again with the next window's key (and the moment nödåtkomst grants are
compared with) as bound parameters: building it and its cache key had been
about a quarter of a window's cost.

Each call is its own short read transaction, so a worker thread can call it
with no session shared across threads.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.selectable import Join, Subquery

from models import Case, EmergencyAccess, HouseholdMember, Person, User, utcnow
from models.codes import STATUS_LABELS, CaseStatus, MemberRole, Role
from models.search_terms import SearchTerm
from models.sort_keys import CaseSortKey
from models.stats import SupportYearCase
from services.access import case_scope_condition, is_unrestricted, sees_no_cases
from services.audit import LOCAL_TZ, Actor
from services.db import Database
from services.personal_id import format_personal_id
from services.search import (
    LONG_TERM_MONTHS_PER_YEAR,
    RegisterFilter,
    name_prefix,
    reference_month,
    register_conditions,
    search_window_ids,
    term_window,
    text_candidates,
)
from services.search import _eighteen_years_before as eighteen_years_before
from services.text import PREFIX_END

# The rows a filter's first window brings, before the register is counted: a tall
# screen's worth and some to scroll into (a taller view asks for more, in windows of
# this size, until the count arrives; then two screens at a time). 200 until
# 2026-12-07: a search's first rows cost 14-19 ms for 200 of them at 100,000 cases
# on PostgreSQL, 9-16 ms for 52 (docs/performance.md).
WINDOW = 64

# The key of a row in the register's order: (number_year, number_seq) in case-number
# order, (sort key, case id) in the applicant orders. Windows continue after a key.
RegisterKey = tuple[Any, ...]


class RegisterSort(StrEnum):
    """The orders the register sorts by in SQL, each walking an index."""

    NUMBER = "number"  # case number (year, sequence)
    APPLICANT = "applicant"  # applicant's name in Swedish order (Å, Ä, Ö after Z)
    PERSONAL_ID = "personal_id"  # applicant's personnummer


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


# The household and the months of a window's cases come from two correlated scalar
# subqueries in the window's own statement, each packed into one integer: one statement
# and one index seek per case and table, instead of two more statements with an IN list
# of the window's ids (which cost more in SQLAlchemy than in the database).
_ADULT = 1 << 10  # children are counted in the low 10 bits, adults from bit 10
_COUNTS = (1 << 20) - 1
_PROTECTED = 1 << 20
_CHILD_FAMILY = 1 << 21
_PREVIOUS_YEAR = 1 << 12  # this year's 12-bit month mask, last year's months above it

_MEMBER = aliased(HouseholdMember, name="member")
_MEMBER_PERSON = aliased(Person, name="member_person")
_APPLICANT_M = aliased(HouseholdMember, name="applicant_m")
_APPLICANT = aliased(Person, name="applicant")
_WORKER = aliased(User, name="worker")


def _household_packed(today: date) -> ScalarSelect[Any]:
    """Per case: current adults and children, a protected member, a member under 18."""
    hm, p = _MEMBER, _MEMBER_PERSON
    return (
        select(
            func.coalesce(func.sum(case((hm.role == MemberRole.CHILD.value, 1), else_=_ADULT)), 0)
            + func.coalesce(func.max(case((p.protection.is_not(None), _PROTECTED), else_=0)), 0)
            + func.coalesce(
                # The same test as the Barnfamiljer filter (services.search), so flag and
                # filter cannot disagree.
                func.max(
                    case((p.birth_date > eighteen_years_before(today), _CHILD_FAMILY), else_=0)
                ),
                0,
            )
        )
        .select_from(hm)
        .join(p, p.id == hm.person_id)
        .where(
            hm.case_id == Case.id,
            hm.valid_from <= today,
            or_(hm.valid_to.is_(None), hm.valid_to >= today),
        )
        .scalar_subquery()
    )


def _years_packed(today: date) -> ScalarSelect[Any]:
    """Per case, from the per-year aggregate (models.stats, kept current with the months):
    this year's month mask, plus last year's number of months times ``_PREVIOUS_YEAR``."""
    sy = SupportYearCase
    return (
        select(
            func.coalesce(
                func.sum(
                    case(
                        (sy.year == today.year, sy.month_mask),
                        else_=sy.months * _PREVIOUS_YEAR,
                    )
                ),
                0,
            )
        )
        # BETWEEN, not IN: two plain parameters, where IN is rendered again on every run.
        .where(sy.case_id == Case.id, sy.year.between(today.year - 1, today.year))
        .scalar_subquery()
    )


_STATUSES = {status.value: status for status in CaseStatus}


def _rows(raw: Iterable[Any], today: date) -> list[RegisterRow]:
    """Register rows from the window statement's columns (what depends on the day only
    is worked out once, not once a row)."""
    ref = reference_month(today)
    up_to_today = (1 << today.month) - 1
    up_to_ref = (1 << ref.month) - 1 if ref.year == today.year else 0
    out = []
    for r in raw:
        first, last, pid = r[6], r[7], r[8]
        household, years = int(r[10] or 0), int(r[11] or 0)
        mask, previous = years & 0xFFF, years >> 12
        long_term = max(previous, (mask & up_to_ref).bit_count()) >= LONG_TERM_MONTHS_PER_YEAR
        counts = household & _COUNTS
        out.append(
            RegisterRow(
                id=r[0],
                key=tuple(r[12:]),
                case_number=str(r[3]),
                applicant_name=f"{first} {last}" if first is not None else "",
                personal_id=format_personal_id(pid) if pid else "",
                status=_STATUSES[r[4]],
                caseworker_name=r[9] or "",
                is_focus=bool(r[5]),
                protected=bool(household & _PROTECTED),
                adults=counts >> 10,
                children=counts & (_ADULT - 1),
                months_this_year=(mask & up_to_today).bit_count(),
                child_family=bool(household & _CHILD_FAMILY),
                long_term=long_term,
            )
        )
    return out


def _key_columns(sort: RegisterSort) -> list[Any]:
    if sort is RegisterSort.APPLICANT:
        return [CaseSortKey.applicant, CaseSortKey.case_id]
    if sort is RegisterSort.PERSONAL_ID:
        return [CaseSortKey.personal_id, CaseSortKey.case_id]
    return [Case.number_year, Case.number_seq]


class _OrderedJoin(Join):
    """``sort keys JOIN case`` that SQLite must run in that order (``CROSS JOIN``).

    SQLite otherwise starts from the access scope's unit/emergency OR (an index
    on the case table) whenever its statistics make that look small, and then
    sorts every case of the unit before ``LIMIT``: 1.3 s per window at 100,000
    cases instead of 18 ms. ``CROSS JOIN`` is SQLite's documented way to fix
    the loop order; PostgreSQL gets a plain ``JOIN``.
    """

    inherit_cache = True


@compiles(_OrderedJoin, "sqlite")
def _ordered_join_sqlite(element: _OrderedJoin, compiler: Any, **kw: Any) -> str:
    sql = str(compiler.visit_join(element, **kw))
    return sql.replace(" JOIN ", " CROSS JOIN ", 1)  # the left side is a plain table


def _ordered_from(stmt: Select[Any], sort: RegisterSort) -> Select[Any]:
    """The case table, or for the applicant orders the sort keys first and then the case:
    the window walks the sort-key index and looks each case up by its id."""
    if sort is RegisterSort.NUMBER:
        return stmt.select_from(Case)
    keys, cases = CaseSortKey.__table__, Case.__table__
    return stmt.select_from(_OrderedJoin(keys, cases, keys.c.case_id == cases.c.id))


def _everything(cols: list[Any], descending: bool) -> ColumnElement[bool]:
    """A range on the order's index that holds every row: the first window is then an
    index walk like every later one (without it SQLite may sort all matching cases)."""
    low: list[Any]
    high: list[Any]
    if cols[0] is Case.number_year:
        low, high = [-(2**31)] * 2, [2**31 - 1] * 2
    else:
        low, high = ["", uuid.UUID(int=0)], [PREFIX_END, uuid.UUID(int=2**128 - 1)]
    key = tuple_(*cols)
    if descending:
        return key <= tuple_(*(literal(v, c.type) for v, c in zip(high, cols, strict=True)))
    return key >= tuple_(*(literal(v, c.type) for v, c in zip(low, cols, strict=True)))


def _base_query(
    flt: RegisterFilter,
    today: date,
    actor: Actor | None,
    sort: RegisterSort = RegisterSort.NUMBER,
    cases: Subquery | None = None,
) -> Select[Any]:
    """``cases``: read the rows of just these cases (a subquery with ``case_id``), which
    come first in the join: SQLite seeks each case by its id."""
    applicant_m, applicant, worker = _APPLICANT_M, _APPLICANT, _WORKER
    stmt = select(
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
        _household_packed(today),
        _years_packed(today),
        *_key_columns(sort),
    )
    if cases is None:
        stmt = _ordered_from(stmt, sort)
    else:
        stmt = stmt.select_from(cases).join(Case, Case.id == cases.c.case_id)
    return (
        stmt.outerjoin(
            applicant_m,
            and_(
                applicant_m.case_id == Case.id,
                applicant_m.role == MemberRole.APPLICANT.value,
                applicant_m.valid_to.is_(None),
            ),
        )
        .outerjoin(applicant, applicant.id == applicant_m.person_id)
        .outerjoin(worker, worker.id == Case.caseworker_id)
        # Windows walk the order's index: per-case (correlated) flag tests.
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
    skip: int = 0,
    actor: Actor | None = None,
    sort: RegisterSort = RegisterSort.NUMBER,
) -> list[RegisterRow]:
    """The next ``limit`` matching cases after ``after`` in the ``sort`` order (or reversed).

    ``skip``: leave out that many matching cases first (a jump into the middle
    of the register): a light query on the order's index finds the key to
    start from, then the window is read as usual.
    """
    if sees_no_cases(actor):
        return []
    cols = _key_columns(sort)
    order = [c.desc() for c in cols] if descending else list(cols)

    def after_clause(after: RegisterKey) -> ColumnElement[bool]:
        # A row-value comparison: SQLite and PostgreSQL seek the index to the key. The
        # equivalent OR form made SQLite scan from the first case every time, so a
        # window deep in 100,000 cases cost 200 ms and Ctrl+End grew quadratically.
        key = tuple_(*cols)
        bound = tuple_(*(literal(v, c.type) for v, c in zip(after, cols, strict=True)))
        return key < bound if descending else key > bound

    if skip > 0:  # a jump: rare, built for the occasion
        conds = register_conditions(flt, today=today, correlated=True, actor=actor)
        conds.append(after_clause(after) if after is not None else _everything(cols, descending))
        found = session.execute(
            _ordered_from(select(*cols), sort)
            .where(*conds)
            .order_by(*order)
            .offset(skip - 1)
            .limit(1)
        ).first()
        if found is None:
            return []
        after = tuple(found)
    # A search in case-number order finds its window's cases first, by the plan that
    # suits the text (services.search); the rows are then read for those cases only.
    # A name search's window from the search terms is usually one statement with its rows.
    ids = None
    if sort is RegisterSort.NUMBER:
        window = term_window(
            session, flt, after=after, limit=limit, today=today, descending=descending, actor=actor
        )
        if window is not None:
            chosen = window.cases.subquery("window")
            stmt = _base_query(RegisterFilter(), today, None, cases=chosen)
            by = [chosen.c.number_year, chosen.c.number_seq]
            stmt = stmt.order_by(*(c.desc() for c in by) if descending else by).limit(limit)
            rows = _rows(session.connection().execute(stmt), today)
            if window.complete(session, len(rows), limit):
                return rows
        ids = search_window_ids(
            session, flt, after=after, limit=limit, today=today, descending=descending, actor=actor
        )
    # The statement is built once per filter, order, scope and day and run again with
    # the next window's key and the moment as parameters (see _window_statement).
    now = utcnow()
    scope_day = now.astimezone(LOCAL_TZ).date()
    params: dict[str, Any] = {f"{_AFTER}{i}": v for i, v in enumerate(after or ())}
    if actor is not None and not is_unrestricted(actor):
        params[_SCOPE_NOW] = now
    if sort is not RegisterSort.NUMBER and flt.text.strip():
        # A search in a name or personnummer order: the window's cases by their keys
        # alone first, then the rows of just those. In one statement the database
        # made every matching case's row (household, months, applicant) before
        # sorting them: 50 ms for one case number, 220 ms for "a" (SQLite).
        walk = _walks_sort_order(session, flt, actor)
        keys = _sorted_search_statement(
            flt, actor, sort, descending, after is None, limit, today, scope_day, walk
        )
        window_ids = list(session.scalars(keys, params))
        if not window_ids:
            return []
        stmt = _sorted_ids_statement(today, sort, descending, limit)
        params = {_IDS: window_ids}
    elif ids is not None:
        if not ids:
            return []
        stmt = _ids_statement(today, descending, limit)
        params = {_IDS: ids}
    else:
        return plain_window(
            session.connection(),
            flt,
            after=after,
            limit=limit,
            today=today,
            descending=descending,
            actor=actor,
            sort=sort,
        )
    # Core execution: the ORM adds nothing to plain columns but time per row.
    return _rows(session.connection().execute(stmt, params).all(), today)


def plain_window(
    conn: Connection,
    flt: RegisterFilter,
    *,
    after: RegisterKey | None,
    limit: int,
    today: date,
    descending: bool = False,
    actor: Actor | None = None,
    sort: RegisterSort = RegisterSort.NUMBER,
) -> list[RegisterRow]:
    """A window read in one statement (:func:`window_in` without a name search or a skip:
    the whole register, quick filters, a case number or personnummer), built once per
    filter, order, scope and day (:func:`_window_statement`) and run through the driver
    as compiled once (:class:`_DriverStatement`)."""
    if sees_no_cases(actor):
        return []
    now = utcnow()
    scope_day = now.astimezone(LOCAL_TZ).date()
    params: dict[str, Any] = {f"{_AFTER}{i}": v for i, v in enumerate(after or ())}
    if actor is not None and not is_unrestricted(actor):
        params[_SCOPE_NOW] = now
    stmt = _window_statement(flt, actor, sort, descending, after is None, limit, today, scope_day)
    if _plans_once(conn, flt, actor):
        conn.execute(_GENERIC_PLAN)
    # Through the driver only without search text: a statement for the whole register or
    # its quick filters is built once and run again for every window, while each number
    # searched for is a statement of its own, whose compiling SQLAlchemy's cache (by the
    # statement's shape, not its values) spares (the bench's median search took 9.2-10.3
    # ms compiled here, 7.1 ms without).
    reused = not flt.text.strip()
    driver = _driver_statement(stmt, conn.dialect) if reused and _THROUGH_DRIVER.get() else None
    if driver is None:
        rows: Sequence[Any] = conn.execute(stmt, params).all()
    else:
        rows = driver.rows(conn.exec_driver_sql(driver.sql, driver.parameters(params)).all())
    return _rows(rows, today)


# Off while the bench captures the statements the register runs (services.bench): it
# reads them as SQLAlchemy executes them. The SQL is the same either way.
_THROUGH_DRIVER: ContextVar[bool] = ContextVar("register_through_driver", default=True)


@contextmanager
def through_sqlalchemy() -> Iterator[None]:
    """Run the register's windows through SQLAlchemy's execution (to capture them)."""
    token = _THROUGH_DRIVER.set(False)
    try:
        yield
    finally:
        _THROUGH_DRIVER.reset(token)


@dataclass(frozen=True)
class _DriverStatement:
    """A built statement compiled once for the driver, run with ``exec_driver_sql``.

    SQLAlchemy's own execution looks the statement up in its compiled cache,
    processes every parameter and wraps every row on each run. Here the
    parameters the statement was built with are processed once, and only the
    window's key and the moment on each run; of the rows' values only those of
    columns whose type converts them (the ids and keys as UUIDs, SQLite's
    booleans). Measured (docs/performance.md, fifth pass): a warm 64-row window
    1.37 -> 1.13 ms with :func:`_rows`, the register's first rows 14.9 -> 14.5
    ms alternated (a raw sqlite3 cursor, without the pool, the access scope's
    parameters or SQLAlchemy's errors, saved 1.7 ms in an experiment).
    """

    sql: str
    names: tuple[str, ...] | None  # positional parameters in order; None: by name
    fixed: dict[str, Any]  # processed values of the parameters the statement holds
    processors: dict[str, Callable[[Any], Any] | None]
    columns: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, result processor)

    def rows(self, raw: Sequence[Any]) -> Sequence[Any]:
        """The driver's rows with the columns' types applied (as SQLAlchemy would)."""
        if not self.columns:
            return raw
        out = []
        for row in raw:
            values = list(row)
            for i, process in self.columns:
                values[i] = process(values[i])
            out.append(values)
        return out

    def parameters(self, given: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = dict(self.fixed)
        for name, value in given.items():
            process = self.processors[name]
            values[name] = value if process is None else process(value)
        if self.names is None:
            return values
        return tuple(values[name] for name in self.names)


@lru_cache(maxsize=64)
def _driver_statement(stmt: Select[Any], dialect: Dialect) -> _DriverStatement | None:
    """``stmt`` compiled for ``dialect``'s driver; None where it would need SQLAlchemy at
    run time (parameters rendered per run, or names the driver cannot take as they are)."""
    compiled = stmt.compile(dialect=dialect)
    if compiled.post_compile_params or getattr(compiled, "escaped_bind_names", None):
        return None
    processors: dict[str, Callable[[Any], Any] | None] = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for name, bind in compiled.binds.items()
    }
    given = {name for name, bind in compiled.binds.items() if bind.required}
    fixed: dict[str, Any] = {}
    for name, value in compiled.construct_params({n: None for n in given}).items():
        if name in given:
            continue
        process = processors[name]
        fixed[name] = value if process is None else process(value)
    names = tuple(compiled.positiontup or ()) if compiled.positional else None
    columns = []
    for i, column in enumerate(stmt.selected_columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            columns.append((i, process))
    return _DriverStatement(compiled.string, names, fixed, processors, tuple(columns))


# PostgreSQL plans a statement for each run's values (services.db: plan_cache_mode), so
# that a search's window is planned for its text. The whole register's window has one
# plan whatever its key (walk the order's index to the key, stop after ``limit``), and
# the unit a team leader sees is a subquery either way: planning it again was about a
# quarter of a scrolled window (0.7 of 3.5-4.2 ms a 50-row window, with this statement).
_GENERIC_PLAN = text("SET LOCAL plan_cache_mode = force_generic_plan")


def _plans_once(conn: Connection, flt: RegisterFilter, actor: Actor | None) -> bool:
    """Whether a window of ``flt`` may reuse one plan (PostgreSQL, whose psycopg prepares a
    statement run five times): the whole register, no quick filter, for a user who sees
    the unit or everything. A caseworker's scope and every filter are left to a plan of
    their own values (a caseworker's few cases, a rare status)."""
    if flt != RegisterFilter() or conn.dialect.name != "postgresql":
        return False
    return actor is None or is_unrestricted(actor) or actor.role is Role.TEAM_LEADER


# Names of the parameters a built window statement is run with.
_AFTER = "window_after_"
_SCOPE_NOW = "window_scope_now"
_IDS = "window_ids"


@lru_cache(maxsize=64)
def _window_statement(
    flt: RegisterFilter,
    actor: Actor | None,
    sort: RegisterSort,
    descending: bool,
    first: bool,
    limit: int,
    today: date,
    scope_day: date,
) -> Select[Any]:
    """The window statement for these arguments, with the key to continue after (unless
    ``first``) and the moment nödåtkomst grants are compared with as bound parameters.

    Building the statement and its cache key was about a quarter of a window's
    cost (SQLAlchemy, profiled at 100,000 cases); a statement object built once
    keeps its cache key, so a later window only binds new values. Everything
    else it depends on is an argument here: the filter, the user (the access
    scope), the order, the register's date and the real Swedish date the scope
    is computed on (a new day builds it again).
    """
    return _windowed(
        _base_query(flt, today, None, sort), actor, sort, descending, first, limit, scope_day
    )


def _windowed(
    stmt: Select[Any],
    actor: Actor | None,
    sort: RegisterSort,
    descending: bool,
    first: bool,
    limit: int,
    scope_day: date,
) -> Select[Any]:
    """``stmt`` with the access scope, the key to continue after, the order and the limit."""
    cols = _key_columns(sort)
    if actor is not None:  # as register_conditions adds it, with the moment as a parameter
        moment = bindparam(_SCOPE_NOW, type_=EmergencyAccess.__table__.c.expires_at.type)
        stmt = stmt.where(case_scope_condition(actor, scope_day, now_param=moment))
    if first:
        stmt = stmt.where(_everything(cols, descending))
    else:
        key = tuple_(*cols)
        bound = tuple_(*(bindparam(f"{_AFTER}{i}", type_=c.type) for i, c in enumerate(cols)))
        stmt = stmt.where(key < bound if descending else key > bound)
    order = [c.desc() for c in cols] if descending else list(cols)
    return stmt.order_by(*order).limit(limit)


@lru_cache(maxsize=64)
def _sorted_search_statement(
    flt: RegisterFilter,
    actor: Actor | None,
    sort: RegisterSort,
    descending: bool,
    first: bool,
    limit: int,
    today: date,
    scope_day: date,
    walk: bool = False,
) -> Select[Any]:
    """The case ids of a search's window in a sort-key order (not the case number's), as
    :func:`_window_statement` with the same parameters, but selecting the key alone; only
    the window's rows are made afterwards (:func:`_sorted_ids_statement`).

    Two plans: the text's cases are looked up by id
    (:func:`services.search.text_candidates`) and sorted; or the order's index is walked
    and each case asked whether it matches. PostgreSQL's planner chooses between them
    (the IN form). SQLite is told (``walk``, chosen by :func:`_walks_sort_order`): the IN
    form makes it sort, and a walk asks each case in a scalar subquery, which SQLite
    cannot turn into the IN form."""
    conds = register_conditions(replace(flt, text=""), today=today, correlated=True)
    if walk:
        folded = name_prefix(flt.text)
        assert folded is not None  # only for a name
        t = SearchTerm
        member = (
            select(func.count())
            .where(t.case_id == CaseSortKey.case_id, t.term >= folded, t.term < folded + PREFIX_END)
            .scalar_subquery()
        )
        conds.append(member > 0)
    else:
        candidates = text_candidates(flt.text)
        assert candidates is not None  # only for a search
        conds.append(CaseSortKey.case_id.in_(candidates))
    stmt = _ordered_from(select(CaseSortKey.case_id), sort).where(*conds)
    return _windowed(stmt, actor, sort, descending, first, limit, scope_day)


# On SQLite a name with at least this many search-term entries (about 14 % of the
# cases at 100,000) is found, in a sorted order, by walking the order's index; a rarer
# one by sorting its cases. Names cluster in the applicant order (a last name is its
# key), so a walk for a middling name can pass tens of thousands of cases before its
# window: 100,000 cases, the key statement alone, walk against sort: "a" (47,000
# entries) 1.2 against 49 ms, "kar" (14,400) 6.9 against 17, "lind" (11,200) 23
# against 13, "lund" (6,700) 68 against 9 (docs/performance.md). Tests set it to 0 to
# walk every name.
SORTED_WALK_ENTRIES = 14_000


def _walks_sort_order(session: Session, flt: RegisterFilter, actor: Actor | None) -> bool:
    """Whether a search in a sorted order walks the order's index: for a name common
    enough that a window's worth of its cases comes soon, when no other filter (or a
    caseworker's own few hundred cases) thins them out. SQLite only (PostgreSQL's
    planner chooses)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    folded = name_prefix(flt.text)
    narrowed = flt.caseworker_id is not None or flt.focus_only or flt.long_term
    narrowed = narrowed or flt.child_family or (actor is not None and actor.role is Role.CASEWORKER)
    if folded is None or narrowed:
        return False
    if SORTED_WALK_ENTRIES <= 0:
        return True
    t = SearchTerm
    entries = (
        select(literal(1))
        .where(t.term >= folded, t.term < folded + PREFIX_END)
        .limit(SORTED_WALK_ENTRIES)
        .subquery()
    )
    return (session.scalar(select(func.count()).select_from(entries)) or 0) >= SORTED_WALK_ENTRIES


@lru_cache(maxsize=8)
def _sorted_ids_statement(
    today: date, sort: RegisterSort, descending: bool, limit: int
) -> Select[Any]:
    """The rows of a window whose case ids are known, in a sort-key order."""
    cols = _key_columns(sort)
    order = [c.desc() for c in cols] if descending else list(cols)
    stmt = _base_query(RegisterFilter(), today, None, sort).where(
        CaseSortKey.case_id.in_(bindparam(_IDS, expanding=True))
    )
    return stmt.order_by(*order).limit(limit)


@lru_cache(maxsize=8)
def _ids_statement(today: date, descending: bool, limit: int) -> Select[Any]:
    """The rows of a search window whose ids are already known (in case-number order)."""
    cols = _key_columns(RegisterSort.NUMBER)
    order = [c.desc() for c in cols] if descending else list(cols)
    stmt = _base_query(RegisterFilter(), today, None).where(
        Case.id.in_(bindparam(_IDS, expanding=True))
    )
    return stmt.order_by(*order).limit(limit)


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
        skip: int = 0,
        sort: RegisterSort = RegisterSort.NUMBER,
    ) -> list[RegisterRow]:
        """The next cases after ``after_key`` (None: from the start), oldest or newest
        first, in the ``sort`` order; ``skip`` matching cases are left out first."""
        if not flt.text.strip() and not skip:
            # The whole register or its quick filters (opening it, scrolling it): one
            # statement on a plain connection, no session (plain_window).
            with self._db.read() as conn:
                return plain_window(
                    conn,
                    flt,
                    after=after_key,
                    limit=limit,
                    today=self._today(),
                    descending=descending,
                    actor=self._actor,
                    sort=sort,
                )
        with self._db.begin() as s:
            return window_in(
                s,
                flt,
                after=after_key,
                limit=limit,
                today=self._today(),
                descending=descending,
                skip=skip,
                actor=self._actor,
                sort=sort,
            )
