"""Every figure of the dashboard (Översikt) in one call and one transaction.

Why one call: the dashboard window loads in the background and must show a
consistent picture — the same reference month, the same year, the same
transaction — for a unit: long-term households and persons now and per
year, the thresholds reached in the reference month, outcomes against the
unit's targets, caseload per caseworker against the cap, follow-ups due and
the distribution of time on support. Household and person counts read the
support-year aggregate (models/stats.py); the rules are those of
services/longterm.py, so the figures equal ``python main.py stats``.

Unit: households are the unit's cases; persons are those who have been a
member of one of the unit's cases.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, distinct, exists, func, or_, select
from sqlalchemy.orm import Session

from models import Case, HouseholdMember, SupportYearCase, SupportYearPerson
from models.codes import OUTCOME_LABELS, Outcome
from models.member_births import MemberBirth
from models.member_births import sync as sync_member_births
from models.stats import sync as sync_support_years
from services.audit import Actor, record
from services.caseload import CaseloadRow, caseload, require_team_leader
from services.db import Database
from services.followup import FollowUpScope, follow_up_counts
from services.longterm import (
    LONG_TERM_MONTHS,
    ReferenceDates,
    count_long_term,
    count_long_term_and,
    in_years_by_subject,
    months_in,
    person_outcomes,
    reference_dates,
    thresholds_reached,
    very_long_term_label,
)
from services.settings import Settings
from services.targets import TargetProgress, targets_for_unit

TREND_YEARS = 5
# Households by months with support in the mycket-långvarig window (36 by default).
DISTRIBUTION_STEP = 6


@dataclass(frozen=True)
class TrendPoint:
    """Long-term households and persons in one calendar year (partial for the current one)."""

    year: int
    households: int
    persons: int
    partial: bool


@dataclass(frozen=True)
class DistributionBar:
    label: str
    first: int
    last: int
    households: int
    very_long_term: bool


@dataclass(frozen=True)
class Dashboard:
    """The dashboard's figures for a unit as of a date."""

    unit_id: uuid.UUID
    as_of: date
    reference_month: date
    year: int
    long_term_households: int
    long_term_persons: int
    long_term_with_children: int
    very_long_term_households: int
    very_long_term_label: str
    jobbstimulans_reached: int
    aktivitetskrav_reached: int
    very_long_term_reached: int
    trend: tuple[TrendPoint, ...]
    distribution: tuple[DistributionBar, ...]
    outcomes: tuple[tuple[str, str, int], ...]  # (code, label, persons) in the year
    targets: tuple[TargetProgress, ...]
    caseload: tuple[CaseloadRow, ...]
    follow_ups_due: int
    follow_ups_overdue: int


@dataclass(frozen=True)
class _Unit:
    """The unit, and whether every case of the register belongs to it.

    Most installations hold one unit; then "the unit's households and
    persons" are simply all of them, and the counts skip the membership
    filter (the same result, several times faster at 100,000 cases).
    """

    id: uuid.UUID
    whole_register: bool

    def cases(self, case_id: Any) -> list[ColumnElement[bool]]:
        if self.whole_register:
            return []
        return [case_id.in_(select(Case.id).where(Case.unit_id == self.id))]

    def persons(self) -> Any:
        """A SELECT of the unit's persons' ids, or None for everyone."""
        if self.whole_register:
            return None
        return (
            select(HouseholdMember.person_id)
            .join(Case, Case.id == HouseholdMember.case_id)
            .where(Case.unit_id == self.id)
        )

    def person_conds(self, person_id: Any) -> list[ColumnElement[bool]]:
        ids = self.persons()
        return [] if ids is None else [person_id.in_(ids)]


def _unit(session: Session, unit_id: uuid.UUID) -> _Unit:
    units = list(session.scalars(select(Case.unit_id).distinct().limit(2)))
    return _Unit(unit_id, units == [unit_id])


def _flag_counts(session: Session, unit: _Unit, dates: ReferenceDates) -> tuple[int, int, int]:
    """Households and persons with the register's Långvarig flag now, and the flagged
    households with a member under 18 belonging to them on ``as_of``."""
    cy, py, mb = SupportYearCase, SupportYearPerson, MemberBirth
    day = dates.as_of
    # One seek into the household's members by birth date (models/member_births.py).
    child = exists(
        select(mb.member_id).where(
            mb.case_id == cy.case_id,
            mb.birth_date > dates.adult_born_on_or_before,
            mb.valid_from <= day,
            or_(mb.valid_to.is_(None), mb.valid_to >= day),
        )
    )
    households, with_children = count_long_term_and(
        session, cy, dates, child, *unit.cases(cy.case_id)
    )
    persons = count_long_term(session, py, dates, *unit.person_conds(py.person_id))
    return households, persons, with_children


def _window_counts(
    session: Session, unit: _Unit, dates: ReferenceDates, settings: Settings
) -> tuple[int, list[DistributionBar]]:
    """Very long-term households and the distribution of months in the window."""
    cy = SupportYearCase
    ref = dates.reference_month
    window0 = dates.window_start(settings)
    per_case = (
        select(func.sum(months_in(cy, window0, ref)).label("n"))
        .where(in_years_by_subject(cy, window0, ref), *unit.cases(cy.case_id))
        .group_by(cy.case_id)
        .subquery("per_case")
    )
    counts = dict(
        session.execute(
            select(per_case.c.n, func.count()).where(per_case.c.n > 0).group_by(per_case.c.n)
        )
        .tuples()
        .all()
    )
    threshold = settings.long_term_threshold_months
    window = settings.long_term_window_months
    edges = list(range(1, threshold, DISTRIBUTION_STEP))
    bars = []
    for i, first in enumerate(edges):
        last = edges[i + 1] - 1 if i + 1 < len(edges) else threshold - 1
        n = sum(c for months, c in counts.items() if first <= int(months) <= last)
        bars.append(DistributionBar(f"{first}–{last}", first, last, n, False))
    very = sum(c for months, c in counts.items() if int(months) >= threshold)
    bars.append(DistributionBar(f"{threshold}–{window}", threshold, window, very, True))
    return very, bars


