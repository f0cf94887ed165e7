"""The support-year aggregate equals the raw months after any sequence of edits.

``models/stats.py`` keeps one row per household/person and year, updated by
session hooks in the same transaction as the months and memberships it
sums. Random edits (months added, moved and deleted, memberships started,
ended and moved, savepoints rolled back, whole transactions rolled back)
go through the ORM the way the services write; after each transaction the
table is compared with an oracle computed in plain Python from the raw
rows, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import HouseholdMember, SupportMonth, SupportYearCase, SupportYearPerson
from models import stats as support_years
from models.codes import MemberRole, MonthSource
from services.audit import Actor
from services.cases import CaseService
from services.db import Database
from services.support import set_month_in
from tests.factories import ALI, BENGT, KARIN, MARIE, OSKAR, make_case

A, OA = MemberRole.APPLICANT, MemberRole.OTHER_ADULT
FIRST_MONTH = date(2024, 1, 1)
MONTHS = 36

Rows = set[tuple[uuid.UUID, int, int, int]]


def _month(i: int) -> date:
    return date(FIRST_MONTH.year + i // 12, i % 12 + 1, 1)


def _index(d: date) -> int:
    return d.year * 12 + d.month


def oracle(s) -> tuple[Rows, Rows]:
    """(case rows, person rows) computed in Python from support_month and household_member."""
    months: dict[uuid.UUID, set[date]] = defaultdict(set)
    for case_id, month in s.execute(select(SupportMonth.case_id, SupportMonth.month)):
        months[case_id].add(month)
    per_person: dict[uuid.UUID, set[date]] = defaultdict(set)
    for m in s.scalars(select(HouseholdMember)):
        for month in months.get(m.case_id, ()):
            starts_by = _index(m.valid_from) <= _index(month)
            if starts_by and (m.valid_to is None or m.valid_to >= month):
                per_person[m.person_id].add(month)

    def rows(by_subject: dict[uuid.UUID, set[date]]) -> Rows:
        out: Rows = set()
        for sid, ms in by_subject.items():
            by_year: dict[int, set[date]] = defaultdict(set)
            for d in ms:
                by_year[d.year].add(d)
            for year, ds in by_year.items():
                out.add((sid, year, len(ds), sum(1 << (d.month - 1) for d in ds)))
        return out

    return rows(months), rows(per_person)


def stored(s) -> tuple[Rows, Rows]:
    """The aggregate's rows; each person row's ``prior_mask`` is checked against the
    person's rows of the three years before (so comparing with the oracle covers it)."""
    cy, py = SupportYearCase, SupportYearPerson
    cases = {tuple(r) for r in s.execute(select(cy.case_id, cy.year, cy.months, cy.month_mask))}
    rows = s.execute(select(py.person_id, py.year, py.months, py.month_mask, py.prior_mask)).all()
    masks = {(pid, year): mask for pid, year, _, mask, _ in rows}
    for pid, year, _, _, prior in rows:
        expected = sum(masks.get((pid, year - 3 + k), 0) << (12 * k) for k in range(3))
        assert prior == expected, (pid, year, bin(prior), bin(expected))
    persons = {tuple(r[:4]) for r in rows}
    return cases, persons  # type: ignore[return-value]


@dataclass
class World:
    case_ids: list[uuid.UUID]
    person_ids: list[uuid.UUID]


@pytest.fixture
def world(db: Database, actor: Actor, unit_id: uuid.UUID) -> World:
    cases = CaseService(db=db, actor=actor)
    refs = [
        make_case(cases, unit_id, (A, KARIN), (OA, OSKAR), opened_on=date(2023, 12, 1)),
        make_case(cases, unit_id, (A, BENGT), (OA, ALI), opened_on=date(2023, 12, 1)),
        make_case(cases, unit_id, (A, MARIE), opened_on=date(2023, 12, 1)),
    ]
    with db.begin() as s:
        persons = list(s.scalars(select(HouseholdMember.person_id).distinct()))
    return World([r.id for r in refs], sorted(persons))


