"""The case register's query: search rules, filters and Swedish order, all in SQL.

Search = prefix match on first name, last name, "förnamn efternamn" and
"efternamn förnamn" (case-folded, å/ä/ö included); personnummer with or
without century and dash; case number whole or by its digits. Every
predicate is a range or equality on an indexed binary-collated column.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from models import Case, HouseholdMember, Person, PersonIdentifier, User
from models.codes import STATUS_LABELS, CaseStatus, MemberRole, Role
from models.search_terms import SearchTerm
from services.access import case_scope_condition
from services.audit import Actor, record_search
from services.db import Database
from services.text import PREFIX_END, search_fold

_CASE_NUMBER = re.compile(r"^([A-Za-z]{2})-?(\d{4})-?(\d{1,5})$")
_ID_CHARS = re.compile(r"[\s\-+]")


def _prefix(col: InstrumentedAttribute[Any], prefix: str) -> ColumnElement[bool]:
    return and_(col >= prefix, col < prefix + PREFIX_END)


def _cases_of(persons: list[Select[Any]]) -> Select[Any]:
    """Every case in which one of ``persons`` (selects of person ids) is or was a member.

    One statement per kind of match, joined by UNION, rather than one person
    condition with OR: PostgreSQL cannot seek an index for an OR across two
    tables and walked all 100,000 cases instead (a 12-digit personnummer,
    also looked up among earlier ones, took 540 ms; docs/performance.md)."""
    ids = persons[0] if len(persons) == 1 else union(*persons)
    return select(HouseholdMember.case_id).where(HouseholdMember.person_id.in_(ids))


def name_prefix(text: str) -> str | None:
    """The folded name prefix when ``text`` searches by name (not a number); else None."""
    raw = text.strip()
    if not raw or _CASE_NUMBER.match(raw):
        return None
    if raw[:2].upper() == "FS" and len(raw) > 2 and not raw[2:3].isalpha():
        return None
    if _ID_CHARS.sub("", raw).isdigit():
        return None
    return search_fold(raw)


def name_condition(folded: str) -> ColumnElement[bool]:
    """On ``Person``: first name, last name, "first last" or "last first" starts with ``folded``.

    What a name match means; searches read it from ``search_term`` instead
    (:func:`name_terms_condition`), and tests hold the two to the same cases."""
    return or_(
        _prefix(Person.search_first, folded),
        _prefix(Person.search_last, folded),
        _prefix(Person.search_full, folded),
        _prefix(Person.search_full_rev, folded),
    )


def name_terms_condition(folded: str) -> ColumnElement[bool]:
    """On ``Case``: a past or present member's name starts with ``folded``, from the
    search-term index (models/search_terms.py): one range of it, no person read."""
    t = SearchTerm
    return Case.id.in_(select(t.case_id).where(t.term >= folded, t.term < folded + PREFIX_END))


def search_predicate(text: str) -> ColumnElement[bool] | None:
    """The WHERE clause for a search text, or None for an empty search."""
    raw = text.strip()
    if not raw:
        return None
    m = _CASE_NUMBER.match(raw)
    if m:
        number = f"{m.group(1).upper()}-{m.group(2)}-{int(m.group(3)):05d}"
        return Case.case_number == number
    if raw[:2].upper() == "FS" and len(raw) > 2 and not raw[2:3].isalpha():
        return _prefix(Case.case_number, raw.upper())
    digits = _ID_CHARS.sub("", raw)
    if digits.isdigit():
        return _digits_predicate(digits)
    return name_terms_condition(search_fold(raw))


def text_candidates(text: str) -> Select[Any] | None:
    """The ids of every case a search text matches, as a select of its own (correlated to
    nothing), or None for an empty text: a name's cases from its range of the search-term
    index, a number's from :func:`search_predicate` (a handful of cases)."""
    folded = name_prefix(text)
    if folded is not None:
        t = SearchTerm
        return select(t.case_id).where(t.term >= folded, t.term < folded + PREFIX_END)
    pred = search_predicate(text)
    if pred is None:
        return None
    return select(Case.id).where(pred).correlate(None)