def _trend(session: Session, unit: _Unit, dates: ReferenceDates) -> list[TrendPoint]:
    """Per calendar year: households and persons with 10+ months (up to the reference month)."""
    cy, py = SupportYearCase, SupportYearPerson
    ref = dates.reference_month
    last_year = ref.year
    first_year = last_year - TREND_YEARS + 1

    def per_year(table: Any, conds: list[ColumnElement[bool]]) -> dict[int, int]:
        # A range of the (year, months) index per year; the reference month's year
        # counts only up to the reference month (its months bound that count).
        partial = months_in(table, date(last_year, 1, 1), ref)
        rows = session.execute(
            select(table.year, func.count())
            .where(
                table.year.in_(range(first_year, last_year + 1)),
                table.months >= LONG_TERM_MONTHS,
                or_(table.year < last_year, partial >= LONG_TERM_MONTHS),
                *conds,
            )
            .group_by(table.year)
        )
        return {int(y): int(n) for y, n in rows}

    households = per_year(cy, unit.cases(cy.case_id))
    persons = per_year(py, unit.person_conds(py.person_id))
    return [
        TrendPoint(y, households.get(y, 0), persons.get(y, 0), y == ref.year and ref.month < 12)
        for y in range(first_year, last_year + 1)
    ]


def _thresholds(
    session: Session, unit: _Unit, dates: ReferenceDates, settings: Settings
) -> tuple[int, int, int]:
    reached = thresholds_reached(dates, settings, unit.persons()).subquery("reached")
    row = session.execute(
        select(
            func.coalesce(func.sum(reached.c.jobbstimulans), 0),
            func.coalesce(func.sum(reached.c.aktivitetskrav), 0),
            func.coalesce(func.sum(reached.c.very_long_term), 0),
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _outcomes(session: Session, unit: _Unit, dates: ReferenceDates) -> list[tuple[str, str, int]]:
    po = person_outcomes(
        date(dates.year, 1, 1),
        date(dates.year + 1, 1, 1),
        unit_id=None if unit.whole_register else unit.id,
    )
    sub = po.subquery("po")
    counts = dict(
        session.execute(
            select(sub.c.outcome, func.count(distinct(sub.c.person_id))).group_by(sub.c.outcome)
        )
        .tuples()
        .all()
    )
    return [(o.value, OUTCOME_LABELS[o], int(counts.get(o.value, 0))) for o in Outcome]


def dashboard(
    session: Session,
    actor: Actor,
    unit_id: uuid.UUID,
    *,
    as_of: date | None = None,
    year: int | None = None,
    settings: Settings | None = None,
) -> Dashboard:
    """All figures for the unit; ``year`` (default the last complete one) for outcomes."""
    settings = settings or Settings()
    dates = reference_dates(as_of, year)
    sync_support_years(session)
    sync_member_births(session)
    unit = _unit(session, unit_id)
    households, persons, with_children = _flag_counts(session, unit, dates)
    very, distribution = _window_counts(session, unit, dates, settings)
    jobb, ak, very_reached = _thresholds(session, unit, dates, settings)
    due, overdue = follow_up_counts(
        session, actor, FollowUpScope(unit_id=unit_id), as_of=dates.as_of
    )
    return Dashboard(
        unit_id=unit_id,
        as_of=dates.as_of,
        reference_month=dates.reference_month,
        year=dates.year,
        long_term_households=households,
        long_term_persons=persons,
        long_term_with_children=with_children,
        very_long_term_households=very,
        very_long_term_label=very_long_term_label(settings),
        jobbstimulans_reached=jobb,
        aktivitetskrav_reached=ak,
        very_long_term_reached=very_reached,
        trend=tuple(_trend(session, unit, dates)),
        distribution=tuple(distribution),
        outcomes=tuple(_outcomes(session, unit, dates)),
        targets=tuple(
            t
            for t in targets_for_unit(session, unit_id)
            if t.period_from <= dates.as_of <= t.period_to
        ),
        caseload=tuple(caseload(session, unit_id)),
        follow_ups_due=due,
        follow_ups_overdue=overdue,
    )


class DashboardService:
    """The dashboard for an arbetsledare: one read transaction, audited as a view."""

    def __init__(self, *, db: Database, actor: Actor, settings: Settings | None = None) -> None:
        self._db = db
        self._actor = actor
        self._settings = settings or Settings()

    def load(
        self, unit_id: uuid.UUID, *, as_of: date | None = None, year: int | None = None
    ) -> Dashboard:
        require_team_leader(self._actor, "se översikten")
        with self._db.begin() as s:
            data = dashboard(
                s, self._actor, unit_id, as_of=as_of, year=year, settings=self._settings
            )
            record(s, self._actor, "dashboard_viewed", unit_id=unit_id)
            return data
