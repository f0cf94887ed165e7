"""``case_protected`` (models/protected.py, revision 0015) equals its raw definition.

The table lists the cases with a member (any period) whose ``person.protection``
is set; the access scope reads it instead of every protected person's
memberships. Triggers keep it in the same statement as the change, so these
tests compare it with :func:`raw_protected_case_ids` after every step of a
seeded random sequence of edits (ORM unit of work, bulk statements, raw SQL),
on SQLite and PostgreSQL; after demo seeding (which pauses the PostgreSQL
trigger and rebuilds); as a caseworker's own PostgreSQL role, whose row-level
security hides the other cases of a person whose protection they set; and
with two concurrent PostgreSQL transactions on the same case.
"""

from __future__ import annotations

import random
import threading
import uuid
from datetime import date

import psycopg
import pytest
from sqlalchemy import delete, insert, inspect, select, text, update

from models import Case, CaseNamedStaff, CaseProtected, HouseholdMember, Person, utcnow
from models.codes import MemberRole, Protection
from models.protected import SQLITE_TRIGGERS, raw_protected_case_ids
from services.access import protected_case_condition
from services.audit import Actor
from services.cases import CaseService
from services.db import Database
from services.demo import seed_demo
from services.persons import PersonInput, set_names
from tests import test_pg_roles
from tests.factories import make_case
from tests.test_pg_roles import Server

A, C, ADULT = MemberRole.APPLICANT, MemberRole.CHILD, MemberRole.OTHER_ADULT
PROTECTIONS = [Protection.PROTECTED_REGISTRATION.value, Protection.CONFIDENTIALITY_MARKING.value]

server = test_pg_roles.server  # the fixture: four users, a case each for anna and erik


def _flagged(db: Database) -> set[uuid.UUID]:
    with db.begin() as s:
        return set(s.scalars(select(CaseProtected.case_id)))


def _raw(db: Database) -> set[uuid.UUID]:
    with db.begin() as s:
        return set(s.scalars(raw_protected_case_ids()))


def _new_person(first: str, last: str, born: date, protection: str | None = None) -> Person:
    person = Person(
        id=uuid.uuid4(), birth_date=born, protection=protection, created_by="t", updated_by="t"
    )
    set_names(person, first, last)
    return person


def _person(i: int) -> PersonInput:
    return PersonInput(first_name=f"Test{i}", last_name="Person", birth_date=date(1980, 1, 1 + i))


def _setup(db: Database, unit_id: uuid.UUID, cases: int = 6) -> list[uuid.UUID]:
    service = CaseService(db=db, actor=Actor.cli())
    return [make_case(service, unit_id, (A, _person(i))).id for i in range(cases)]


def _edit(s: object, rng: random.Random, case_ids: list[uuid.UUID]) -> str:
    """One random change to memberships or protection, by one of several write paths."""
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    persons = list(s.scalars(select(Person).order_by(Person.id)))
    members = list(s.scalars(select(HouseholdMember).order_by(HouseholdMember.id)))
    op = rng.choice(
        ["protect", "unprotect", "protect_bulk", "add", "add_raw", "remove", "move", "swap",
         "end", "new_person", "delete_person"]
    )  # fmt: skip
    if op in ("protect", "unprotect"):
        p = rng.choice(persons)
        p.protection = rng.choice(PROTECTIONS) if op == "protect" else None
    elif op == "protect_bulk":  # a bulk UPDATE with a WHERE clause, through the session
        ids = [p.id for p in rng.sample(persons, min(3, len(persons)))]
        value = rng.choice([None, *PROTECTIONS])
        s.execute(update(Person).where(Person.id.in_(ids)).values(protection=value))
    elif op == "add":
        s.add(
            HouseholdMember(
                id=uuid.uuid4(),
                case_id=rng.choice(case_ids),
                person_id=rng.choice(persons).id,
                role=rng.choice([C, ADULT]).value,
                valid_from=date(2024, 1, 1),
            )
        )
    elif op == "add_raw":  # Core on the connection: no ORM event sees it
        s.connection().execute(
            insert(HouseholdMember.__table__).values(
                id=uuid.uuid4(),
                case_id=rng.choice(case_ids),
                person_id=rng.choice(persons).id,
                role=C.value,
                valid_from=date(2024, 1, 1),
                studying=False,
                created_at=utcnow(),
                version=1,
            )
        )
    elif op == "remove" and members:
        s.delete(rng.choice(members))
    elif op == "move" and members:  # a membership moved to another case
        m = rng.choice(members)
        s.execute(
            update(HouseholdMember)
            .where(HouseholdMember.id == m.id)
            .values(case_id=rng.choice(case_ids))
        )
    elif op == "swap" and members:  # a membership pointed at another person
        m = rng.choice(members)
        m.person_id = rng.choice(persons).id
    elif op == "end" and members:  # a past member still counts: the flag must not change
        m = rng.choice(members)
        m.valid_to = date(2024, 12, 31)
    elif op == "new_person":
        s.add(_new_person("Ny", "Person", date(1990, 1, 1), rng.choice([None, *PROTECTIONS])))
    elif op == "delete_person":  # only persons made here: others have identifiers
        free = [
            p
            for p in persons
            if p.first_name == "Ny" and not any(m.person_id == p.id for m in members)
        ]
        if free:
            s.delete(rng.choice(free))
    return op


