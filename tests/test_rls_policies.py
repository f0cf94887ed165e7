"""Row-level security priced per row (migration 0017): same matrix, cost of the rows touched.

* Equivalence: on databases of varied, seeded random data (two units, caseworkers, an
  arbetsledare per unit, an administratör, an inactive caseworker; stand-ins valid, expired,
  future and revoked; shares likewise; protected persons with and without named staff;
  nödåtkomst active, expired and future), every user connected as their own login role sees
  through RLS exactly the cases :func:`services.access.case_scope_condition` gives, the
  persons of those cases' households (plus persons in no household), and those cases' notes,
  note members and identifiers. Checked again after changes (a person becomes protected, a
  stand-in is revoked, a nödåtkomst is granted), and under revision 0016's policies after a
  downgrade.
* Cost: a one-case statement as an arbetsledare reads a bounded number of ``fs_case`` rows
  (the transaction's own table statistics, which also count what a definer function reads
  inside) and its plan has no sequential scan of ``fs_case`` and no set function.
* The migration: 0017 down restores exactly what revision 0016's code installed (a snapshot
  taken from main before this revision, tests/data/rls/access_control_0016.json), up again
  restores the new definitions; SQLite is untouched either way.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from models import (
    AuditEvent,
    Case,
    CaseNamedStaff,
    CaseShare,
    ContactEntry,
    EmergencyAccess,
    HouseholdMember,
    Person,
    PersonIdentifier,
    StandIn,
    Unit,
    User,
    contact_entry_member,
)
from models.codes import Protection, Role
from services.access import case_scope_condition
from services.audit import LOCAL_TZ, Actor, record
from services.db import Database, create_db_engine, current_revision, downgrade, open_database
from services.db import upgrade as db_upgrade
from services.persons import set_names
from tests.factories import add_login_user

SNAPSHOT = Path(__file__).parent / "data" / "rls" / "access_control_0016.json"


@dataclass
class Staff:
    name: str
    user_id: uuid.UUID
    role: Role
    unit_id: uuid.UUID
    role_name: str
    password: str
    active: bool = True

    @property
    def actor(self) -> Actor:
        return Actor(username=self.name, role=self.role, user_id=self.user_id)


@dataclass
class World:
    url: str
    owner: Database
    staff: list[Staff]
    units: list[uuid.UUID]
    cases: list[uuid.UUID]
    persons: list[uuid.UUID]

    def connect(self, who: Staff) -> psycopg.Connection[tuple[Any, ...]]:
        url = make_url(self.url)
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            dbname=url.database,
            user=who.role_name,
            password=who.password,
            autocommit=True,
        )


def _admin_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _add_staff(db: Database, name: str, role: Role, unit: str) -> Staff:
    u = add_login_user(db, name, role, unit)
    return Staff(u.username, u.user_id, role, u.unit_id, u.role_name, u.password)


def _drop_roles(url: str, staff: list[Staff]) -> None:
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        for s in staff:
            conn.execute(f'DROP ROLE IF EXISTS "{s.role_name}"')  # type: ignore[arg-type]


_seq = iter(range(1, 10**9))


def _new_case(s: Any, unit_id: uuid.UUID, caseworker_id: uuid.UUID | None) -> uuid.UUID:
    n = next(_seq)
    case = Case(
        id=uuid.uuid4(),
        case_number=f"T-{n:06d}",
        number_year=2099,
        number_seq=n,
        unit_id=unit_id,
        status="ongoing",
        opened_on=date(2024, 1, 1),
        caseworker_id=caseworker_id,
        created_by="test",
        updated_by="test",
    )
    s.add(case)
    s.flush()
    return case.id


def _new_person(s: Any, n: int, protected: bool) -> uuid.UUID:
    person = Person(
        id=uuid.uuid4(),
        birth_date=date(1980, 1, 1) + timedelta(days=n),
        protection=Protection.PROTECTED_REGISTRATION.value if protected else None,
        created_by="test",
        updated_by="test",
    )
    set_names(person, f"Förnamn{n}", f"Efternamn{n}")
    s.add(person)
    s.flush()
    return person.id


def _build(pg_url: str, seed: int, owner: Database, staff: list[Staff]) -> World:
    """A varied database: everything the matrix distinguishes, drawn with ``seed``; the
    users made are added to ``staff`` as they are made (their login roles are server-wide)."""
    rng = random.Random(seed)
    units = ["Norra", "Södra"]
    for u in units:
        for i in range(3):
            staff.append(_add_staff(owner, f"hl{u[0].lower()}{i}", Role.CASEWORKER, u))
        staff.append(_add_staff(owner, f"al{u[0].lower()}", Role.TEAM_LEADER, u))
    staff.append(_add_staff(owner, "adm", Role.ADMIN, units[0]))
    inactive = _add_staff(owner, "slutat", Role.CASEWORKER, units[0])
    staff.append(inactive)
    now = datetime.now(UTC)
    today = now.astimezone(LOCAL_TZ).date()
    with owner.begin() as s:
        s.execute(text("UPDATE app_user SET active = false WHERE id = :u"), {"u": inactive.user_id})
        inactive.active = False
        unit_ids = [s.scalar(select(Unit.id).where(Unit.name == u)) for u in units]
        assert all(unit_ids)
        workers = [x for x in staff if x.role is Role.CASEWORKER]
        case_roles = [x for x in staff if x.role is not Role.ADMIN]
        persons = [_new_person(s, n, protected=rng.random() < 0.15) for n in range(70)]
        cases: list[uuid.UUID] = []
        for _ in range(60):
            unit_id = rng.choice(unit_ids)
            # Mostly a caseworker of the unit; sometimes none, or one of the other unit.
            pick = rng.random()
            if pick < 0.1:
                caseworker = None
            elif pick < 0.2:
                caseworker = rng.choice(workers).user_id
            else:
                caseworker = rng.choice([w for w in workers if w.unit_id == unit_id]).user_id
            case_id = _new_case(s, unit_id, caseworker)
            cases.append(case_id)
            # Persons 60–69 stay in no household.
            for person_id in rng.sample(persons[:60], rng.randint(1, 3)):
                s.add(
                    HouseholdMember(
                        case_id=case_id,
                        person_id=person_id,
                        role="applicant",
                        valid_from=date(2024, 1, 1),
                        valid_to=rng.choice([None, date(2024, 6, 30)]),
                    )
                )
            for _ in range(rng.randint(0, 2)):
                entry = ContactEntry(
                    id=uuid.uuid4(),
                    case_id=case_id,
                    occurred_at=now - timedelta(days=3),
                    agency_code="psychiatry",
                    method_code="phone",
                    text="Samtal",
                    author_name="test",
                )
                s.add(entry)
                s.flush()
                s.execute(
                    contact_entry_member.insert().values(
                        entry_id=entry.id, person_id=rng.choice(persons)
                    )
                )
        for n, person_id in enumerate(rng.sample(persons, 15)):
            s.add(
                PersonIdentifier(
                    person_id=person_id,
                    personal_id=f"19{n:010d}",
                    id_kind="personnummer",
                    recorded_by="test",
                )
            )
        s.flush()
        periods = [
            (today - timedelta(days=3), today + timedelta(days=3), None),  # valid
            (today, today, None),  # valid today only
            (today - timedelta(days=10), today - timedelta(days=1), None),  # expired
            (today + timedelta(days=1), today + timedelta(days=5), None),  # not yet
            (today - timedelta(days=3), today + timedelta(days=3), now),  # revoked
        ]
        for frm, to, revoked in periods * 2:
            absent, substitute = rng.sample(workers, 2)
            s.add(
                StandIn(
                    absent_user_id=absent.user_id,
                    substitute_user_id=substitute.user_id,
                    valid_from=frm,
                    valid_to=to,
                    granted_by="test",
                    revoked_at=revoked,
                )
            )
        for frm, to, revoked in periods * 3:
            s.add(
                CaseShare(
                    case_id=rng.choice(cases),
                    user_id=rng.choice(workers).user_id,
                    valid_from=frm,
                    valid_to=to,
                    granted_by="test",
                    revoked_at=revoked,
                )
            )
        named = set()
        for _ in range(25):
            key = (rng.choice(cases), rng.choice(case_roles).user_id)
            if key not in named:
                named.add(key)
                s.add(CaseNamedStaff(case_id=key[0], user_id=key[1], added_by="test"))
        grants = [
            (now - timedelta(hours=2), now + timedelta(hours=6)),  # active
            (now - timedelta(days=2), now - timedelta(days=1)),  # expired
            (now + timedelta(hours=2), now + timedelta(hours=6)),  # not yet
        ]
        for granted, expires in grants * 4:
            s.add(
                EmergencyAccess(
                    case_id=rng.choice(cases),
                    user_id=rng.choice(staff).user_id,
                    reason="Klienten ringer akut",
                    granted_at=granted,
                    expires_at=expires,
                )
            )
    with owner.begin() as s:
        for who in staff:  # events with and without a case, in every user's name
            for case_id in [*rng.sample(cases, 3), None]:
                record(s, who.actor, "case_opened", case_id=case_id)
        record(s, Actor.cli(), "case_opened", case_id=rng.choice(cases))
    with owner.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return World(pg_url, owner, staff, unit_ids, cases, persons)  # type: ignore[arg-type]


@pytest.fixture
def world(request: pytest.FixtureRequest, pg_url: str) -> Iterator[World]:
    owner = open_database(pg_url)
    staff: list[Staff] = []
    try:
        yield _build(pg_url, request.param, owner, staff)
    finally:
        owner.dispose()
        _drop_roles(pg_url, staff)


def _expected(world: World, who: Staff) -> dict[str, set[Any]]:
    """What services/access.py gives ``who``, computed as the owner."""
    with world.owner.begin() as s:
        cases = set(s.scalars(select(Case.id).where(case_scope_condition(who.actor, None))))
        members = s.execute(select(HouseholdMember.person_id, HouseholdMember.case_id)).all()
        attached = {p for p, _ in members}
        persons = {p for p, c in members if c in cases}
        if who.active and who.role is not Role.ADMIN:
            persons |= set(world.persons) - attached
        notes = set(s.scalars(select(ContactEntry.id).where(ContactEntry.case_id.in_(cases))))
        note_members = {
            (e, p)
            for e, p in s.execute(select(contact_entry_member)).all()
            if e in notes  # follows the note, whoever the member is
        }
        identifiers = set(
            s.scalars(select(PersonIdentifier.id).where(PersonIdentifier.person_id.in_(persons)))
        )
        # The audit log: one's own events, the events of the cases one may open, and for an
        # arbetsledare those of the unit's staff.
        units = dict(s.execute(select(User.id, User.unit_id)).all())
        audit = {
            e
            for e, user_id, case_id in s.execute(
                select(AuditEvent.id, AuditEvent.user_id, AuditEvent.case_id)
            )
            if who.active
            and (
                user_id == who.user_id
                or case_id in cases
                or (who.role is Role.TEAM_LEADER and units.get(user_id) == who.unit_id)
            )
        }
    return {
        "cases": cases,
        "persons": persons,
        "notes": notes,
        "note_members": note_members,
        "identifiers": identifiers,
        "audit": audit,
    }


def _seen(world: World, who: Staff, *, jit_off: bool = True) -> dict[str, set[Any]]:
    """What ``who``'s own login role reads through RLS."""
    with world.connect(who) as conn:
        assert conn.execute("SELECT session_user").fetchone() == (who.role_name,)
        # LOGIN_ROLE_SETTINGS (0017; its downgrade resets it)
        assert conn.execute("SHOW jit").fetchone() == ("off" if jit_off else "on",)

        def ids(sql: str) -> set[Any]:
            return {r[0] for r in conn.execute(sql)}  # type: ignore[call-overload]

        if who.role is Role.ADMIN:  # no grant on case data at all
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT id FROM fs_case")
            nothing: dict[str, set[Any]] = {
                k: set() for k in ("cases", "persons", "notes", "note_members", "identifiers")
            }
            return {**nothing, "audit": ids("SELECT id FROM audit_event")}

        seen = {
            "cases": ids("SELECT id FROM fs_case"),
            "persons": ids("SELECT id FROM person"),
            "notes": ids("SELECT id FROM contact_entry"),
            "note_members": {
                (r[0], r[1])
                for r in conn.execute("SELECT entry_id, person_id FROM contact_entry_member")
            },
            "identifiers": ids("SELECT id FROM person_identifier"),
            "audit": ids("SELECT id FROM audit_event"),
        }
        # The definer functions other code may call agree with the policies.
        assert ids("SELECT fokus_visible_case_ids()") == seen["cases"], who.name
        visible_one = {
            c
            for c in world.cases
            if conn.execute("SELECT fokus_case_visible(%s)", (c,)).fetchone() == (True,)
        }
        assert visible_one == seen["cases"], who.name
        return seen


