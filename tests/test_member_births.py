"""``member_birth`` equals the memberships and persons, after random edits, on SQLite and
PostgreSQL; the counts that read it equal the raw definitions.

The table (models/member_births.py) holds each household membership with its
period and the member's birth date, so that "a child in the household" is one
seek. These tests compare it with the raw rows — in Python and with
:func:`models.member_births.births_query` — after members added, ended, moved
and removed, persons' birth dates changed (through the service, the ORM and
bulk statements), an untraceable statement, a rolled-back savepoint, a bulk
seeding and the migration's backfill; and the dashboard's and the statistics'
households with children against the raw months.
"""

from __future__ import annotations

import random
import uuid
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Case, HouseholdMember, MemberBirth, Person, Unit
from models import member_births as member_birth_table
from models.codes import MemberRole
from services import longterm as lt
from services.audit import Actor
from services.cases import CaseService, MemberInput
from services.dashboard import dashboard
from services.db import Database, create_db_engine, downgrade, upgrade
from services.demo import seed_demo
from services.persons import PersonInput
from tests.factories import make_case

TODAY = date(2026, 11, 20)
Row = tuple[uuid.UUID, date, date, date | None]


def _expected(session: Session) -> dict[uuid.UUID, Row]:
    """Member id → (case, birth date, from, to), from the raw rows in Python."""
    births = dict(session.execute(select(Person.id, Person.birth_date)).tuples().all())
    return {
        m.id: (m.case_id, births[m.person_id], m.valid_from, m.valid_to)
        for m in session.scalars(select(HouseholdMember))
    }


def _check(db: Database) -> dict[uuid.UUID, Row]:
    with db.begin() as s:
        table = {
            r.member_id: (r.case_id, r.birth_date, r.valid_from, r.valid_to)
            for r in s.scalars(select(MemberBirth))
        }
        computed = {r[0]: tuple(r[1:]) for r in s.execute(member_birth_table.births_query())}
        expected = _expected(s)
        assert table == expected
        assert computed == expected
    return table


def test_member_birth_follows_random_edits(db: Database, actor: Actor, unit_id: uuid.UUID) -> None:
    rng = random.Random(5)
    cases = CaseService(db=db, actor=actor)
    refs = [
        make_case(
            cases,
            unit_id,
            (
                MemberRole.APPLICANT,
                PersonInput(f"Vuxen{i}", "Test", birth_date=date(1980, 3, i + 1)),
            ),
        )
        for i in range(5)
    ]
    case_ids = [r.id for r in refs]

    def version(case_id: uuid.UUID) -> int:
        with db.begin() as s:
            return int(s.scalar(select(Case.version).where(Case.id == case_id)) or 0)

    for step in range(30):
        action = rng.random()
        case_id = rng.choice(case_ids)
        if action < 0.3:  # a child added through the service
            born = date(rng.randint(2009, 2024), rng.randint(1, 12), rng.randint(1, 28))
            cases.add_member(
                case_id,
                version(case_id),
                MemberInput(
                    role=MemberRole.CHILD,
                    person=PersonInput(f"Barn{step}", "Test", birth_date=born),
                    valid_from=date(2025, rng.randint(1, 12), 1),
                ),
            )
        elif action < 0.45:  # a person's birth date corrected through the ORM
            with db.begin() as s:
                person = rng.choice(list(s.scalars(select(Person))))
                person.birth_date = date(rng.randint(2000, 2020), 6, 15)
        elif action < 0.6:  # a membership ends, or starts later, through the ORM
            with db.begin() as s:
                member = rng.choice(list(s.scalars(select(HouseholdMember))))
                if rng.random() < 0.5:
                    member.valid_to = date(2026, rng.randint(1, 11), 1)
                else:
                    member.valid_from = date(2024, rng.randint(1, 12), 1)
        elif action < 0.7:  # a member moved to another household
            with db.begin() as s:
                member = rng.choice(list(s.scalars(select(HouseholdMember))))
                member.case_id = rng.choice(case_ids)
        elif action < 0.8:  # a member removed
            with db.begin() as s:
                members = list(
                    s.scalars(
                        select(HouseholdMember).where(HouseholdMember.role == MemberRole.CHILD)
                    )
                )
                if members:
                    s.delete(rng.choice(members))
        elif action < 0.9:  # bulk statements naming their rows
            with db.begin() as s:
                born = date(rng.randint(2009, 2015), 1, 1)
                s.execute(
                    update(Person).where(Person.first_name.like("Barn%")).values(birth_date=born)
                )
                member_birth_table.sync(s)
                assert not s.info.get("fokus_member_births_all")
        else:  # a statement without a WHERE clause: the whole table
            with db.begin() as s:
                s.execute(update(HouseholdMember).values(valid_to=None))
                assert s.info.get("fokus_member_births_all")
        _check(db)

    with db.begin() as s:  # a savepoint rolled back undoes its refresh; it is redone
        child = s.scalars(select(Person).where(Person.first_name.like("Barn%"))).first()
        assert child is not None
        child.birth_date = date(2019, 2, 2)
        with s.begin_nested() as sp:
            member_birth_table.sync(s)
            child.birth_date = date(1950, 2, 2)
            member_birth_table.sync(s)
            sp.rollback()
    _check(db)


def test_counts_with_children_equal_the_raw_months(db: Database, actor: Actor) -> None:
    """The dashboard's flagged households with children and the statistics' long-term
    households with children, read through member_birth, equal the raw definitions."""
    seed_demo(db, actor, cases=200, seed=17, as_of=TODAY)
    with db.begin() as s:  # a child who turns 18 before TODAY no longer counts
        s.execute(
            update(Person)
            .where(Person.id.in_(select(HouseholdMember.person_id).limit(40)))
            .values(birth_date=date(2008, 11, 21))
        )
    _check(db)
    with db.begin() as s:
        unit_id = s.scalars(select(Unit.id)).one()
        d = dashboard(s, actor, unit_id, as_of=TODAY)
        dates = lt.reference_dates(TODAY)
        flagged = set(s.scalars(lt.long_term_case_ids_from_months(dates)))
        with_child = set(
            s.scalars(
                select(HouseholdMember.case_id)
                .join(Person, Person.id == HouseholdMember.person_id)
                .where(
                    HouseholdMember.case_id.in_(flagged),
                    HouseholdMember.valid_from <= TODAY,
                    (HouseholdMember.valid_to.is_(None)) | (HouseholdMember.valid_to >= TODAY),
                    Person.birth_date > dates.adult_born_on_or_before,
                )
            )
        )
        assert d.long_term_with_children == len(with_child) > 0
        for year in (2025, 2026):
            figures = lt.stats(s, as_of=TODAY, year=year)
            raw = lt.stats_from_months(s, as_of=TODAY, year=year)
            assert figures["long_term_with_children"] == raw["long_term_with_children"] > 0


def test_member_birth_after_bulk_seeding_and_the_backfill(db: Database) -> None:
    seed_demo(db, Actor.cli(), cases=80, seed=4, as_of=TODAY)
    expected = _check(db)
    assert expected
    db.engine.dispose()
    engine = create_db_engine(db.url)
    try:
        downgrade(engine, "0015")
        upgrade(engine)
    finally:
        engine.dispose()
    assert _check(db) == expected