def test_flag_equals_the_raw_rows_after_random_edits(db: Database, unit_id: uuid.UUID) -> None:
    case_ids = _setup(db, unit_id)
    assert _flagged(db) == _raw(db) == set()
    rng = random.Random(13013)
    seen: set[str] = set()
    flagged_sometimes = False
    for step in range(120):
        with db.begin() as s:
            op = _edit(s, rng, case_ids)
            s.flush()
            # Within the transaction too: the triggers ran with the statement.
            inside = set(s.scalars(select(CaseProtected.case_id)))
            assert inside == set(s.scalars(raw_protected_case_ids())), (step, op)
        seen.add(op)
        flagged, raw = _flagged(db), _raw(db)
        assert flagged == raw, (step, op)
        flagged_sometimes |= bool(raw)
    assert flagged_sometimes and len(seen) >= 10  # the sequence exercised the paths
    # The access scope's test reads the flag and agrees with it case by case.
    with db.begin() as s:
        assert set(s.scalars(select(Case.id).where(protected_case_condition()))) == _raw(db)
    # A rolled-back change leaves the table as it was.
    before = _flagged(db)
    with pytest.raises(RuntimeError), db.begin() as s:
        s.execute(update(Person).values(protection=PROTECTIONS[0]))
        # Every case with a member is now protected. (Not every case: the random edits,
        # whose order follows the persons' random ids, may have left one with none.)
        with_members = set(s.scalars(select(HouseholdMember.case_id).distinct()))
        assert with_members and set(s.scalars(select(CaseProtected.case_id))) == with_members
        raise RuntimeError("rollback")
    assert _flagged(db) == before


def test_a_deleted_case_takes_its_row_with_it(db: Database, unit_id: uuid.UUID) -> None:
    case_ids = _setup(db, unit_id, cases=2)
    with db.begin() as s:
        s.execute(update(Person).values(protection=PROTECTIONS[0]))
    assert _flagged(db) == set(case_ids)
    with db.begin() as s:
        s.execute(delete(HouseholdMember).where(HouseholdMember.case_id == case_ids[0]))
        s.execute(delete(Case).where(Case.id == case_ids[0]))
    assert _flagged(db) == _raw(db) == {case_ids[1]}


def test_flag_after_demo_seeding_equals_the_raw_rows(db: Database) -> None:
    seed_demo(db, Actor.cli(), cases=300, seed=7, as_of=date(2026, 6, 15))
    raw = _raw(db)
    assert raw  # the demo has protected households
    assert _flagged(db) == raw
    # The triggers are back after the load (the one on new members was paused for it).
    with db.begin() as s:
        person = s.scalars(
            select(Person).where(Person.protection.is_not(None)).order_by(Person.id)
        ).first()
        assert person is not None
        person.protection = None
        s.flush()
        protected = s.scalars(select(Person).where(Person.protection.is_not(None))).first()
        free = s.scalars(select(Case.id).where(~protected_case_condition())).first()
        assert protected is not None and free is not None
        s.add(
            HouseholdMember(
                id=uuid.uuid4(),
                case_id=free,
                person_id=protected.id,
                role=ADULT.value,
                valid_from=date(2026, 6, 1),
            )
        )
    assert free in _flagged(db)
    assert _flagged(db) == _raw(db)


