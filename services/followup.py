"""The follow-up list (bevakningar): what a caseworker must act on now.

Why: vendors' case systems offer no reminders, so municipalities drive them
with screen robots (see DOMAIN.md). Fokus computes the list from what is
already recorded, in SQL, per caseworker or for a whole unit:

* **Uppföljning** — the follow-up date (``follow_up_on``) of a case's latest
  contact note, when it has come (overdue, today, or within
  ``horizon_days``). Writing a later note answers it; so does correcting the
  note (the correction carries its own follow-up date).
* **Plandatum passerat** — a plan goal whose target date has passed and that
  is not marked achieved.
* **Jobbstimulans / Aktivitetskrav / Mycket långvarig** — a person of the
  case reached the threshold in the reference month (the last complete
  month; see services/longterm.py for the rules and
  :func:`services.longterm.thresholds_reached`).
* **Ingen kontakt** — an open case without a contact note for
  ``Settings.no_contact_weeks`` weeks (since it was opened, if it has none).

Only open cases count, and only cases the actor may open
(:func:`services.access.case_scope_condition`). The mental ill-health flag
never appears here. Each item carries a date to sort on; the list comes back
ordered by that date, then case number.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.types import TypeEngine

from models import Case, ContactEntry, HouseholdMember, Person, PlanGoal, SupportMonth, User
from models.codes import CaseStatus
from models.follow_ups import CaseFollowUp
from models.follow_ups import sync as sync_follow_ups
from models.stats import member_in_month
from models.stats import sync as sync_support_years
from services.access import case_scope_condition
from services.audit import Actor, record
from services.db import Database
from services.longterm import (
    ReferenceDates,
    reference_dates,
    thresholds_reached,
    very_long_term_label,
)
from services.settings import Settings

DEFAULT_HORIZON_DAYS = 7


class FollowUpKind(StrEnum):
    FOLLOW_UP = "follow_up"
    PLAN_DATE = "plan_date"
    JOBBSTIMULANS = "jobbstimulans"
    AKTIVITETSKRAV = "aktivitetskrav"
    VERY_LONG_TERM = "very_long_term"
    NO_CONTACT = "no_contact"


KIND_LABELS: dict[FollowUpKind, str] = {
    FollowUpKind.FOLLOW_UP: "Uppföljning",
    FollowUpKind.PLAN_DATE: "Plandatum passerat",
    FollowUpKind.JOBBSTIMULANS: "Jobbstimulans",
    FollowUpKind.AKTIVITETSKRAV: "Aktivitetskrav",
    FollowUpKind.VERY_LONG_TERM: "Mycket långvarig",
    FollowUpKind.NO_CONTACT: "Ingen kontakt",
}


@dataclass(frozen=True)
class FollowUpItem:
    """One line of the follow-up list."""

    kind: FollowUpKind
    due: date
    case_id: uuid.UUID
    case_number: str
    caseworker: str | None
    person_id: uuid.UUID | None
    person_name: str
    detail: str

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def overdue(self, today: date) -> bool:
        return self.due < today


@dataclass(frozen=True)
class FollowUpScope:
    """Whose cases: one caseworker's (``caseworker_id``), a unit's, or both narrowed."""

    caseworker_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = None


def _case_conditions(actor: Actor, scope: FollowUpScope, today: date) -> list[Any]:
    """Conditions on ``Case``: open, in scope, and the actor may open it."""
    conds = [Case.status != CaseStatus.CLOSED.value, case_scope_condition(actor, today)]
    if scope.caseworker_id is not None:
        conds.append(Case.caseworker_id == scope.caseworker_id)
    if scope.unit_id is not None:
        conds.append(Case.unit_id == scope.unit_id)
    return conds


def _cases(actor: Actor, scope: FollowUpScope, today: date) -> Any:
    """The open cases in scope that the actor may open, as a SELECT of ids."""
    return select(Case.id).where(*_case_conditions(actor, scope, today))


def _case_columns() -> tuple[Any, ...]:
    return Case.id, Case.case_number, User.username


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


class _few_rows(FunctionElement[Any]):  # noqa: N801 - reads like the SQL function
    """A condition SQLite's planner should expect to select few rows.

    ``likelihood(condition, 0.05)`` on SQLite, the bare condition elsewhere. The
    follow-up table holds only the cases that ask (about a tenth of them), so
    its date range is the place to start; with statistics from a smaller
    register SQLite started from the unit's cases instead and probed the table
    for every case (0.10 s instead of 0.04 s at 100,000 cases).
    """

    type: TypeEngine[Any] = NullType()  # not Boolean: SQLite would add "= 1"
    inherit_cache = True
    name = "few_rows"


@compiles(_few_rows)
def _few_rows_default(element: _few_rows, compiler: SQLCompiler, **kw: Any) -> str:
    (condition,) = element.clauses.clauses
    return compiler.process(condition, **kw)


@compiles(_few_rows, "sqlite")
def _few_rows_sqlite(element: _few_rows, compiler: SQLCompiler, **kw: Any) -> str:
    (condition,) = element.clauses.clauses
    return f"likelihood({compiler.process(condition, **kw)}, 0.05)"


def _due_by(until: date) -> Any:
    """``case_follow_up`` rows due on or before ``until``: where every plan starts."""
    return _few_rows(CaseFollowUp.due_on <= until)


def _due_follow_ups(case_conds: list[Any], until: date) -> Select[Any]:
    """(case_id, case_number, caseworker, due, note_id): cases in scope whose latest note
    asks for a follow-up on or before ``until`` and has not been corrected.

    Only the latest note can be unanswered (any later note answers the earlier
    ones), and a correction answers the note it corrects. Those cases are the
    rows of ``case_follow_up`` (models/follow_ups.py, kept current with the
    notes): a range of its date index, then each case checked against the scope.
    """
    f = CaseFollowUp
    return (
        select(*_case_columns(), f.due_on.label("due"), f.note_id.label("note_id"))
        .select_from(f)
        .join(Case, Case.id == f.case_id)
        .outerjoin(User, User.id == Case.caseworker_id)
        .where(_due_by(until), *case_conds)
    )


def _follow_ups(
    session: Session, case_conds: list[Any], today: date, horizon: int
) -> list[FollowUpItem]:
    """Each case's latest note, when it asks for a follow-up by the horizon."""
    sync_follow_ups(session)
    due = _due_follow_ups(case_conds, today + timedelta(days=horizon)).subquery("due")
    ce = ContactEntry
    rows = session.execute(
        select(
            due.c.id, due.c.case_number, due.c.username, due.c.due, ce.occurred_at, ce.counterpart
        ).join(ce, ce.id == due.c.note_id)  # fmt: skip
    )
    items = []
    for case_id, number, worker, when, occurred, counterpart in rows:
        noted = f"anteckning {_day(occurred):%Y-%m-%d}"
        detail = f"{noted}, {counterpart}" if counterpart else noted
        items.append(
            FollowUpItem(FollowUpKind.FOLLOW_UP, when, case_id, number, worker, None, "", detail)
        )
    return items