def _digits_predicate(digits: str) -> ColumnElement[bool]:
    persons: list[Select[Any]] = []
    n = len(digits)
    if n == 12:
        persons.append(select(Person.id).where(Person.personal_id == digits))
        persons.append(
            select(PersonIdentifier.person_id).where(PersonIdentifier.personal_id == digits)
        )
    elif n == 10:
        persons.append(select(Person.id).where(Person.personal_id_short == digits))
    elif n >= 6:
        if digits[:2] in ("19", "20"):
            persons.append(select(Person.id).where(_prefix(Person.personal_id, digits)))
        persons.append(select(Person.id).where(_prefix(Person.personal_id_short, digits)))
    number = _case_number_condition(Case, digits)
    if not persons:
        return number if number is not None else false()
    if number is None:
        return Case.id.in_(_cases_of(persons))
    # A case number or a person: one set of case ids, so neither side is an OR to walk.
    numbered = aliased(Case)
    on_numbered = _case_number_condition(numbered, digits)
    assert on_numbered is not None  # the same digits as ``number``
    by_number = select(numbered.id).where(on_numbered)
    return Case.id.in_(union(_cases_of(persons), by_number))


def _case_number_condition(case: Any, digits: str) -> ColumnElement[bool] | None:
    """Digits that may be a case number: its sequence (up to 5 digits) or year and sequence."""
    n = len(digits)
    if n <= 5:
        return case.number_seq == int(digits)  # type: ignore[no-any-return]
    if n == 9 and digits[:2] in ("19", "20"):
        return and_(case.number_year == int(digits[:4]), case.number_seq == int(digits[4:]))
    return None


@dataclass(frozen=True)
class RegisterFilter:
    """Quick filters of the register; None means no restriction."""

    text: str = ""
    caseworker_id: uuid.UUID | None = None
    focus_only: bool = False
    status: CaseStatus | None = None
    unit_id: uuid.UUID | None = None
    # Added with the desktop register: a current member under 18; long-term support.
    child_family: bool = False
    long_term: bool = False


@dataclass(frozen=True)
class CaseRow:
    """One line of the register or of ``case list``."""

    id: uuid.UUID
    case_number: str
    applicant_name: str
    applicant_personal_id: str | None
    status: str
    caseworker_username: str | None
    is_focus: bool

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[CaseStatus(self.status)]