def _assert_equivalent(world: World, *, jit_off: bool = True) -> None:
    saw_something = {"cases": 0, "persons": 0}
    for who in world.staff:
        expected, seen = _expected(world, who), _seen(world, who, jit_off=jit_off)
        for key in expected:
            assert seen[key] == expected[key], (who.name, who.role, key)
        saw_something["cases"] += len(seen["cases"])
        saw_something["persons"] += len(seen["persons"])
    assert saw_something["cases"] > 0 and saw_something["persons"] > 0


def _change(world: World, seed: int) -> None:
    """Changes that move cases in and out of scopes."""
    rng = random.Random(seed + 1000)
    now = datetime.now(UTC)
    with world.owner.begin() as s:
        for person_id in rng.sample(world.persons[:60], 4):
            s.get(Person, person_id).protection = Protection.CONFIDENTIALITY_MARKING.value  # type: ignore[union-attr]
        protected = [p for p in world.persons if s.get(Person, p).protection is not None]  # type: ignore[union-attr]
        s.get(Person, rng.choice(protected)).protection = None  # type: ignore[union-attr]
        for stand_in in s.scalars(select(StandIn).where(StandIn.revoked_at.is_(None))).all()[:2]:
            stand_in.revoked_at = now
        workers = [x for x in world.staff if x.role is Role.CASEWORKER and x.active]
        for _ in range(3):
            s.add(
                EmergencyAccess(
                    case_id=rng.choice(world.cases),
                    user_id=rng.choice(workers).user_id,
                    reason="Klienten ringer akut",
                    granted_at=now - timedelta(minutes=5),
                    expires_at=now + timedelta(hours=3),
                )
            )
        case_id = rng.choice(world.cases)
        s.execute(
            text("UPDATE fs_case SET caseworker_id = :u WHERE id = :c"),
            {"u": rng.choice(workers).user_id, "c": case_id},
        )


