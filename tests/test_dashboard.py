"""The dashboard's figures equal the statistics and the clocks, on SQLite and PostgreSQL.

A seeded demo register is the data: every dashboard figure is compared with
the same figure computed another way — ``stats`` per year, the Långvarig
flag's case ids, each person's clock from the raw months for the
thresholds reached in the reference month, the caseload service.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select

from models import Case, HouseholdMember, Unit
from models.codes import MemberRole, MonthSource, Role
from services import longterm as lt
from services.audit import Actor
from services.caseload import caseload
from services.cases import CaseService
from services.dashboard import DashboardService, dashboard
from services.db import Database
from services.demo import seed_demo
from services.errors import PermissionDeniedError
from services.settings import Settings
from services.support import set_month_in
from services.users import get_or_create_unit
from tests.factories import KARIN, make_case

AS_OF = date(2026, 11, 20)


def test_dashboard_equals_stats_and_clocks(db: Database, actor: Actor) -> None:
    seed_demo(db, actor, cases=250, seed=11, as_of=AS_OF)
    settings = Settings()
    with db.begin() as s:
        unit_id = s.scalars(select(Unit.id)).one()
        d = dashboard(s, actor, unit_id, as_of=AS_OF, settings=settings)
        dates = lt.reference_dates(AS_OF)

        flagged = set(s.scalars(lt.long_term_case_ids_from_months(dates)))
        assert d.long_term_households == len(flagged) > 0
        for point in d.trend:
            figures = lt.stats_from_months(s, as_of=AS_OF, year=point.year)
            assert (point.households, point.persons) == (
                figures["long_term_cases"],
                figures["long_term_persons"],
            ), point.year
        assert [p.partial for p in d.trend] == [False] * 4 + [True]
        current = lt.stats_from_months(s, as_of=AS_OF)
        assert d.very_long_term_households == current["very_long_term_cases"]
        assert sum(b.households for b in d.distribution) == sum(
            1
            for r in lt.case_clocks(s, list(s.scalars(select(Case.id))), dates).values()
            if r.window_months > 0
        )
        assert d.distribution[-1].households == d.very_long_term_households
        assert d.distribution[-1].label == "27–36"
        outcomes = {code: n for code, _, n in d.outcomes if n}
        assert outcomes == current["outcomes"]

        # Thresholds reached in the reference month, person by person from the raw months.
        persons = list(s.scalars(select(HouseholdMember.person_id).distinct()))
        now = lt.person_clocks(s, persons, dates, settings)
        before = lt.person_clocks(s, persons, lt.reference_dates(date(2026, 10, 20)), settings)
        ref = dates.reference_month
        jobb = {p for p, c in now.items() if c.jobbstimulans_reached == ref}
        ak = {p for p, c in now.items() if c.aktivitetskrav_reached == ref}
        very = {p for p, c in now.items() if c.very_long_term and not before[p].very_long_term}
        rows = s.execute(lt.thresholds_reached(dates, settings)).all()
        assert {r.person_id for r in rows if r.jobbstimulans} == jobb
        assert {r.person_id for r in rows if r.aktivitetskrav} == ak
        assert {r.person_id for r in rows if r.very_long_term} == very
        assert (d.jobbstimulans_reached, d.aktivitetskrav_reached, d.very_long_term_reached) == (
            len(jobb),
            len(ak),
            len(very),
        )
        assert jobb and ak
        assert list(d.caseload) == caseload(s, unit_id)


def test_a_second_unit_sees_only_its_own(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    """With two units the counts filter by membership of the unit's cases."""
    seed_demo(db, actor, cases=60, seed=3, as_of=AS_OF)
    ref = make_case(CaseService(db=db, actor=actor), unit_id, (MemberRole.APPLICANT, KARIN))
    with db.begin() as s:
        for m in range(1, 13):
            set_month_in(s, actor, ref.id, date(2025, m, 1), 1, MonthSource.MANUAL, audit=False)
        for m in range(5, 11):
            set_month_in(s, actor, ref.id, date(2026, m, 1), 1, MonthSource.MANUAL, audit=False)
    with db.begin() as s:
        d = dashboard(s, actor, unit_id, as_of=AS_OF)
        other = get_or_create_unit(s, actor, "Enhet utan ärenden").id
        empty = dashboard(s, actor, other, as_of=AS_OF)
    assert (d.long_term_households, d.long_term_persons) == (1, 1)
    assert d.jobbstimulans_reached == 1  # May–October 2026: the 6th month is October
    assert d.aktivitetskrav_reached == 0  # reached in July 2026
    assert [p.households for p in d.trend if p.year == 2025] == [1]
    assert (empty.long_term_households, empty.long_term_persons, empty.caseload) == (0, 0, ())


def test_only_an_arbetsledare_loads_the_dashboard(db: Database, unit_id: uuid.UUID) -> None:
    worker = Actor(username="anna", role=Role.CASEWORKER, workstation="test")
    with pytest.raises(PermissionDeniedError, match="arbetsledare"):
        DashboardService(db=db, actor=worker).load(unit_id, as_of=AS_OF)
    leader = Actor(username="lena", role=Role.TEAM_LEADER, workstation="test")
    data = DashboardService(db=db, actor=leader).load(unit_id, as_of=AS_OF)
    assert data.long_term_households == 0 and data.reference_month == date(2026, 10, 1)