OPS = st.tuples(
    st.sampled_from(
        [
            "add",
            "add",
            "add",
            "delete",
            "move",
            "join",
            "leave",
            "shift",
            "rehome",
            "savepoint",
            "syncsave",
        ]  # fmt: skip
    ),
    st.integers(0, 2),  # case
    st.integers(0, MONTHS - 1),  # month
    st.integers(0, 4),  # person
    st.integers(1, 28),  # day
)


def _apply(s, actor: Actor, w: World, op: tuple[str, int, int, int, int]) -> None:
    kind, ci, mi, pi, day = op
    case_id, month = w.case_ids[ci], _month(mi)
    person = w.person_ids[pi]
    if kind == "add":
        set_month_in(s, actor, case_id, month, 500_000, MonthSource.MANUAL, audit=False)
    elif kind == "syncsave":
        # A month added, then a reader's refresh inside a savepoint that is rolled back:
        # the refresh is undone with it, so the month must be refreshed again.
        set_month_in(s, actor, case_id, month, 500_000, MonthSource.MANUAL, audit=False)
        s.flush()
        with s.begin_nested() as nested:
            support_years.sync(s)
            nested.rollback()
    elif kind in ("delete", "move"):
        row = s.scalars(
            select(SupportMonth).where(SupportMonth.case_id == case_id).order_by(SupportMonth.month)
        ).first()
        if row is None:
            return
        if kind == "delete":
            s.delete(row)
            return
        taken = set(s.scalars(select(SupportMonth.month).where(SupportMonth.case_id == case_id)))
        if month not in taken:
            row.month = month
    elif kind == "join":
        s.add(
            HouseholdMember(
                case_id=case_id,
                person_id=person,
                role=OA.value,
                valid_from=month.replace(day=day),
            )
        )
    else:
        m = s.scalars(
            select(HouseholdMember)
            .where(HouseholdMember.person_id == person)
            .order_by(HouseholdMember.valid_from, HouseholdMember.id)
        ).first()
        if m is None:
            return
        if kind == "leave" and month.replace(day=day) >= m.valid_from:
            m.valid_to = month.replace(day=day)
        elif kind == "shift" and (m.valid_to is None or month.replace(day=day) <= m.valid_to):
            m.valid_from = month.replace(day=day)
        elif kind == "rehome":
            m.case_id = case_id
        elif kind == "savepoint":
            with s.begin_nested() as nested:
                set_month_in(
                    s, actor, case_id, _month((mi + 7) % MONTHS), 1, MonthSource.MANUAL,
                    audit=False,
                )  # fmt: skip
                s.flush()
                nested.rollback()


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(st.lists(OPS, min_size=1, max_size=6), min_size=1, max_size=3),
    roll_back_last=st.booleans(),
)
def test_aggregate_equals_raw_months_after_random_edits(
    db: Database, actor: Actor, world: World, batches, roll_back_last: bool
) -> None:
    for n, ops in enumerate(batches):
        doomed = roll_back_last and n == len(batches) - 1
        s = db.sessions()
        try:
            with s.begin():
                for op in ops:
                    try:
                        with s.begin_nested():
                            _apply(s, actor, world, op)
                    except Exception as exc:  # a rule refused the edit: nothing half-done
                        if "finns redan" not in str(exc):
                            raise
                # A reader in the same transaction sees its own edits.
                support_years.sync(s)
                assert stored(s) == oracle(s), f"inside the transaction after {ops}"
                if doomed:
                    s.rollback()
        finally:
            s.close()
        with db.begin() as check:
            assert stored(check) == oracle(check), f"after committing {batches[: n + 1]}"