def follow_up_counts(
    session: Session, actor: Actor, scope: FollowUpScope, *, as_of: date | None = None
) -> tuple[int, int]:
    """(due, overdue): the follow-ups of :func:`follow_up_list` due by ``as_of``
    (horizon 0), and of those the ones before it: a range of ``case_follow_up``'s date
    index, each case checked against the scope; no note is read."""
    today = reference_dates(as_of).as_of
    sync_follow_ups(session)
    row = session.execute(follow_up_count_query(actor, scope, today)).one()
    return int(row[0]), int(row[1])


def follow_up_count_query(actor: Actor, scope: FollowUpScope, today: date) -> Select[Any]:
    """The statement of :func:`follow_up_counts` (due, overdue) for ``today``."""
    f = CaseFollowUp
    return (
        select(func.count(), func.coalesce(func.sum(case((f.due_on < today, 1), else_=0)), 0))
        .select_from(f)
        .join(Case, Case.id == f.case_id)
        .where(_due_by(today), *_case_conditions(actor, scope, today))
    )


def _person_name(first: str | None, last: str | None) -> str:
    return f"{first} {last}" if first is not None else ""


def _plan_dates(session: Session, cases: Any, today: date) -> list[FollowUpItem]:
    pg = PlanGoal
    rows = session.execute(
        select(
            *_case_columns(),
            pg.target_date,
            pg.text,
            Person.id,
            Person.first_name,
            Person.last_name,
        )  # fmt: skip
        .select_from(pg)
        .join(Case, Case.id == pg.case_id)
        .outerjoin(User, User.id == Case.caseworker_id)
        .outerjoin(Person, Person.id == pg.person_id)
        .where(
            pg.case_id.in_(cases),
            pg.target_date.is_not(None),
            pg.target_date < today,
            pg.achieved_on.is_(None),
        )
    )
    items = []
    for case_id, number, worker, due, text, pid, first, last in rows:
        summary = " ".join(str(text).split())
        detail = summary if len(summary) <= 80 else summary[:79] + "…"
        items.append(
            FollowUpItem(
                FollowUpKind.PLAN_DATE,
                due,
                case_id,
                number,
                worker,
                pid,
                _person_name(first, last),
                detail,
            )  # fmt: skip
        )
    return items