def register_query(flt: RegisterFilter, *, actor: Actor | None = None) -> Select[Any]:
    """SELECT for the register, ordered by case number (a stable key for windows).

    ``actor``: only the cases they may open (services/access.py); None = all.
    """
    applicant_m = aliased(HouseholdMember)
    applicant = aliased(Person)
    worker = aliased(User)
    stmt = (
        select(
            Case.id,
            Case.case_number,
            applicant.first_name,
            applicant.last_name,
            applicant.personal_id,
            Case.status,
            worker.username,
            Case.is_focus,
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
    )
    stmt = stmt.where(*register_conditions(flt, actor=actor))
    return stmt.order_by(Case.number_year, Case.number_seq)


# Socialstyrelsen: långvarigt ekonomiskt bistånd is support in 10–12 months of a calendar year.
LONG_TERM_MONTHS_PER_YEAR = 10


def _eighteen_years_before(day: date) -> date:
    if day.month == 2 and day.day == 29:
        day = day.replace(day=28)
    return day.replace(year=day.year - 18)


def child_family_predicate(today: date, *, correlated: bool = False) -> ColumnElement[bool]:
    """Barnfamilj: a current household member under 18 on ``today``.

    ``correlated`` gives an EXISTS per case, which is fast while walking the
    case-number index for a window; the default IN list is faster for
    counting (or listing) every matching case.
    """
    conds = (
        HouseholdMember.valid_from <= today,
        or_(HouseholdMember.valid_to.is_(None), HouseholdMember.valid_to >= today),
        Person.birth_date > _eighteen_years_before(today),
    )
    if correlated:
        return (
            select(HouseholdMember.id)
            .join(Person, Person.id == HouseholdMember.person_id)
            .where(HouseholdMember.case_id == Case.id, *conds)
            .exists()
        )
    members = (
        select(HouseholdMember.case_id)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(*conds)
    )
    return Case.id.in_(members)


def reference_month(today: date) -> date:
    """The last complete calendar month before ``today`` (its first day)."""
    return date(today.year - 1, 12, 1) if today.month == 1 else date(today.year, today.month - 1, 1)


def long_term_predicate(today: date, *, correlated: bool = False) -> ColumnElement[bool]:
    """Långvarig: 10+ months last calendar year, or already 10+ this year.

    Months count up to the reference month (the last complete one), as in
    the statistics, so the flag does not change with a month not yet over.
    ``correlated``: per-case test (see :func:`child_family_predicate`). The
    rule itself lives in :func:`services.longterm.long_term_flag`, the one
    definition the register, the Långvariga view and the statistics share.
    """
    # Imported here: services.longterm depends on services this module's users import.
    from services.longterm import long_term_flag, reference_dates

    return long_term_flag(reference_dates(today), correlated=correlated)


def register_conditions(
    flt: RegisterFilter,
    *,
    today: date | None = None,
    correlated: bool | None = None,
    actor: Actor | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filter, on ``Case`` only (no joins), for lists and counts.

    ``correlated`` chooses the form of the barnfamilj and långvarig tests
    (see :func:`child_family_predicate`); None picks it: per case when
    another condition already narrows the cases (caseworker, text, focus).
    """
    today = today or date.today()
    if correlated is None:
        correlated = bool(flt.caseworker_id or flt.text.strip() or flt.focus_only)
    conds: list[ColumnElement[bool]] = []
    pred = search_predicate(flt.text)
    if pred is not None:
        conds.append(pred)
    if flt.caseworker_id is not None:
        conds.append(Case.caseworker_id == flt.caseworker_id)
    if flt.focus_only:
        conds.append(Case.is_focus.is_(True))
    if flt.status is not None:
        conds.append(Case.status == flt.status.value)
    if flt.unit_id is not None:
        conds.append(Case.unit_id == flt.unit_id)
    if flt.child_family:
        conds.append(child_family_predicate(today, correlated=correlated))
    if flt.long_term:
        conds.append(long_term_predicate(today, correlated=correlated))
    if actor is not None:  # the access matrix, on today's real date (not the reference date)
        conds.append(case_scope_condition(actor, None))
    return conds


# --------------------------------------------------------------------------- search windows
#
# The register shows a search a window (200 cases) at a time, newest or oldest case
# number first. Two plans find a name search's window:
#
# * "terms" (arbetsledare, and everyone unrestricted): ``search_term`` (revision 0014,
#   models/search_terms.py) holds one entry per (name term, case) keyed by the term and
#   then the case number. A prefix is one range of that key, read without touching a
#   person, member or case row (~0.15 us an entry at 100,000 cases; "a", the largest,
#   has 47,000); a top-N sort of the range gives its first cases in case-number order,
#   and only those are checked against the filters and the access scope.
# * "list" (a caseworker, or the Mina ärenden filter: a few hundred cases): every case
#   of every matching person, sorted by an expression (``number_year + 0``), which no
#   index provides, so the database starts from the matching persons and the scope.
#
# Until revision 0014 a capped count of matching persons chose between the list and a
# walk of the case-number index; both cost 20-45 ms for names matching 2,000-8,000
# persons (docs/performance.md). Both plans apply the same conditions; tests compare them
# with each other and with a brute-force filter in Python.

LIST, TERMS = "list", "terms"
# Term-table entries read per window case in a first batch (a case has one per matching
# term, and a family shares its last name).
TERM_BATCH = 4


def choose_strategy(session: Session, flt: RegisterFilter, actor: Actor | None = None) -> str:
    """:data:`TERMS` for a name search; :data:`LIST` for a number, or when the cases are
    a caseworker's few hundred (their role, or the Mina ärenden filter): the list form
    starts from those, where the term range would be read to its end."""
    del session  # the choice needs no statistics
    if name_prefix(flt.text) is None or flt.caseworker_id is not None:
        return LIST
    if actor is not None and actor.role == Role.CASEWORKER:
        return LIST
    return TERMS


def search_window_ids(
    session: Session,
    flt: RegisterFilter,
    *,
    after: tuple[int, int] | None,
    limit: int,
    today: date,
    descending: bool = False,
    actor: Actor | None = None,
    strategy: str | None = None,
) -> list[uuid.UUID] | None:
    """Ids of the next ``limit`` cases matching a name search, in case-number order.

    None when the text is empty or a number (a case number or personnummer
    matches a case or a few: the register's one statement finds them at once),
    and on PostgreSQL for a caseworker unless ``strategy`` is given: its planner,
    with real statistics and a LIMIT-aware cost model, picks a good plan for the
    register's one statement there (the steered list measured 1.5-3x slower).
    The term plan serves both databases (PostgreSQL, 20,000 cases: p50 131 ms
    for the one statement, 27 ms for the term plan, docs/performance.md).
    ``after``: the (number_year, number_seq) key of the last case already shown.
    ``strategy``: :data:`LIST` or :data:`TERMS` (tests); None chooses (:func:`choose_strategy`).
    """
    folded = name_prefix(flt.text)
    if folded is None:
        return None
    if strategy is None:
        strategy = choose_strategy(session, flt, actor)
        if strategy == LIST and session.get_bind().dialect.name != "sqlite":
            return None
    if strategy == TERMS:
        return _term_window_ids(
            session, flt, folded, after=after, limit=limit, today=today,
            descending=descending, actor=actor,
        )  # fmt: skip
    year, seq = Case.number_year, Case.number_seq
    conds = register_conditions(flt, today=today, correlated=True, actor=actor)
    if after is not None:
        key, bound = tuple_(year, seq), tuple_(literal(after[0]), literal(after[1]))
        conds.append(key < bound if descending else key > bound)
    order = [year + 0, seq + 0]
    stmt = select(Case.id).where(*conds)
    stmt = stmt.order_by(*(c.desc() for c in order) if descending else order).limit(limit)
    return list(session.scalars(stmt))


def _term_where(
    folded: str, after: tuple[int, int] | None, descending: bool
) -> tuple[list[ColumnElement[bool]], list[Any]]:
    """The prefix's range of ``search_term`` after a key, and the case-number order."""
    t = SearchTerm
    where = [t.term >= folded, t.term < folded + PREFIX_END]
    if after is not None:
        key, bound = (
            tuple_(t.number_year, t.number_seq),
            tuple_(literal(after[0]), literal(after[1])),
        )
        where.append(key < bound if descending else key > bound)
    order = [t.number_year, t.number_seq]
    return where, [c.desc() for c in order] if descending else order


def _term_batch(
    flt: RegisterFilter,
    folded: str,
    *,
    after: tuple[int, int] | None,
    batch: int,
    limit: int,
    today: date,
    descending: bool,
    actor: Actor | None,
    lateral: bool = False,
) -> Select[Any]:
    """(case_id, number_year, number_seq) of the first ``limit`` cases among the first
    ``batch`` entries of the prefix's range that pass the filters and the access scope,
    in case-number order.

    ``lateral`` (PostgreSQL): each candidate's case is checked by its own key, in a
    LATERAL subquery the planner cannot turn into a join. As a plain join PostgreSQL
    hashed every case the scope allows (a sequential scan of 100,000 cases, ~50 ms)
    to check the batch's few hundred; SQLite has no LATERAL and seeks each by key."""
    t = SearchTerm
    where, order = _term_where(folded, after, descending)
    entries = (
        select(t.number_year, t.number_seq, t.case_id)
        .where(*where)
        .order_by(*order)
        .limit(batch)
        .subquery("entry")
    )
    # One row per case before the case table is read; (year, seq) is unique per case.
    cand = select(entries).distinct().subquery("candidate")
    stmt = select(cand.c.case_id, cand.c.number_year, cand.c.number_seq).select_from(cand)
    conds = register_conditions(replace(flt, text=""), today=today, correlated=True)
    if actor is not None:  # coalesce: the unit's index (every case of a unit) is no shortcut
        conds.append(func.coalesce(case_scope_condition(actor, None), False))
    if conds and lateral:
        passes = (
            select(literal(1).label("passes"))
            .where(Case.id == cand.c.case_id, *conds)
            .limit(1)  # a LIMIT keeps the subquery from being pulled up into a join
            .lateral("passes")
        )
        stmt = stmt.join(passes, true())
    elif conds:
        stmt = stmt.join(Case, Case.id == cand.c.case_id).where(*conds)
    c_order = [cand.c.number_year, cand.c.number_seq]
    return stmt.order_by(*(c.desc() for c in c_order) if descending else c_order).limit(limit)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _batch_end(
    session: Session, folded: str, after: tuple[int, int] | None, batch: int, descending: bool
) -> tuple[int, int] | None:
    """The key of the batch's last entry, or None when the range ends inside the batch."""
    t = SearchTerm
    where, order = _term_where(folded, after, descending)
    last = session.execute(
        select(t.number_year, t.number_seq)
        .where(*where)
        .order_by(*order)
        .offset(batch - 1)
        .limit(1)
    ).first()
    return None if last is None else (last[0], last[1])


def _term_window_ids(
    session: Session,
    flt: RegisterFilter,
    folded: str,
    *,
    after: tuple[int, int] | None,
    limit: int,
    today: date,
    descending: bool,
    actor: Actor | None,
) -> list[uuid.UUID]:
    """The window from ``search_term`` (models/search_terms.py): the prefix's range of
    its key, the first entries of it in case-number order by a top-N sort, then the
    filters and the access scope on just those cases.

    A case is there once per matching term (a family shares its last name), so a
    batch of ``TERM_BATCH`` × ``limit`` entries is read at a time; when the
    conditions leave fewer than ``limit`` cases of it and the range holds more,
    the next batch (four times as large) starts after the batch's last case number.
    """
    out: list[uuid.UUID] = []
    batch = TERM_BATCH * limit
    while True:
        stmt = _term_batch(
            flt, folded, after=after, batch=batch, limit=limit - len(out), today=today,
            descending=descending, actor=actor, lateral=_is_postgresql(session),
        )  # fmt: skip
        out += session.scalars(stmt)
        if len(out) >= limit:
            return out
        end = _batch_end(session, folded, after, batch, descending)
        if end is None:
            return out
        after = end
        batch *= 4


@dataclass(frozen=True)
class TermWindow:
    """A name search's window as one statement the register can read its rows through
    (the common case): the first batch of the term plan. ``complete`` says whether
    a short result is the whole window (else :func:`search_window_ids` reads on)."""

    cases: Select[Any]  # (case_id, number_year, number_seq), in order, at most ``limit``
    folded: str
    after: tuple[int, int] | None
    descending: bool

    def complete(self, session: Session, rows: int, limit: int) -> bool:
        if rows >= limit:
            return True
        return (
            _batch_end(session, self.folded, self.after, TERM_BATCH * limit, self.descending)
            is None
        )


def term_window(
    session: Session,
    flt: RegisterFilter,
    *,
    after: tuple[int, int] | None,
    limit: int,
    today: date,
    descending: bool = False,
    actor: Actor | None = None,
) -> TermWindow | None:
    """The term plan's first batch as a statement, when :func:`search_window_ids` would
    take the term plan (a name, not a caseworker's few cases); else None."""
    folded = name_prefix(flt.text)
    if folded is None or choose_strategy(session, flt, actor) != TERMS:
        return None
    cases = _term_batch(
        flt, folded, after=after, batch=TERM_BATCH * limit, limit=limit, today=today,
        descending=descending, actor=actor, lateral=_is_postgresql(session),
    )  # fmt: skip
    return TermWindow(cases=cases, folded=folded, after=after, descending=descending)


def filter_names(flt: RegisterFilter) -> list[str]:
    """The names of the filters in use ("text", "status" …), for the audit log: never values."""
    used = {
        "text": bool(flt.text.strip()),
        "caseworker": flt.caseworker_id is not None,
        "focus": flt.focus_only,
        "status": flt.status is not None,
        "unit": flt.unit_id is not None,
        "child_family": flt.child_family,
        "long_term": flt.long_term,
    }
    return [name for name, on in used.items() if on]


class SearchAuditService:
    """Audits settled register searches (issue 6: who searched, when, how many hits).

    The register calls :meth:`record_search` once the user has stopped typing
    and the result is in, from a worker thread; each call is its own short
    transaction. The search text is never written, only which filters were used.
    """

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    @property
    def actor(self) -> Actor:
        return self._actor

    def record_search(self, flt: RegisterFilter, rows: int) -> None:
        with self._db.begin() as s:
            record_search(s, self._actor, rows=rows, filters=filter_names(flt))


def _row(r: tuple[object, ...]) -> CaseRow:
    first, last = r[2], r[3]
    return CaseRow(
        id=r[0],  # type: ignore[arg-type]
        case_number=str(r[1]),
        applicant_name=f"{first} {last}" if first is not None else "",
        applicant_personal_id=r[4],  # type: ignore[arg-type]
        status=str(r[5]),
        caseworker_username=r[6],  # type: ignore[arg-type]
        is_focus=bool(r[7]),
    )


def search_cases(
    session: Session,
    flt: RegisterFilter,
    *,
    limit: int | None = None,
    offset: int = 0,
    actor: Actor | None = None,
) -> list[CaseRow]:
    stmt = register_query(flt, actor=actor).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_row(tuple(r)) for r in session.execute(stmt)]


def iter_cases(
    session: Session, flt: RegisterFilter, *, limit: int | None = None, actor: Actor | None = None
) -> Iterator[CaseRow]:
    """Stream the register in chunks (``case list`` of 100,000 cases stays small)."""
    stmt = register_query(flt, actor=actor)
    if limit is not None:
        stmt = stmt.limit(limit)
    result = session.execute(stmt.execution_options(yield_per=2000))
    for r in result:
        yield _row(tuple(r))