def test_the_triggers_exist_at_head(db: Database) -> None:
    """A later migration that rebuilds a table (SQLite batch mode) drops its triggers:
    this fails until it creates them again."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            names = set(
                conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                ).scalars()
            )
            assert set(SQLITE_TRIGGERS) <= names
        else:
            names = set(
                conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
            )
            assert {
                "case_protected_member",
                "case_protected_person",
                "case_protected_person_delete",
            } <= names
        assert "case_protected" in inspect(conn).get_table_names()


# --- PostgreSQL: a caseworker's own role, and concurrent transactions ---------------------------


@pytest.mark.postgres
def test_a_caseworker_role_flags_cases_it_cannot_see(server: Server) -> None:
    """Anna sets protection on a person who is also in Erik's case: row-level security hides
    Erik's case from her, and the definer trigger flags it all the same."""
    anna_case, erik_case = server.cases["c_anna"], server.cases["c_erik"]
    with server.owner.begin() as s:  # one person in both households
        shared = _new_person("Delad", "Person", date(1985, 5, 5))
        s.add(shared)
        s.flush()
        for case_id in (anna_case, erik_case):
            s.add(
                HouseholdMember(
                    id=uuid.uuid4(),
                    case_id=case_id,
                    person_id=shared.id,
                    role=ADULT.value,
                    valid_from=date(2024, 1, 1),
                )
            )
    with server.psql("anna") as conn:
        assert conn.execute(
            "SELECT count(*) FROM fs_case WHERE id = %s", (erik_case,)
        ).fetchone() == (0,)
        conn.execute(
            "UPDATE person SET protection = 'protected_registration' WHERE id = %s", (shared.id,)
        )
        # She reads the flag of her own case; she cannot write the table.
        assert conn.execute(
            "SELECT count(*) FROM case_protected WHERE case_id = %s", (anna_case,)
        ).fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM case_protected")
    assert _flagged(server.owner) == _raw(server.owner) == {anna_case, erik_case}
    with server.owner.begin() as s:  # named on her case, she sees it again
        s.add(CaseNamedStaff(case_id=anna_case, user_id=server.staff["anna"].user_id, added_by="t"))
    with server.psql("anna") as conn:  # and back: she removes the shared member from her case
        conn.execute(
            "DELETE FROM household_member WHERE case_id = %s AND person_id = %s",
            (anna_case, shared.id),
        )
    assert _flagged(server.owner) == _raw(server.owner) == {erik_case}


@pytest.mark.postgres
def test_concurrent_add_and_remove_on_one_case_leave_it_flagged(server: Server) -> None:
    """One transaction adds a protected member while another removes the case's only other
    protected member. Without the per-case lock the remover, not seeing the new member,
    would delete the flag after the adder found it already there."""
    case_id = server.cases["c_anna"]
    with server.owner.begin() as s:
        old = _new_person("Gammal", "Skyddad", date(1970, 1, 1), PROTECTIONS[0])
        new = _new_person("Ny", "Skyddad", date(1971, 1, 1), PROTECTIONS[1])
        s.add_all([old, new])
        s.flush()
        old_member = HouseholdMember(
            id=uuid.uuid4(), case_id=case_id, person_id=old.id, role=ADULT.value,
            valid_from=date(2024, 1, 1),
        )  # fmt: skip
        s.add(old_member)
    assert case_id in _flagged(server.owner)
    url = server.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as adder, psycopg.connect(url) as remover:
        adder.execute(
            "INSERT INTO household_member (id, case_id, person_id, role, valid_from, studying, "
            "created_at, version) "
            "VALUES (%s, %s, %s, 'other_adult', '2024-01-01', false, now(), 1)",
            (uuid.uuid4(), case_id, new.id),
        )
        errors: list[BaseException] = []

        def remove() -> None:
            try:
                remover.execute("DELETE FROM household_member WHERE id = %s", (old_member.id,))
                remover.commit()
            except BaseException as exc:  # handed to the test thread
                errors.append(exc)

        thread = threading.Thread(target=remove)
        thread.start()
        # Until the remover either finished (no lock: the flag is then lost, and the
        # assertions below fail) or waits for a lock held by the adder.
        pid = remover.info.backend_pid
        with psycopg.connect(url, autocommit=True) as watch:
            while thread.is_alive():
                row = watch.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                if row is not None and row[0] == "Lock":
                    break
        adder.commit()
        thread.join(30)
        assert not thread.is_alive() and not errors
    assert case_id in _flagged(server.owner)
    assert _flagged(server.owner) == _raw(server.owner)