@pytest.mark.postgres
@pytest.mark.parametrize("world", [1, 2, 3], indirect=True)
def test_every_user_sees_through_rls_exactly_the_access_matrix(world: World) -> None:
    _assert_equivalent(world)
    _change(world, 1)
    _assert_equivalent(world)


# --- cost --------------------------------------------------------------------------------------


@pytest.fixture
def big_unit(pg_url: str) -> Iterator[tuple[World, Staff, Staff, uuid.UUID]]:
    """2,000 cases in one unit (a tenth protected), 500 in another; its arbetsledare and a
    caseworker with a few cases."""
    owner = open_database(pg_url)
    made: list[Staff] = []
    try:
        for name, role, unit in [
            ("al", Role.TEAM_LEADER, "Stora"),
            ("hl", Role.CASEWORKER, "Stora"),
            ("al", Role.TEAM_LEADER, "Andra"),
        ]:
            made.append(_add_staff(owner, name, role, unit))
        leader, worker, other = made
        with owner.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO fs_case (id, case_number, number_year, number_seq, unit_id, "
                    "status, opened_on, caseworker_id, is_focus, direction, summary, version, "
                    "created_at, created_by, updated_at, updated_by) "
                    "SELECT gen_random_uuid(), 'B-' || g, 2098, g, "
                    "CASE WHEN g <= 2000 THEN :big ELSE :small END, 'ongoing', "
                    "DATE '2024-01-01', CASE WHEN g % 400 = 1 THEN :worker END, false, "
                    "'undecided', '', 1, now(), 'test', now(), 'test' "
                    "FROM generate_series(1, 2500) g"
                ),
                {"big": leader.unit_id, "small": other.unit_id, "worker": worker.user_id},
            )
            conn.execute(
                text(
                    "INSERT INTO case_protected (case_id) SELECT id FROM fs_case "
                    "WHERE number_seq % 10 = 0"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO contact_entry (id, case_id, occurred_at, agency_code, "
                    "method_code, counterpart, text, child_perspective, author_name, "
                    "created_at, updated_at, version) "
                    "SELECT gen_random_uuid(), id, now(), 'psychiatry', 'phone', '', 'x', "
                    "false, 'test', now(), now(), 1 FROM fs_case"
                )
            )
            conn.execute(text("ANALYZE"))
            one = conn.execute(
                text("SELECT id FROM fs_case WHERE number_seq = 1234 AND number_year = 2098")
            ).scalar_one()
        world = World(pg_url, owner, [leader, worker, other], [], [], [])
        yield world, leader, worker, one
    finally:
        owner.dispose()
        _drop_roles(pg_url, made)


def _fs_case_reads(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[int, int, int]:
    """This transaction's scans of fs_case so far: (sequential scans, rows they read, rows
    fetched by index) — counted wherever they ran, inside definer functions too."""
    row = conn.execute(
        "SELECT seq_scan, seq_tup_read, idx_tup_fetch FROM pg_stat_xact_user_tables "
        "WHERE relname = 'fs_case'"
    ).fetchone()
    return (0, 0, 0) if row is None else (int(row[0]), int(row[1]), int(row[2] or 0))


def _plan(conn: psycopg.Connection[tuple[Any, ...]], sql: str, args: tuple[Any, ...]) -> str:
    rows = conn.execute(f"EXPLAIN {sql}", args).fetchall()  # type: ignore[call-overload]
    return "\n".join(r[0] for r in rows)


@pytest.mark.postgres
def test_one_case_as_the_arbetsledare_reads_that_case_not_the_unit(
    big_unit: tuple[World, Staff, Staff, uuid.UUID],
) -> None:
    world, leader, worker, one = big_unit
    statements = [
        ("SELECT * FROM fs_case WHERE id = %s", 1),
        ("SELECT * FROM contact_entry WHERE case_id = %s", 1),
        (
            "SELECT count(*) FROM contact_entry_member m JOIN contact_entry e ON e.id = m.entry_id "
            "WHERE e.case_id = %s",
            1,
        ),
    ]
    with world.connect(leader) as conn:
        conn.autocommit = False
        for sql, rows in statements:
            plan = _plan(conn, sql, (one,))
            assert "Seq Scan on fs_case" not in plan, plan
            assert "Function Scan" not in plan, plan  # no set function builds the unit
            before = _fs_case_reads(conn)
            got = conn.execute(sql, (one,)).fetchall()  # type: ignore[call-overload]
            after = _fs_case_reads(conn)
            if sql.startswith("SELECT *"):
                assert len(got) == rows
            # The unit has 2,000 cases: the statement reads the one it asks for.
            assert after[0] == before[0], (sql, before, after)
            assert after[2] - before[2] <= 5, (sql, before, after)
        conn.rollback()
        # The register's count still sees the whole unit but the protected tenth.
        assert conn.execute("SELECT count(*) FROM fs_case").fetchone() == (1800,)
    with world.connect(worker) as conn:
        assert conn.execute("SELECT count(*) FROM fs_case").fetchone() == (5,)
        assert conn.execute("SELECT count(*) FROM contact_entry").fetchone() == (5,)


# --- the migration -----------------------------------------------------------------------------


def _access_state(url: str) -> dict[str, Any]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as c:
            policies = [
                list(r)
                for r in c.execute(
                    text(
                        "SELECT tablename, policyname, permissive, roles::text[], cmd, qual, "
                        "with_check FROM pg_policies WHERE schemaname = current_schema() "
                        "ORDER BY 1, 2"
                    )
                )
            ]
            functions = [
                list(r)
                for r in c.execute(
                    text(
                        "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) "
                        "|| ')', p.prosrc, p.prosecdef, p.provolatile::text FROM pg_proc p "
                        "JOIN pg_namespace n ON n.oid = p.pronamespace "
                        "WHERE n.nspname = current_schema() AND p.proname LIKE 'fokus%' "
                        "ORDER BY 1"
                    )
                )
            ]
            major = c.execute(text("SHOW server_version_num")).scalar_one()
        return {
            "revision": current_revision(engine),
            "server_version_num": int(major) // 10000,
            "policies": policies,
            "functions": functions,
        }
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_downgrade_restores_revision_0016s_definitions_and_upgrade_the_new(pg_url: str) -> None:
    head = _access_state(pg_url)
    assert head["revision"] == "0017"
    assert not any("fokus_visible" in str(p[5]) + str(p[6]) for p in head["policies"])
    old = json.loads(SNAPSHOT.read_text("utf-8"))
    engine = create_db_engine(pg_url)
    try:
        downgrade(engine, "0016")
        down = _access_state(pg_url)
        assert down["revision"] == "0016"
        # Function bodies are stored as written: the same on any server version.
        assert down["functions"] == old["functions"]
        if down["server_version_num"] == old["server_version_num"]:
            assert down["policies"] == old["policies"]
        else:  # the deparsed expressions may be spelled differently by another version
            assert [p[:5] for p in down["policies"]] == [p[:5] for p in old["policies"]]
        db_upgrade(engine)
        assert _access_state(pg_url) == head
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("world", [4], indirect=True)
def test_revision_0016s_policies_restored_by_the_downgrade_give_the_same_matrix(
    world: World,
) -> None:
    engine = create_db_engine(world.url)
    try:
        downgrade(engine, "0016")
        _assert_equivalent(world, jit_off=False)
        db_upgrade(engine)
        _assert_equivalent(world)
    finally:
        engine.dispose()


def test_sqlite_is_untouched_by_revision_0017(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'f.db'}")

    def schema() -> list[tuple[Any, ...]]:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text("SELECT * FROM sqlite_master ORDER BY name"))]

    try:
        db_upgrade(engine, "0016")
        before = schema()
        db_upgrade(engine)
        assert current_revision(engine) == "0017"
        assert schema() == before
        downgrade(engine, "0016")
        assert schema() == before
    finally:
        engine.dispose()
