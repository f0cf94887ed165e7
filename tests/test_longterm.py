"""Time on support, caseloads, directions and targets, on SQLite and PostgreSQL.

The month patterns are made by hand at the edges of each rule (9 against 10
months, 26 against 27 of 36, a run of 5 against 6, the aktivitetskrav before
and after 2026-07-01) and go through the real services, so the figures are
the ones a caseworker would see.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select

from models import AuditEvent, HouseholdMember, Person
from models.codes import Direction, MemberRole, MonthSource, Outcome, Role, SicknessGrade
from services import longterm as lt
from services.audit import Actor
from services.caseload import CaseloadService, assign_with_cap_check, caseload
from services.cases import CaseRef, CaseService, MemberInput, OutcomeInput
from services.db import Database
from services.errors import ConflictError, PermissionDeniedError, ValidationError
from services.persons import PersonInput
from services.settings import Settings
from services.support import set_month_in
from services.targets import (
    FOCUS_TARGET_GROUPS,
    DirectionInput,
    OutcomeRule,
    TargetGroupInput,
    TargetInput,
    TargetService,
    record_person_outcome_in,
)
from services.users import UserInput, create_user_in
from tests.factories import ALI, BENGT, KARIN, MARIE, OSKAR, SAMORD, make_case

A, C, B, OA = (
    MemberRole.APPLICANT,
    MemberRole.CO_APPLICANT,
    MemberRole.CHILD,
    MemberRole.OTHER_ADULT,
)
UNIT = "Försörjningsstöd Södertälje"
LEADER = Actor(username="lena", role=Role.TEAM_LEADER, workstation="test")
WORKER = Actor(username="anna", role=Role.CASEWORKER, workstation="test")


def span(first: str, last: str) -> list[date]:
    """Every month from ``first`` to ``last`` ("2025-03" … "2025-10"), inclusive."""
    y, m = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    out = []
    while (y, m) <= end:
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def pay(db: Database, actor: Actor, case_id: uuid.UUID, months: Iterable[date]) -> None:
    """Record paid months through the support service, in one transaction."""
    with db.begin() as s:
        for month in months:
            set_month_in(s, actor, case_id, month, 800_000, MonthSource.MANUAL, audit=False)


def person_id(db: Database, first_name: str) -> uuid.UUID:
    with db.begin() as s:
        return s.scalars(select(Person.id).where(Person.first_name == first_name)).one()


def member(db: Database, case_id: uuid.UUID, pid: uuid.UUID) -> HouseholdMember:
    with db.begin() as s:
        return s.scalars(
            select(HouseholdMember).where(
                HouseholdMember.case_id == case_id, HouseholdMember.person_id == pid
            )
        ).one()


def clock_of_case(db: Database, case_id: uuid.UUID, as_of: date, **kw: object) -> lt.Clock:
    with db.begin() as s:
        return lt.case_clocks(s, [case_id], lt.reference_dates(as_of), **kw)[case_id]


def clock_of_person(db: Database, pid: uuid.UUID, as_of: date) -> lt.Clock:
    with db.begin() as s:
        return lt.person_clocks(s, [pid], lt.reference_dates(as_of))[pid]


def stats(db: Database, **kw: object) -> dict[str, object]:
    with db.begin() as s:
        return lt.stats(s, **kw)


@pytest.fixture
def cases(db: Database, actor: Actor) -> CaseService:
    return CaseService(db=db, actor=actor)


# ---------------------------------------------------------------------------
# Reference dates


def test_reference_dates() -> None:
    d = lt.reference_dates(date(2026, 11, 20))
    assert (d.reference_month, d.year, d.current_year) == (date(2026, 10, 1), 2025, 2026)
    d = lt.reference_dates(date(2026, 1, 1), year=2023)
    assert (d.reference_month, d.year, d.last_complete_year) == (date(2025, 12, 1), 2023, 2025)
    assert lt.reference_dates(date(2026, 12, 31)).reference_month == date(2026, 11, 1)
    assert d.window_start(Settings()) == date(2023, 1, 1)  # 36 months ending 2025-12
    assert lt.reference_dates(date(2028, 2, 29)).adult_born_on_or_before == date(2010, 2, 28)
    assert lt.very_long_term_label(Settings()) == (
        "mycket långvarig (inställning: minst 27 av 36 månader)"
    )


# ---------------------------------------------------------------------------
# Clocks


def test_nine_against_ten_months_in_a_year(db: Database, cases: CaseService, unit_id, actor):
    nine = make_case(cases, unit_id, (A, KARIN), opened_on=date(2024, 12, 2))
    ten = make_case(cases, unit_id, (A, BENGT), opened_on=date(2024, 12, 2))
    pay(db, actor, nine.id, span("2025-01", "2025-09"))
    pay(db, actor, ten.id, [*span("2025-01", "2025-04"), *span("2025-07", "2025-12")])
    as_of = date(2026, 3, 15)
    c9, c10 = clock_of_case(db, nine.id, as_of), clock_of_case(db, ten.id, as_of)
    assert (c9.months_last_year, c9.long_term_last_year, c9.long_term_flag) == (9, False, False)
    assert (c10.months_last_year, c10.long_term_last_year, c10.long_term_flag) == (10, True, True)
    assert c10.months_by_year == {2025: 10}
    karin, bengt = person_id(db, "Karin"), person_id(db, "Bengt")
    assert clock_of_person(db, karin, as_of).long_term_last_year is False
    assert clock_of_person(db, bengt, as_of).long_term_last_year is True
    d = stats(db, as_of=as_of)
    assert (d["cases_with_support"], d["long_term_cases"], d["long_term_adults"]) == (2, 1, 1)
    with db.begin() as s:
        flagged = set(s.scalars(lt.long_term_case_ids(lt.reference_dates(as_of))))
    assert flagged == {ten.id}


def test_gaps_and_a_run_across_the_new_year(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, KARIN), opened_on=date(2025, 2, 3))
    pay(db, actor, ref.id, [*span("2025-03", "2025-05"), *span("2025-09", "2026-10")])
    c = clock_of_case(db, ref.id, date(2026, 11, 20))
    assert c.months_by_year == {2025: 7, 2026: 10}
    assert (c.run_months, c.run_started) == (14, date(2025, 9, 1))
    assert c.jobbstimulans_reached == date(2026, 2, 1)  # Sep Oct Nov Dec Jan Feb
    # The run began before 2026-07-01: the requirement is reached when it applies.
    assert c.aktivitetskrav_reached == date(2026, 7, 1)
    # Långvarig by the register's rule: only 7 months last year, but 10 already this year.
    assert (c.months_last_year, c.months_current_year) == (7, 10)
    assert (c.long_term_last_year, c.long_term_flag) == (False, True)
    # A month earlier there were only 9 this year; the run was a month shorter.
    earlier = clock_of_case(db, ref.id, date(2026, 10, 15))
    assert (earlier.months_current_year, earlier.long_term_flag) == (9, False)
    assert earlier.run_months == 13
    # Months after the reference month are not counted yet.
    pay(db, actor, ref.id, [date(2026, 11, 1)])
    assert clock_of_case(db, ref.id, date(2026, 11, 20)).months_by_year == {2025: 7, 2026: 10}
    # The person carries the same clock as her one-person household.
    karin = clock_of_person(db, person_id(db, "Karin"), date(2026, 11, 20))
    assert (karin.run_months, karin.jobbstimulans_reached) == (14, date(2026, 2, 1))


def test_jobbstimulans_at_exactly_six_months(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, ALI), opened_on=date(2023, 12, 4))
    pay(db, actor, ref.id, span("2024-01", "2024-06"))
    five = clock_of_case(db, ref.id, date(2024, 6, 10))
    six = clock_of_case(db, ref.id, date(2024, 7, 10))
    after = clock_of_case(db, ref.id, date(2024, 8, 1))  # July without support
    assert (five.run_months, five.jobbstimulans_reached) == (5, None)
    assert (six.run_months, six.jobbstimulans_reached) == (6, date(2024, 6, 1))
    assert (after.run_months, after.run_started, after.jobbstimulans_reached) == (0, None, None)
    assert (five.aktivitetskrav_reached, six.aktivitetskrav_reached) == (None, None)


def test_aktivitetskrav_at_three_months_and_not_before_july_2026(
    db: Database, cases: CaseService, unit_id, actor
):
    early = make_case(cases, unit_id, (A, KARIN), opened_on=date(2026, 3, 2))
    late = make_case(cases, unit_id, (A, BENGT), opened_on=date(2026, 6, 1))
    pay(db, actor, early.id, span("2026-04", "2026-10"))
    pay(db, actor, late.id, span("2026-07", "2026-10"))
    # Three months by June, but the requirement applies from 2026-07-01.
    assert clock_of_case(db, early.id, date(2026, 7, 1)).aktivitetskrav_reached is None
    assert clock_of_case(db, early.id, date(2026, 7, 1)).run_months == 3
    assert clock_of_case(db, early.id, date(2026, 8, 1)).aktivitetskrav_reached == date(2026, 7, 1)
    # A run that starts in July reaches it in its third month.
    assert clock_of_case(db, late.id, date(2026, 9, 1)).aktivitetskrav_reached is None
    assert clock_of_case(db, late.id, date(2026, 10, 1)).aktivitetskrav_reached == date(2026, 9, 1)
    assert clock_of_case(db, late.id, date(2026, 11, 2)).aktivitetskrav_reached == date(2026, 9, 1)


def test_very_long_term_26_against_27_of_36(db: Database, cases: CaseService, unit_id, actor):
    # The window ending 2026-10 is 2023-11 … 2026-10.
    a27 = make_case(cases, unit_id, (A, KARIN), opened_on=date(2022, 9, 5))
    b26 = make_case(cases, unit_id, (A, BENGT), opened_on=date(2022, 9, 5))
    pay(db, actor, a27.id, span("2024-08", "2026-10"))
    pay(db, actor, b26.id, [*span("2023-01", "2023-10"), *span("2024-09", "2026-10")])
    as_of = date(2026, 11, 20)
    c27, c26 = clock_of_case(db, a27.id, as_of), clock_of_case(db, b26.id, as_of)
    assert (c27.window_months, c27.very_long_term) == (27, True)
    assert (c26.window_months, c26.very_long_term) == (26, False)
    assert stats(db, as_of=as_of)["very_long_term_cases"] == 1
    looser = Settings(long_term_threshold_months=26)
    assert clock_of_case(db, b26.id, as_of, settings=looser).very_long_term is True
    d = stats(db, as_of=as_of, settings=looser)
    assert d["very_long_term_cases"] == 2
    assert d["very_long_term_rule"] == {
        "threshold_months": 26,
        "window_months": 36,
        "label": "mycket långvarig (inställning: minst 26 av 36 månader)",
    }


def test_months_follow_a_person_who_moves(db: Database, cases: CaseService, unit_id, actor):
    first = make_case(cases, unit_id, (A, BENGT), (OA, ALI), opened_on=date(2024, 11, 4))
    pay(db, actor, first.id, span("2025-01", "2025-06"))
    ali = person_id(db, "Ali")
    m = member(db, first.id, ali)
    cases.end_member(m.id, m.version, date(2025, 6, 15))
    own = make_case(cases, unit_id, (A, ALI), opened_on=date(2025, 6, 16))
    pay(db, actor, own.id, span("2025-06", "2025-12"))  # June paid in both households
    as_of = date(2026, 1, 15)
    moved = clock_of_person(db, ali, as_of)
    assert moved.months_by_year == {2025: 12}  # June counted once
    assert (moved.run_months, moved.run_started) == (12, date(2025, 1, 1))
    assert moved.jobbstimulans_reached == date(2025, 6, 1)
    assert clock_of_person(db, person_id(db, "Bengt"), as_of).months_by_year == {2025: 6}
    assert clock_of_case(db, first.id, as_of).months_by_year == {2025: 6}
    assert clock_of_case(db, own.id, as_of).run_started == date(2025, 6, 1)
    d = stats(db, as_of=as_of)
    assert (d["cases_with_support"], d["long_term_cases"]) == (2, 0)
    assert (d["long_term_persons"], d["long_term_adults"]) == (1, 1)
    with db.begin() as s:
        household = lt.clocks_for_case(s, first.id, lt.reference_dates(as_of))
    assert household.household.months_last_year == 6
    assert {p: c.months_last_year for p, c in household.members.items()}[ali] == 12


def test_a_member_counts_from_the_month_they_join(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, BENGT), opened_on=date(2024, 11, 4))
    pay(db, actor, ref.id, span("2025-01", "2025-12"))
    cases.add_member(
        ref.id,
        ref.version,
        MemberInput(role=C, person=MARIE, valid_from=date(2025, 3, 31)),
    )
    marie = person_id(db, "Marie")
    m = member(db, ref.id, marie)
    cases.end_member(m.id, m.version, date(2025, 10, 1))
    # Active on at least one day of March … October: 8 months.
    assert clock_of_person(db, marie, date(2026, 1, 10)).months_by_year == {2025: 8}


def test_a_case_that_closes_and_a_new_one_that_opens(
    db: Database, cases: CaseService, unit_id, actor
):
    old = make_case(cases, unit_id, (A, KARIN), (B, OSKAR), opened_on=date(2023, 1, 9))
    pay(db, actor, old.id, span("2024-01", "2024-08"))
    cases.close(old.id, old.version, date(2024, 8, 31), OutcomeInput(Outcome.WORK))
    new = make_case(cases, unit_id, (A, KARIN), (B, OSKAR), opened_on=date(2024, 11, 4))
    pay(db, actor, new.id, span("2024-11", "2025-06"))
    as_of = date(2025, 7, 10)
    karin = clock_of_person(db, person_id(db, "Karin"), as_of)
    assert karin.months_by_year == {2024: 10, 2025: 6}
    assert karin.long_term_last_year is True  # as a person, not as either household
    assert (karin.run_started, karin.run_months) == (date(2024, 11, 1), 8)
    assert karin.jobbstimulans_reached == date(2025, 4, 1)  # the gap reset the run
    assert clock_of_case(db, old.id, as_of).months_by_year == {2024: 8}
    assert clock_of_case(db, new.id, as_of).months_by_year == {2024: 2, 2025: 6}
    d = stats(db, year=2024, as_of=as_of)
    assert (d["cases_with_support"], d["long_term_cases"]) == (2, 0)
    assert (d["long_term_persons"], d["long_term_adults"]) == (2, 1)  # Karin, and Oskar
    assert d["outcomes"] == {"work": 1}  # the adult inherits the case's outcome, the child not


def test_fast_person_counts_equal_the_definition(db: Database, cases: CaseService, unit_id, actor):
    first = make_case(cases, unit_id, (A, BENGT), (OA, ALI), opened_on=date(2024, 11, 4))
    pay(db, actor, first.id, [*span("2024-11", "2025-06"), *span("2025-09", "2025-10")])
    ali = person_id(db, "Ali")
    m = member(db, first.id, ali)
    cases.end_member(m.id, m.version, date(2025, 6, 15))
    own = make_case(cases, unit_id, (A, ALI), (B, OSKAR), opened_on=date(2025, 6, 16))
    pay(db, actor, own.id, span("2025-06", "2026-02"))
    for since, until in [
        (date(2025, 1, 1), date(2025, 12, 1)),
        (date(2024, 1, 1), date(2026, 10, 1)),
        (date(2025, 6, 1), date(2025, 6, 1)),
    ]:
        with db.begin() as s:
            fast = dict(s.execute(lt.person_month_counts(since, until)).tuples().all())
            pm = lt.person_months(since=since, until=until).subquery()
            slow = dict(
                s.execute(select(pm.c.subject_id, func.count()).group_by(pm.c.subject_id))
                .tuples()
                .all()
            )
        assert fast == slow
        assert fast


# ---------------------------------------------------------------------------
# The Långvariga view and statistics


def _household_with(
    cases: CaseService, unit_id: uuid.UUID, *members: tuple[MemberRole, PersonInput]
) -> CaseRef:
    return make_case(cases, unit_id, *members, opened_on=date(2023, 1, 9))


def test_long_term_view_puts_children_and_mental_ill_health_first(
    db: Database, cases: CaseService, unit_id, actor
):
    sven = PersonInput("Sven", "Ek", birth_date=date(1950, 1, 1))
    lo = PersonInput("Lo", "Nyström", birth_date=date(2015, 3, 10))
    plain = _household_with(cases, unit_id, (A, sven))
    mental = _household_with(
        cases, unit_id, (A, BENGT), (C, replace(MARIE, mental_ill_health=True))
    )
    children = _household_with(cases, unit_id, (A, ALI), (B, OSKAR))
    both = _household_with(cases, unit_id, (A, replace(KARIN, mental_ill_health=True)), (B, lo))
    short = _household_with(cases, unit_id, (A, SAMORD))
    for ref in (plain, mental, children, both):
        pay(db, actor, ref.id, span("2025-01", "2025-10"))
    pay(db, actor, short.id, span("2025-01", "2025-09"))
    with db.begin() as s:
        rows = lt.long_term_view(s, date(2026, 2, 10), unit_id)
        page = lt.long_term_view(s, date(2026, 2, 10), unit_id, limit=2, offset=1)
    assert [r.case_id for r in rows] == [both.id, children.id, mental.id, plain.id]
    assert [r.priority for r in rows] == [1, 2, 3, 4]
    assert [(r.has_children, r.mental_ill_health) for r in rows] == [
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    ]
    assert rows[0].months_last_year == 10
    assert [r.case_id for r in page] == [children.id, mental.id]
    # A closed household leaves the view (unless asked for).
    cases.close(plain.id, plain.version, date(2026, 1, 31), OutcomeInput(Outcome.MOVED))
    with db.begin() as s:
        assert plain.id not in {r.case_id for r in lt.long_term_view(s, date(2026, 2, 10))}
        everyone = lt.long_term_view(s, date(2026, 2, 10), open_only=False)
    assert plain.id in {r.case_id for r in everyone}


def _user(db: Database, actor: Actor, username: str, **kw: object) -> uuid.UUID:
    with db.begin() as s:
        return create_user_in(
            s,
            actor,
            UserInput(username=username, full_name=username.title(), unit_name=UNIT, **kw),
        ).id


def test_stats_on_a_small_known_dataset(db: Database, cases: CaseService, unit_id, actor):
    anna = _user(db, actor, "anna", role=Role.CASEWORKER)
    erik = _user(db, actor, "erik", role=Role.CASEWORKER, is_focus=True)
    _user(db, actor, "lena", role=Role.TEAM_LEADER)
    family = make_case(
        cases, unit_id, (A, KARIN), (B, OSKAR), opened_on=date(2023, 5, 2), caseworker_id=anna
    )
    couple = make_case(
        cases, unit_id, (A, BENGT), (C, MARIE), opened_on=date(2024, 12, 2), caseworker_id=anna
    )
    single = make_case(cases, unit_id, (A, SAMORD), opened_on=date(2024, 12, 2), caseworker_id=erik)
    gone = make_case(cases, unit_id, (A, ALI), opened_on=date(2023, 12, 4), caseworker_id=anna)
    pay(db, actor, family.id, span("2023-06", "2026-01"))  # 32 of the 36 months
    pay(db, actor, couple.id, [*span("2025-01", "2025-05"), *span("2025-08", "2025-12")])
    pay(db, actor, single.id, span("2025-02", "2025-10"))  # 9: not långvarig
    pay(db, actor, gone.id, span("2024-01", "2024-12"))  # nothing in 2025
    cases.close(
        gone.id,
        gone.version,
        date(2025, 3, 31),
        OutcomeInput(Outcome.SICKNESS_COMPENSATION, SicknessGrade.FULL, permanent=True),
    )
    d = stats(db, as_of=date(2026, 2, 10))
    assert json.loads(json.dumps(d)) == d
    assert d == {
        "year": 2025,
        "as_of": "2026-02-10",
        "reference_month": "2026-01",
        "cases_with_support": 3,
        "long_term_cases": 2,
        "long_term_with_children": 1,
        "long_term_persons": 4,
        "long_term_adults": 3,
        "very_long_term_cases": 1,
        "very_long_term_rule": {
            "threshold_months": 27,
            "window_months": 36,
            "label": "mycket långvarig (inställning: minst 27 av 36 månader)",
        },
        "caseload": {"anna": 2, "erik": 1},
        "outcomes": {"sickness_compensation": 1},
    }
    text = lt.format_stats(d)
    assert "Statistik för 2025 (per 2026-02-10, referensmånad 2026-01)" in text
    assert "Långvariga hushåll (minst 10 månader)" in text
    assert "minst 27 av 36 månader" in text
    assert "sjukersättning" in text and "anna" in text
    # The same figures for another year and day.
    d2024 = stats(db, year=2024, as_of=date(2026, 2, 10))
    assert (d2024["cases_with_support"], d2024["long_term_cases"]) == (2, 2)
    assert d2024["outcomes"] == {}


# ---------------------------------------------------------------------------
# Caseloads


def test_caseload_and_the_cap_warning(db: Database, cases: CaseService, unit_id, actor):
    anna = _user(db, actor, "anna", role=Role.CASEWORKER, caseload_cap=2)
    erik = _user(db, actor, "erik", role=Role.CASEWORKER, is_focus=True)
    first = make_case(cases, unit_id, (A, KARIN), caseworker_id=anna)
    make_case(cases, unit_id, (A, BENGT), caseworker_id=anna)
    closed = make_case(cases, unit_id, (A, SAMORD), caseworker_id=anna)
    cases.close(closed.id, closed.version, date(2025, 1, 31), OutcomeInput(Outcome.MOVED))
    third = make_case(cases, unit_id, (A, ALI), is_focus=True)
    with db.begin() as s:
        rows = {r.username: r for r in caseload(s, unit_id)}
    assert (rows["anna"].open_cases, rows["anna"].cap, rows["anna"].over_cap) == (2, 2, False)
    assert (rows["erik"].open_cases, rows["erik"].cap, rows["erik"].is_focus) == (0, 30, True)
    assert list(rows) == ["erik", "anna"]  # focus caseworkers first

    service = CaseloadService(db=db, actor=LEADER)
    result = service.move(third.id, third.version, anna)
    assert result.needs_confirmation and result.ref is None
    assert result.warning is not None
    assert (result.warning.current, result.warning.after, result.warning.cap) == (2, 3, 2)
    assert result.warning.over_cap and result.warning.focus_mismatch
    assert "anna har redan 2 öppna ärenden (tak 2)" in result.warning.message
    with db.begin() as s:
        assert caseload(s, unit_id)[1].open_cases == 2  # nothing moved
    done = service.move(third.id, third.version, anna, confirm=True)
    assert done.ref is not None and done.ref.version == third.version + 1
    with db.begin() as s:
        assert {r.username: r.open_cases for r in caseload(s, unit_id)}["anna"] == 3
        assert {r.username: r.over_cap for r in caseload(s, unit_id)}["anna"] is True
        actions = list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.case_id == third.id)
                .order_by(AuditEvent.id)
            )
        )
    assert actions[-2:] == ["case_assigned", "case_assigned_past_cap"]
    # Within the cap and to a focus caseworker: no warning, moved at once.
    moved = service.move(first.id, first.version, erik)
    assert moved.warning is None and moved.ref is not None
    # The version is checked as for any assignment.
    with pytest.raises(ConflictError):
        service.move(first.id, first.version, anna, confirm=True)


def test_only_an_arbetsledare_moves_cases(db: Database, cases: CaseService, unit_id, actor):
    anna = _user(db, actor, "anna", role=Role.CASEWORKER)
    ref = make_case(cases, unit_id, (A, KARIN))
    with pytest.raises(PermissionDeniedError, match="arbetsledare"):
        CaseloadService(db=db, actor=WORKER).move(ref.id, ref.version, anna)
    with db.begin() as s:
        result = assign_with_cap_check(s, actor, ref.id, ref.version, anna)  # CLI admin
    assert result.ref is not None


# ---------------------------------------------------------------------------
# Directions, outcomes and targets


def test_directions_per_person(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, BENGT), (C, MARIE), opened_on=date(2024, 1, 8))
    bengt, marie = person_id(db, "Bengt"), person_id(db, "Marie")
    service = TargetService(db=db, actor=WORKER)
    service.set_direction(
        DirectionInput(
            ref.id,
            bengt,
            Direction.WORK_STUDIES,
            date(2025, 1, 1),
            goal="Arbetsträning på lager, sedan anställning",
            goal_date=date(2025, 12, 31),
        )
    )
    service.set_direction(
        DirectionInput(ref.id, bengt, Direction.SICKNESS_COMPENSATION, date(2025, 6, 1))
    )
    service.set_direction(
        DirectionInput(ref.id, marie, Direction.SICKNESS_COMPENSATION, date(2025, 2, 1))
    )
    rows = [r for r in service.directions(ref.id) if r.person_id == bengt]
    assert [(r.direction, r.started_on, r.ended_on) for r in rows] == [
        (Direction.WORK_STUDIES, date(2025, 1, 1), date(2025, 5, 31)),
        (Direction.SICKNESS_COMPENSATION, date(2025, 6, 1), None),
    ]
    assert rows[0].goal.startswith("Arbetsträning")
    with pytest.raises(ValidationError, match="efter den nuvarande"):
        service.set_direction(
            DirectionInput(ref.id, bengt, Direction.WORK_STUDIES, date(2025, 6, 1))
        )
    with pytest.raises(ValidationError, match="ingår inte"):
        service.set_direction(
            DirectionInput(ref.id, uuid.uuid4(), Direction.WORK_STUDIES, date(2025, 6, 1))
        )
    current = rows[1]
    service.end_direction(current.id, current.version, date(2025, 11, 30))
    with pytest.raises(ConflictError):
        service.end_direction(current.id, current.version, date(2025, 12, 31))
    with db.begin() as s:
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("person_direction%"))
        ).all()
    assert sorted(actions) == ["person_direction_ended"] + ["person_direction_set"] * 3


def _close(cases: CaseService, ref: CaseRef, on: date, outcome: OutcomeInput) -> None:
    cases.close(ref.id, ref.version, on, outcome)


def test_targets_count_persons_per_group(db: Database, cases: CaseService, unit_id, actor):
    karin = make_case(cases, unit_id, (A, KARIN), (B, OSKAR), opened_on=date(2024, 1, 8))
    couple = make_case(cases, unit_id, (A, BENGT), (C, MARIE), opened_on=date(2024, 1, 8))
    goran = make_case(cases, unit_id, (A, SAMORD), opened_on=date(2024, 1, 8), is_focus=True)
    ali = make_case(cases, unit_id, (A, ALI), opened_on=date(2024, 1, 8))
    _close(cases, karin, date(2025, 5, 20), OutcomeInput(Outcome.WORK))
    # Marie is granted varaktig sjukersättning while the household's case goes on …
    with db.begin() as s:
        record_person_outcome_in(
            s,
            actor,
            couple.id,
            person_id(db, "Marie"),
            OutcomeInput(Outcome.SICKNESS_COMPENSATION, SicknessGrade.FULL, permanent=True),
            date(2025, 3, 1),
        )
    # … and Bengt later leaves for part-time sjukersättning when it closes.
    _close(
        cases,
        couple,
        date(2025, 9, 30),
        OutcomeInput(Outcome.SICKNESS_COMPENSATION, SicknessGrade.HALF, permanent=False),
    )
    _close(
        cases,
        goran,
        date(2025, 10, 31),
        OutcomeInput(Outcome.SICKNESS_COMPENSATION, SicknessGrade.FULL, permanent=False),
    )
    _close(cases, ali, date(2024, 12, 20), OutcomeInput(Outcome.WORK))  # before the period

    leader = TargetService(db=db, actor=LEADER)
    period = dict(unit_id=unit_id, period_from=date(2025, 1, 1), period_to=date(2025, 12, 31))
    target_id = leader.create_target(
        TargetInput(name="Fokustjänsterna 2025", groups=FOCUS_TARGET_GROUPS, **period)
    )
    p = leader.progress(target_id)
    assert [(g.label, g.count_target, g.achieved) for g in p.groups] == [
        ("arbete, studier eller sjukersättning på deltid", 15, 2),  # Karin, Bengt
        ("varaktig sjukersättning", 20, 1),  # Marie
    ]
    assert (p.total_target, p.total_achieved) == (35, 3)
    # The same outcome in two groups counts once, in the first group that fits.
    overlapping = (
        TargetGroupInput("all sjukersättning", 5, (OutcomeRule(Outcome.SICKNESS_COMPENSATION),)),
        *FOCUS_TARGET_GROUPS,
    )
    leader.update_target(
        target_id,
        p.version,
        TargetInput(name="Fokustjänsterna 2025", groups=overlapping, **period),
    )
    p2 = leader.progress(target_id)
    assert [g.achieved for g in p2.groups] == [3, 1, 0]  # Marie, Bengt, Göran; Karin
    assert p2.version == p.version + 1
    with pytest.raises(ConflictError):
        leader.update_target(
            target_id,
            p.version,
            TargetInput(name="x", groups=FOCUS_TARGET_GROUPS, **period),
        )
    # Only focus cases, for the focus posts' own target.
    focus_id = leader.create_target(
        TargetInput(name="Fokus", groups=overlapping, focus_only=True, **period)
    )
    assert [g.achieved for g in leader.progress(focus_id).groups] == [1, 0, 0]  # Göran
    assert [t.name for t in leader.targets(unit_id)] == ["Fokus", "Fokustjänsterna 2025"]
    with db.begin() as s:
        assert stats_outcomes(s) == {"sickness_compensation": 3, "work": 1}


def stats_outcomes(s: object) -> dict[str, int]:
    return lt.stats(s, as_of=date(2026, 2, 1))["outcomes"]


def test_targets_are_set_by_an_arbetsledare_and_validated(db: Database, unit_id, actor):
    data = TargetInput(
        unit_id=unit_id,
        name="Mål",
        period_from=date(2025, 1, 1),
        period_to=date(2025, 12, 31),
        groups=FOCUS_TARGET_GROUPS,
    )
    with pytest.raises(PermissionDeniedError, match="arbetsledare"):
        TargetService(db=db, actor=WORKER).create_target(data)
    bad = TargetInput(
        unit_id=unit_id,
        name=" ",
        period_from=date(2025, 12, 31),
        period_to=date(2025, 1, 1),
        groups=(TargetGroupInput("arbete", -1, (OutcomeRule(Outcome.WORK, permanent=True),)),),
    )
    with pytest.raises(ValidationError) as err:
        TargetService(db=db, actor=LEADER).create_target(bad)
    assert {e.field for e in err.value.errors} == {
        "namn",
        "till",
        "grupp 1: antal",
        "grupp 1: utfall",
    }
    target_id = TargetService(db=db, actor=actor).create_target(data)  # CLI admin may
    with db.begin() as s:
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.action == "target_created"))
        assert list(events) == ["target_created"]
    assert TargetService(db=db, actor=WORKER).progress(target_id).total_target == 35


def test_person_outcome_outside_closing(db: Database, cases: CaseService, unit_id, actor):
    ref = make_case(cases, unit_id, (A, BENGT), (C, MARIE), opened_on=date(2024, 1, 8))
    marie = person_id(db, "Marie")
    service = TargetService(db=db, actor=WORKER)
    with pytest.raises(ValidationError, match="omfattning"):
        service.record_outcome(
            ref.id, marie, OutcomeInput(Outcome.SICKNESS_COMPENSATION), date(2025, 3, 1)
        )
    service.record_outcome(ref.id, marie, OutcomeInput(Outcome.STUDIES), date(2025, 3, 1))
    service.record_outcome(ref.id, marie, OutcomeInput(Outcome.WORK), date(2025, 4, 1))
    with db.begin() as s:
        assert stats_outcomes(s) == {"work": 1}
    service.record_outcome(ref.id, marie, None, date(2025, 4, 1))
    cases.close(ref.id, ref.version, date(2025, 6, 30), OutcomeInput(Outcome.MOVED))
    with db.begin() as s:
        assert stats_outcomes(s) == {"moved": 2}  # both adults inherit it again