def _thresholds(
    session: Session, cases: Any, dates: ReferenceDates, settings: Settings
) -> list[FollowUpItem]:
    """Persons of cases in scope reaching a threshold; the case that had support that month."""
    hm, sm = HouseholdMember, SupportMonth
    ref = dates.reference_month
    in_scope = select(hm.person_id).where(hm.case_id.in_(cases))
    reached = thresholds_reached(dates, settings, in_scope).subquery("reached")
    rows = session.execute(
        select(
            *_case_columns(),
            reached.c.person_id,
            Person.first_name,
            Person.last_name,
            reached.c.jobbstimulans,
            reached.c.aktivitetskrav,
            reached.c.very_long_term,
        )
        .select_from(reached)
        .join(Person, Person.id == reached.c.person_id)
        .join(hm, hm.person_id == reached.c.person_id)
        .join(sm, and_(sm.case_id == hm.case_id, sm.month == ref))
        .join(Case, Case.id == hm.case_id)
        .outerjoin(User, User.id == Case.caseworker_id)
        .where(member_in_month(sm.month), Case.id.in_(cases))
        .distinct()
    )
    label = very_long_term_label(settings)
    items = []
    for case_id, number, worker, pid, first, last, jobb, ak, very in rows:
        name = _person_name(first, last)
        month = f"{ref:%Y-%m}"
        for flag, kind, detail in (
            (jobb, FollowUpKind.JOBBSTIMULANS, f"6 månader i följd {month}"),
            (ak, FollowUpKind.AKTIVITETSKRAV, f"3 månader i följd {month}"),
            (very, FollowUpKind.VERY_LONG_TERM, f"{label}, nådd {month}"),
        ):
            if flag:
                items.append(FollowUpItem(kind, ref, case_id, number, worker, pid, name, detail))
    return items


def _no_contact(session: Session, cases: Any, today: date, weeks: int) -> list[FollowUpItem]:
    ce = ContactEntry
    last = (
        select(ce.case_id, func.max(ce.occurred_at).label("last_at"))
        .where(ce.case_id.in_(cases))
        .group_by(ce.case_id)
        .subquery("last_contact")
    )
    limit = datetime.combine(today - timedelta(weeks=weeks), time.min, UTC)
    rows = session.execute(
        select(*_case_columns(), last.c.last_at, Case.opened_on)
        .select_from(Case)
        .outerjoin(last, last.c.case_id == Case.id)
        .outerjoin(User, User.id == Case.caseworker_id)
        .where(
            Case.id.in_(cases),
            or_(
                last.c.last_at < limit,
                and_(last.c.last_at.is_(None), Case.opened_on < limit.date()),
            ),
        )
    )
    items = []
    for case_id, number, worker, last_at, opened_on in rows:
        since = _day(last_at) if last_at is not None else opened_on
        detail = (
            f"senaste kontakt {since:%Y-%m-%d}"
            if last_at is not None
            else f"ingen kontakt sedan öppnat {since:%Y-%m-%d}"
        )
        due = since + timedelta(weeks=weeks)
        items.append(
            FollowUpItem(FollowUpKind.NO_CONTACT, due, case_id, number, worker, None, "", detail)
        )
    return items


def follow_up_list(
    session: Session,
    actor: Actor,
    scope: FollowUpScope,
    *,
    as_of: date | None = None,
    settings: Settings | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    kinds: frozenset[FollowUpKind] | None = None,
) -> list[FollowUpItem]:
    """Every follow-up item in scope, ordered by date, then case number."""
    settings = settings or Settings()
    dates = reference_dates(as_of)
    today = dates.as_of
    wanted = kinds or frozenset(FollowUpKind)
    case_conds = _case_conditions(actor, scope, today)
    cases = select(Case.id).where(*case_conds)
    items: list[FollowUpItem] = []
    if FollowUpKind.FOLLOW_UP in wanted:
        items += _follow_ups(session, case_conds, today, horizon_days)
    if FollowUpKind.PLAN_DATE in wanted:
        items += _plan_dates(session, cases, today)
    if wanted & {FollowUpKind.JOBBSTIMULANS, FollowUpKind.AKTIVITETSKRAV,
                 FollowUpKind.VERY_LONG_TERM}:  # fmt: skip
        sync_support_years(session)
        items += [i for i in _thresholds(session, cases, dates, settings) if i.kind in wanted]
    if FollowUpKind.NO_CONTACT in wanted:
        items += _no_contact(session, cases, today, settings.no_contact_weeks)
    items.sort(key=lambda i: (i.due, i.case_number, i.kind.value, i.person_name))
    return items


class FollowUpService:
    """The follow-up list for the signed-in user or, for an arbetsledare, the unit."""

    def __init__(self, *, db: Database, actor: Actor, settings: Settings | None = None) -> None:
        self._db = db
        self._actor = actor
        self._settings = settings or Settings()

    def items(
        self,
        scope: FollowUpScope | None = None,
        *,
        as_of: date | None = None,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
    ) -> list[FollowUpItem]:
        """``scope`` None: the actor's own cases."""
        scope = scope or FollowUpScope(caseworker_id=self._actor.user_id)
        with self._db.begin() as s:
            items = follow_up_list(
                s, self._actor, scope, as_of=as_of, settings=self._settings,
                horizon_days=horizon_days,
            )  # fmt: skip
            record(
                s,
                self._actor,
                "follow_up_list",
                unit_id=scope.unit_id,
                caseworker_id=scope.caseworker_id,
                rows=len(items),
            )
            return items