def test_bulk_statements_refresh_what_they_touch(db: Database, world: World, actor: Actor) -> None:
    """INSERT/UPDATE/DELETE statements run through a session (as offline sync does)."""
    from sqlalchemy import delete, insert, update

    case0, case1 = world.case_ids[0], world.case_ids[1]
    with db.begin() as s:
        s.execute(
            insert(SupportMonth),
            [
                {
                    "id": uuid.uuid4(),
                    "case_id": case0,
                    "month": _month(i),
                    "amount_ore": 1,
                    "source": MonthSource.MANUAL.value,
                    "created_by": "test",
                }
                for i in range(12)
            ],
        )
        assert not s.info.get("fokus_support_year_all")  # targeted, not a rebuild
    with db.begin() as s:
        assert stored(s) == oracle(s)
        assert (case0, 2024, 12, 0xFFF) in stored(s)[0]
        s.execute(
            update(HouseholdMember)
            .where(HouseholdMember.case_id == case0)
            .values(valid_to=date(2024, 6, 30))
        )
        s.execute(delete(SupportMonth).where(SupportMonth.month == _month(0)))
        assert not s.info.get("fokus_support_year_all")
    with db.begin() as s:
        assert stored(s) == oracle(s)
        assert (case0, 2024, 11, 0xFFE) in stored(s)[0]
        # Moving memberships to another household by statement: everything is rebuilt.
        s.execute(
            update(HouseholdMember).where(HouseholdMember.case_id == case0).values(case_id=case1)
        )
        s.execute(
            update(HouseholdMember)
            .where(HouseholdMember.case_id == case1)
            .values(person_id=world.person_ids[0])
        )
        assert s.info.get("fokus_support_year_all")
    with db.begin() as s:
        assert stored(s) == oracle(s)


def test_rebuild_fills_an_emptied_table(db: Database, world: World, actor: Actor) -> None:
    with db.begin() as s:
        for i in (0, 1, 2, 13):
            set_month_in(s, actor, world.case_ids[1], _month(i), 1, MonthSource.MANUAL)
    with db.begin() as s:
        expected = oracle(s)
        s.connection().exec_driver_sql("DELETE FROM support_year_case")
        s.connection().exec_driver_sql("DELETE FROM support_year_person")
        support_years.rebuild(s)
    with db.begin() as s:
        assert stored(s) == expected
        assert (world.case_ids[1], 2024, 3, 0b111) in expected[0]


VARIANTS = [
    (date(2026, 11, 20), None),  # the reference month inside the current year
    (date(2026, 1, 15), None),  # January: the reference month is last December
    (date(2026, 11, 20), 2026),  # the current year, counted up to the reference month
    (date(2026, 3, 1), 2024),  # an older year
    (date(2026, 3, 1), 2027),  # a year not begun: nothing
]


def test_figures_from_the_aggregate_equal_the_raw_months(db: Database, actor: Actor) -> None:
    """A seeded register: statistics, the Långvarig flag, the register filter and the
    Långvariga view agree with the definitions counted from the raw months."""
    from models import Case
    from services import longterm as lt
    from services.demo import seed_demo
    from services.search import long_term_predicate

    seed_demo(db, actor, cases=250, seed=7, as_of=date(2026, 11, 20))
    with db.begin() as s:
        assert stored(s) == oracle(s)
        for as_of, year in VARIANTS:
            fast = lt.stats(s, as_of=as_of, year=year)
            assert fast == lt.stats_from_months(s, as_of=as_of, year=year), (as_of, year)
            if year is None and as_of.month == 11:
                assert fast["long_term_cases"] > 0 and fast["long_term_with_children"] > 0
            dates = lt.reference_dates(as_of)
            raw_ids = set(s.scalars(lt.long_term_case_ids_from_months(dates)))
            assert set(s.scalars(lt.long_term_case_ids(dates))) == raw_ids
            for correlated in (False, True):
                pred = long_term_predicate(as_of, correlated=correlated)
                assert set(s.scalars(select(Case.id).where(pred))) == raw_ids
            view = lt.long_term_view(s, as_of, open_only=False)
            assert {r.case_id for r in view} == raw_ids
