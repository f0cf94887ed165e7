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
from services.followup import FollowUpKind, FollowUpScope, follow_up_list
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
        # Follow-ups due: the counts equal the follow-up list itself.
        due = follow_up_list(
            s,
            actor,
            FollowUpScope(unit_id=unit_id),
            as_of=AS_OF,
            horizon_days=0,
            kinds=frozenset({FollowUpKind.FOLLOW_UP}),
        )
        assert d.follow_ups_due == len(due) > 0
        assert d.follow_ups_overdue == sum(1 for i in due if i.due < AS_OF)


def _reached_from_clocks(s, dates, settings):  # type: ignore[no-untyped-def]
    """Persons reaching each threshold in the reference month, from the raw months."""
    persons = list(s.scalars(select(HouseholdMember.person_id).distinct()))
    now = lt.person_clocks(s, persons, dates, settings)
    before_as_of = lt.add_months(dates.as_of.replace(day=1), -1)
    before = lt.person_clocks(s, persons, lt.reference_dates(before_as_of), settings)
    ref = dates.reference_month
    return (
        {p for p, c in now.items() if c.jobbstimulans_reached == ref},
        {p for p, c in now.items() if c.aktivitetskrav_reached == ref},
        {p for p, c in now.items() if c.very_long_term and not before[p].very_long_term},
    )


def _reached(s, dates, settings):  # type: ignore[no-untyped-def]
    rows = s.execute(lt.thresholds_reached(dates, settings)).all()
    return (
        {r.person_id for r in rows if r.jobbstimulans},
        {r.person_id for r in rows if r.aktivitetskrav},
        {r.person_id for r in rows if r.very_long_term},
    )


# Hand-made month patterns at the edges, each (first, last) runs of one household.
EDGE_PATTERNS = {
    # jobbstimulans: the 6th month is the reference month (across a new year) …
    "run6_across_new_year": [("2025-10", "2026-03")],
    # … not the 7th, and not the 5th after a one-month gap.
    "run7": [("2025-09", "2026-03")],
    "gap_then5": [("2025-05", "2025-09"), ("2025-11", "2026-03")],
    # 27 of 36 reached this month: the month leaving the window had none.
    "27_of_36_new": [
        ("2023-04", "2023-12"),
        ("2024-01", "2024-09"),
        ("2025-06", "2025-11"),
        ("2026-01", "2026-03"),
    ],
    # 27 of 36 kept, not reached: the month leaving the window (2023-03) had support.
    "27_of_36_kept": [
        ("2023-03", "2023-12"),
        ("2024-01", "2024-09"),
        ("2025-06", "2025-11"),
        ("2026-01", "2026-03"),
    ],
    # 26 of 36: not reached.
    "26_of_36": [
        ("2023-05", "2023-12"),
        ("2024-01", "2024-09"),
        ("2025-06", "2025-11"),
        ("2026-01", "2026-03"),
    ],
    # Support in the reference month after nothing: only a run of 1.
    "single": [("2026-03", "2026-03")],
    # The aktivitetskrav (from 2026-07): a longer run reaches it in 2026-07, a new run of
    # three in its third month (2026-08).
    "ak_long_run": [("2026-05", "2026-08")],
    "ak_three": [("2026-06", "2026-06"), ("2026-08", "2026-10")],
}


@pytest.mark.parametrize(
    ("threshold", "window"),
    [(27, 36), (18, 24), (30, 36), (40, 48)],  # 48 months: the grouped fallback
)
def test_thresholds_reached_equal_the_clocks_on_edge_patterns(
    db: Database, actor: Actor, unit_id: uuid.UUID, threshold: int, window: int
) -> None:
    """Thresholds reached in the reference month (2026-03, as of 2026-04-10) from the
    aggregate equal those from each person's raw months, for runs across a new year,
    gaps, and a window that reaches its threshold or only keeps it; with the default
    window (read from one row) and a 48-month one (grouped over the years)."""
    from services.persons import PersonInput
    from tests.test_longterm import pay, span

    settings = Settings(long_term_threshold_months=threshold, long_term_window_months=window)
    service = CaseService(db=db, actor=actor)
    refs = {}
    for i, (name, runs) in enumerate(EDGE_PATTERNS.items()):
        person = PersonInput(f"Edge{i}", "Test", birth_date=date(1980, 1, 1 + i))
        refs[name] = make_case(service, unit_id, (MemberRole.APPLICANT, person),
                               opened_on=date(2022, 1, 3))  # fmt: skip
        pay(db, actor, refs[name].id, [m for a, b in runs for m in span(a, b)])
    for as_of in (date(2026, 8, 10), date(2026, 9, 1), date(2026, 11, 30)):
        with db.begin() as s:
            other = lt.reference_dates(as_of)
            assert _reached(s, other, settings) == _reached_from_clocks(s, other, settings)
    dates = lt.reference_dates(date(2026, 4, 10))
    with db.begin() as s:
        expected = _reached_from_clocks(s, dates, settings)
        assert _reached(s, dates, settings) == expected
    if (threshold, window) == (27, 36):
        with db.begin() as s:
            owner = {
                s.scalars(
                    select(HouseholdMember.person_id).where(HouseholdMember.case_id == r.id)
                ).one(): name
                for name, r in refs.items()
            }
        names = tuple({owner[p] for p in found} for found in expected)
        assert names == ({"run6_across_new_year"}, set(), {"27_of_36_new"})


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
