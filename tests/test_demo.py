"""Demo data (``seed-demo``): realistic, deterministic, valid, and never mixed with real data.

The seeder bypasses the ORM and the services for speed, so these tests read
its rows back through the ORM and the services and hold them to the same
rules the services enforce (identity numbers, household roles, folded search
columns, case numbers) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Date, func, inspect, select, text

import services.demo as demo
from models import (
    AuditEvent,
    Base,
    Case,
    CaseNumberCounter,
    Consent,
    ContactEntry,
    HouseholdMember,
    Person,
    PersonIdentifier,
    SupportMonth,
    SupportReason,
    Unit,
    User,
    UTCDateTime,
    contact_entry_member,
)
from models.codes import CaseStatus, IdKind, MemberRole, Outcome, Role
from services.audit import Actor
from services.cases import CaseInput, MemberInput, create_case_in, format_case_number
from services.db import Database, open_database
from services.demo import SeedResult, seed_demo
from services.errors import DatabaseUnavailableError, ValidationError
from services.household import Membership, child_error
from services.personal_id import parse_personal_id
from services.persons import PersonInput, set_names
from services.search import RegisterFilter, search_cases
from services.validation import age_on

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 11, 1)
CASE_NUMBER = re.compile(r"^FS-(\d{4})-(\d{5})$")


def _seed(db: Database, actor: Actor, cases: int = 300, seed: int = 7) -> SeedResult:
    return seed_demo(db, actor, cases=cases, seed=seed, as_of=AS_OF)


def _fingerprint(db: Database) -> list[tuple[object, ...]]:
    """Per case: number, applicant's number and names, members, months and their sum."""
    with db.begin() as s:
        months = dict(
            s.execute(
                select(SupportMonth.case_id, func.sum(SupportMonth.amount_ore)).group_by(
                    SupportMonth.case_id
                )
            ).all()
        )
        rows = s.execute(
            select(
                Case.id, Case.case_number, Person.personal_id, Person.first_name, Person.last_name
            )
            .join(HouseholdMember, HouseholdMember.case_id == Case.id)
            .join(Person, Person.id == HouseholdMember.person_id)
            .where(HouseholdMember.role == MemberRole.APPLICANT.value)
        ).all()
        sizes = Counter(s.scalars(select(HouseholdMember.case_id)))
        notes = Counter(s.scalars(select(ContactEntry.case_id)))
        return sorted(
            (number, pid, first, last, sizes[cid], notes[cid], int(months.get(cid) or 0))
            for cid, number, pid, first, last in rows
        )


def _schema(db: Database) -> list[tuple[object, ...]]:
    """Every index and constraint definition, to prove the bulk load restores them."""
    with db.begin() as s:
        if db.is_sqlite:
            return [
                tuple(r)
                for r in s.execute(
                    text(
                        "SELECT type, name, tbl_name, sql FROM sqlite_master"
                        " WHERE name NOT LIKE 'sqlite_stat%' ORDER BY name"
                    )
                )
            ]
        indexes = s.execute(
            text(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() ORDER BY 1, 2"
            )
        ).all()
        constraints = s.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
                "ORDER BY 1, 2"
            )
        ).all()
        return [tuple(r) for r in [*indexes, *constraints]]


@pytest.fixture
def seeded(db: Database, actor: Actor) -> Database:
    result = _seed(db, actor)
    assert result.cases == 300
    return db


def test_same_seed_gives_the_same_data_on_any_backend_and_another_seed_differs(
    db: Database, actor: Actor, tmp_path: Path
) -> None:
    _seed(db, actor)
    again = open_database(f"sqlite:///{tmp_path / 'again.db'}")
    other = open_database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        _seed(again, actor)
        _seed(other, actor, seed=8)
        first = _fingerprint(db)
        assert len(first) == 300
        assert first == _fingerprint(again)
        different = _fingerprint(other)
        assert len(different) == 300
        assert {r[1] for r in first}.isdisjoint({r[1] for r in different} - {None})
        assert [r[2:4] for r in first] != [r[2:4] for r in different]
    finally:
        again.dispose()
        other.dispose()


def test_averages_statuses_and_long_term_cases(seeded: Database) -> None:
    with seeded.begin() as s:
        cases = s.scalars(select(Case)).all()
        n = len(cases)
        members = s.scalar(select(func.count()).select_from(HouseholdMember)) or 0
        notes = s.scalar(select(func.count()).select_from(ContactEntry)) or 0
        months = s.execute(select(SupportMonth.case_id, SupportMonth.month)).all()
    assert n == 300
    assert 2.0 <= members / n <= 2.6
    assert 6 <= notes / n <= 10
    assert 18 <= len(months) / n <= 30

    statuses = Counter(c.status for c in cases)
    assert statuses[CaseStatus.ONGOING.value] > n / 2
    assert statuses[CaseStatus.CLOSED.value] > 0
    assert statuses[CaseStatus.ACTUALISATION.value] + statuses[CaseStatus.INVESTIGATION.value] > 0
    for c in cases:
        if c.status == CaseStatus.CLOSED.value:
            assert c.closed_on is not None and c.outcome is not None
            assert c.opened_on <= c.closed_on <= AS_OF
            if c.outcome == Outcome.SICKNESS_COMPENSATION.value:
                assert c.outcome_grade is not None and c.outcome_permanent is not None
        else:
            assert c.closed_on is None and c.outcome is None

    # Long-term: support in at least 10 months of the last complete calendar year.
    last_year = AS_OF.year - 1
    per_case = Counter(cid for cid, month in months if month.year == last_year)
    long_term = sum(1 for count in per_case.values() if count >= 10)
    assert long_term / n >= 0.2
    # Some households have had support for three to six years.
    span = defaultdict(list)
    for cid, month in months:
        span[cid].append(month)
    years = [(max(ms) - min(ms)).days / 365 for ms in span.values()]
    assert sum(1 for y in years if y >= 3) >= 10
    assert max(years) <= 7


def test_users_unit_and_caseloads(seeded: Database) -> None:
    with seeded.begin() as s:
        users = s.scalars(select(User)).all()
        assert s.scalar(select(func.count()).select_from(Unit)) == 1
        cases = s.scalars(select(Case)).all()
    leaders = [u for u in users if u.role == Role.TEAM_LEADER.value]
    focus = [u for u in users if u.is_focus]
    assert len(leaders) == 1
    assert focus and all(u.caseload_cap == 30 for u in focus)
    assert len(users) >= 5
    by_id = {u.id: u for u in users}
    load: Counter[uuid.UUID] = Counter()
    for c in cases:
        if c.status == CaseStatus.ACTUALISATION.value:
            assert c.caseworker_id is None  # waits for the team leader
            continue
        assert c.caseworker_id in by_id
        assert by_id[c.caseworker_id].role == Role.CASEWORKER.value
        if c.is_focus:
            assert by_id[c.caseworker_id].is_focus
        if c.status != CaseStatus.CLOSED.value:
            load[c.caseworker_id] += 1
    assert any(c.is_focus for c in cases)
    for user_id, count in load.items():
        assert count <= by_id[user_id].caseload_cap


def test_every_identity_number_parses_and_matches_the_person(seeded: Database) -> None:
    with seeded.begin() as s:
        persons = s.scalars(select(Person)).all()
        identifiers = s.scalars(select(PersonIdentifier)).all()
    kinds = Counter(p.id_kind for p in persons)
    assert kinds[IdKind.PERSONNUMMER.value] > len(persons) * 0.8
    assert kinds[IdKind.SAMORDNINGSNUMMER.value] >= 5
    assert kinds[None] >= 5
    numbers = [p.personal_id for p in persons if p.personal_id]
    assert len(numbers) == len(set(numbers))
    for p in persons:
        if p.personal_id is None:
            assert p.id_kind is None and p.personal_id_short is None
            continue
        parsed = parse_personal_id(p.personal_id, today=AS_OF)
        assert parsed.digits == p.personal_id
        assert parsed.kind.value == p.id_kind
        assert parsed.birth_date == p.birth_date
        assert p.personal_id_short == p.personal_id[2:]
        # The 10-digit form with a dash parses to the same number, as typed in a search.
        assert parse_personal_id(f"{p.personal_id[2:8]}-{p.personal_id[8:]}", today=AS_OF) == parsed
    assert any(p.reserve_number for p in persons if p.personal_id is None)

    current = {p.id: p.personal_id for p in persons}
    for ident in identifiers:
        parsed = parse_personal_id(ident.personal_id, today=AS_OF)
        assert parsed.kind.value == ident.id_kind
        if ident.replaced_at is None:
            assert current[ident.person_id] == ident.personal_id
        else:
            assert ident.id_kind == IdKind.SAMORDNINGSNUMMER.value
            assert ident.recorded_at < ident.replaced_at
    assert sum(1 for i in identifiers if i.replaced_at is None) == len(numbers)


def test_some_households_are_protected_as_a_whole(db: Database, actor: Actor) -> None:
    _seed(db, actor, cases=500, seed=11)
    with db.begin() as s:
        rows = s.execute(
            select(Case, Person.protection)
            .join(HouseholdMember, HouseholdMember.case_id == Case.id)
            .join(Person, Person.id == HouseholdMember.person_id)
        ).all()
    by_case: dict[uuid.UUID, set[str | None]] = defaultdict(set)
    cases = {}
    for case, protection in rows:
        by_case[case.id].add(protection)
        cases[case.id] = case
    protected = [cid for cid, p in by_case.items() if p != {None}]
    assert protected
    for cid in protected:
        assert len(by_case[cid]) == 1  # the whole household
        if by_case[cid] == {"protected_registration"}:
            assert cases[cid].address is None


def test_no_stored_date_lies_after_as_of(seeded: Database) -> None:
    end_of_day = datetime.combine(AS_OF + timedelta(days=1), time(), UTC)
    checked = 0
    with seeded.begin() as s:
        existing = inspect(s.connection())
        for name in [*demo.TABLE_ORDER, "unit", "app_user"]:
            table = Base.metadata.tables[name]
            stored = {c["name"] for c in existing.get_columns(name)}
            for col in table.columns:
                if col.name not in stored:
                    continue
                if isinstance(col.type, Date):
                    latest = s.scalar(select(func.max(col)))
                    assert latest is None or latest <= AS_OF, col
                    checked += 1
                elif isinstance(col.type, UTCDateTime):
                    latest = s.scalar(select(func.max(col)))
                    assert latest is None or latest < end_of_day, col
                    checked += 1
        assert checked > 25
        months = s.scalars(select(SupportMonth)).all()
    assert all(m.month.day == 1 for m in months)
    assert all(300_000 <= m.amount_ore <= 2_000_000 for m in months)
    assert all(isinstance(m.amount_ore, int) and m.source == "import" for m in months)
    assert max(m.month for m in months) == AS_OF.replace(day=1)


def test_households_follow_the_membership_rules(seeded: Database) -> None:
    with seeded.begin() as s:
        rows = s.execute(
            select(HouseholdMember, Person.birth_date, Case)
            .join(Person, Person.id == HouseholdMember.person_id)
            .join(Case, Case.id == HouseholdMember.case_id)
        ).all()
        reasons = s.scalars(select(SupportReason)).all()
    per_case: dict[uuid.UUID, list[HouseholdMember]] = defaultdict(list)
    persons = Counter()
    studying = 0
    for m, birth, case in rows:
        per_case[case.id].append(m)
        persons[m.person_id] += 1
        assert case.opened_on <= m.valid_from
        assert m.valid_to is None or m.valid_from <= m.valid_to <= AS_OF
        role = MemberRole(m.role)
        assert child_error(Membership(role, birth, m.valid_from, m.valid_to, m.studying)) is None
        if role is MemberRole.CHILD:
            age = age_on(birth, case.closed_on or AS_OF)
            assert age <= 20
            assert m.studying == (age >= 18)
            studying += m.studying
        else:
            assert age_on(birth, m.valid_from) >= 18
            assert not m.studying
    assert len(per_case) == 300
    assert set(persons.values()) == {1}  # nobody is in two households
    assert studying >= 1
    for members in per_case.values():
        current = [m for m in members if m.valid_to is None]
        assert sum(1 for m in current if m.role == MemberRole.APPLICANT.value) == 1
        assert sum(1 for m in members if m.role == MemberRole.APPLICANT.value) == 1
        assert sum(1 for m in current if m.role == MemberRole.CO_APPLICANT.value) <= 1

    children = {m.person_id for m, _, _ in rows if m.role == MemberRole.CHILD.value}
    adults = {m.person_id for m, _, _ in rows} - children
    with_reason = {r.person_id for r in reasons}
    assert with_reason == adults
    assert all(r.valid_to is None or r.valid_from <= r.valid_to for r in reasons)


def test_notes_consents_and_links_stay_inside_the_household(seeded: Database) -> None:
    with seeded.begin() as s:
        members = defaultdict(set)
        for case_id, person_id in s.execute(
            select(HouseholdMember.case_id, HouseholdMember.person_id)
        ):
            members[case_id].add(person_id)
        notes = {n.id: n for n in s.scalars(select(ContactEntry))}
        links = s.execute(select(contact_entry_member)).all()
        consents = s.scalars(select(Consent)).all()
        users = {u.id: u.username for u in s.scalars(select(User))}
        birth = dict(s.execute(select(Person.id, Person.birth_date)).all())
    assert all(n.signed_at is not None and n.signed_at.tzinfo is not None for n in notes.values())
    assert all(n.created_at <= n.signed_at for n in notes.values())  # type: ignore[operator]
    assert all(users[n.author_id] == n.author_name for n in notes.values())  # type: ignore[index]
    assert all(n.text.strip() and "{" not in n.text for n in notes.values())
    assert any(n.child_perspective for n in notes.values())
    assert len({n.agency_code for n in notes.values()}) >= 10
    assert len({n.method_code for n in notes.values()}) >= 6
    assert links
    for entry_id, person_id in links:
        assert person_id in members[notes[entry_id].case_id]
    for n in notes.values():
        if n.child_perspective:
            linked = [p for e, p in links if e == n.id]
            assert linked and all(age_on(birth[p], n.occurred_at.date()) < 21 for p in linked)
        if n.corrects_id is not None:
            original = notes[n.corrects_id]
            assert original.case_id == n.case_id and original.occurred_at <= n.occurred_at
    assert consents
    for consent in consents:
        assert consent.person_id in members[consent.case_id]  # type: ignore[index]


def test_search_columns_are_what_set_names_stores(seeded: Database) -> None:
    with seeded.begin() as s:
        persons = s.scalars(select(Person)).all()
        assert any(ch in p.last_name for p in persons for ch in "åäöÅÄÖ")
        for p in persons:
            expected = Person()
            set_names(expected, p.first_name, p.last_name)
            got = (p.search_first, p.search_last, p.search_full, p.search_full_rev, p.sort_key)
            want = (
                expected.search_first,
                expected.search_last,
                expected.search_full,
                expected.search_full_rev,
                expected.sort_key,
            )
            assert got == want, (p.first_name, p.last_name)

        # The register finds a demo case by applicant name and by personnummer.
        case, applicant = s.execute(
            select(Case, Person)
            .join(HouseholdMember, HouseholdMember.case_id == Case.id)
            .join(Person, Person.id == HouseholdMember.person_id)
            .where(
                HouseholdMember.role == MemberRole.APPLICANT.value,
                Person.personal_id.is_not(None),
            )
            .order_by(Case.case_number)
            .limit(1)
        ).one()
        by_name = search_cases(
            s, RegisterFilter(text=f"{applicant.last_name} {applicant.first_name}")
        )
        assert case.case_number in {r.case_number for r in by_name}
        short = applicant.personal_id[2:8] + "-" + applicant.personal_id[8:]  # type: ignore[index]
        assert [r.case_number for r in search_cases(s, RegisterFilter(text=short))] == [
            case.case_number
        ]


def test_case_numbers_follow_opening_dates_and_the_counter_continues(
    seeded: Database, actor: Actor
) -> None:
    with seeded.begin() as s:
        cases = s.scalars(select(Case).order_by(Case.number_year, Case.number_seq)).all()
        counters = {c.year: c.last_seq for c in s.scalars(select(CaseNumberCounter))}
        unit_id = s.scalars(select(Unit.id)).one()
    by_year: dict[int, list[Case]] = defaultdict(list)
    for c in cases:
        m = CASE_NUMBER.match(c.case_number)
        assert m, c.case_number
        assert c.case_number == format_case_number(c.number_year, c.number_seq)
        assert int(m.group(1)) == c.number_year == c.opened_on.year
        by_year[c.number_year].append(c)
    assert len(by_year) >= 4
    for year, group in by_year.items():
        assert [c.number_seq for c in group] == list(range(1, len(group) + 1))
        assert [c.opened_on for c in group] == sorted(c.opened_on for c in group)
        assert counters[year] == len(group)

    with seeded.begin() as s:
        created = create_case_in(
            s,
            actor,
            CaseInput(
                unit_id=unit_id,
                opened_on=AS_OF,
                members=[
                    MemberInput(
                        role=MemberRole.APPLICANT,
                        person=PersonInput(
                            first_name="Ny", last_name="Sökande", birth_date=date(1990, 5, 5)
                        ),
                    )
                ],
            ),
            today=AS_OF,
        )
        number = created.case_number
    assert number == format_case_number(AS_OF.year, counters[AS_OF.year] + 1)


def test_refuses_a_database_that_already_has_cases(db: Database, actor: Actor) -> None:
    _seed(db, actor, cases=20)
    with db.begin() as s:
        persons = s.scalar(select(func.count()).select_from(Person))
    with pytest.raises(ValidationError) as err:
        _seed(db, actor, cases=20)
    assert err.value.errors[0].field == "databas"
    assert "tom databas" in err.value.message
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 20
        assert s.scalar(select(func.count()).select_from(Person)) == persons
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_refuses_a_database_with_one_real_case(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    with db.begin() as s:
        create_case_in(
            s,
            actor,
            CaseInput(
                unit_id=unit_id,
                opened_on=date(2026, 1, 5),
                members=[
                    MemberInput(
                        role=MemberRole.APPLICANT,
                        person=PersonInput(
                            first_name="Karin", last_name="Nyström", birth_date=date(1978, 2, 14)
                        ),
                    )
                ],
            ),
            today=AS_OF,
        )
    with pytest.raises(ValidationError, match="demodata skapas bara i en tom databas"):
        _seed(db, actor, cases=5)
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 1
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_one_audit_event_with_counts_only(db: Database, actor: Actor) -> None:
    result = _seed(db, actor, cases=40)
    with db.begin() as s:
        events = s.scalars(select(AuditEvent)).all()
        names = set(s.scalars(select(Person.last_name)))
    assert [e.action for e in events] == ["seed_demo"]
    detail = json.loads(events[0].detail)
    assert detail == {
        "cases": 40,
        "persons": result.persons,
        "members": result.members,
        "notes": result.notes,
        "months": result.months,
        "users": result.users,
    }
    assert events[0].actor == actor.username
    assert not any(name in events[0].detail for name in names)


def test_progress_is_reported_up_to_the_total(
    db: Database, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "CHUNK_CASES", 100)
    calls: list[tuple[int, int]] = []
    seed_demo(
        db,
        actor,
        cases=250,
        seed=3,
        as_of=AS_OF,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(0, 250), (100, 250), (200, 250), (250, 250)]


def test_bulk_load_leaves_every_index_and_constraint_as_it_was(db: Database, actor: Actor) -> None:
    before = _schema(db)
    assert any("ix_support_month_month" in str(r) for r in before)
    _seed(db, actor, cases=50)
    assert _schema(db) == before


@pytest.mark.parametrize("where", ["generating", "writing"])
def test_a_failed_run_leaves_the_database_as_it_was(
    db: Database, actor: Actor, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    before = _schema(db)
    monkeypatch.setattr(demo, "CHUNK_CASES", 100)
    calls = {"n": 0}

    def fail_later(*args: object) -> None:
        calls["n"] += 1
        if calls["n"] > (150 if where == "generating" else 12):  # after a chunk is written
            raise RuntimeError("boom")
        original(*args)

    if where == "generating":
        original = demo._Generator.case
        monkeypatch.setattr(demo._Generator, "case", fail_later)
    else:
        name = "_sqlite_write" if db.is_sqlite else "_copy_write"
        original = getattr(demo, name)
        monkeypatch.setattr(demo, name, fail_later)
    with pytest.raises(RuntimeError, match="boom"):
        seed_demo(db, actor, cases=250, seed=1, as_of=AS_OF)
    with db.begin() as s:
        for model in (Case, Person, User, Unit, SupportMonth, AuditEvent, CaseNumberCounter):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model
    assert _schema(db) == before
    if db.is_sqlite:
        assert _file_journal(db) == "wal"  # the bulk load's rollback journal is undone too
    monkeypatch.undo()
    assert _seed(db, actor, cases=10).cases == 10  # and it can simply be run again


def _file_journal(db: Database) -> str:
    """The journal mode stored in the SQLite file (read without Fokus's connect hook)."""
    path = db.engine.url.database
    assert path
    with open(path, "rb") as f:
        header = f.read(20)
    return {1: "rollback", 2: "wal"}[header[18]]


def test_sqlite_seeds_with_a_rollback_journal_and_returns_to_wal(
    sqlite_url: str, actor: Actor
) -> None:
    # WAL would write every page twice (log, then checkpoint); the seeding's one
    # transaction runs with a rollback journal instead, and the file is WAL again after.
    db = open_database(sqlite_url)
    try:
        assert _file_journal(db) == "wal"
        during: list[str] = []
        result = seed_demo(
            db,
            actor,
            cases=30,
            seed=1,
            as_of=AS_OF,
            phase=lambda name, _wall, _cpu: during.append(_file_journal(db)),
        )
        assert set(during[:-1]) == {"rollback"} and during[-1] == "wal", during  # analyze
        assert _file_journal(db) == "wal"
        names = [name for name, _wall, _cpu in result.phases]
        assert names[:3] == ["setup", "drop indexes", "generate rows"]
        assert {"write rows", "commit", "analyze"} <= set(names)
        assert all(wall >= 0 and cpu >= 0 for _name, wall, cpu in result.phases)
    finally:
        db.dispose()


def test_refuses_a_postgresql_driver_without_copy(actor: Actor) -> None:
    dialect = SimpleNamespace(name="postgresql", driver="pg8000")
    db = Database(engine=SimpleNamespace(dialect=dialect), sessions=None, url="")  # type: ignore[arg-type]
    with pytest.raises(DatabaseUnavailableError, match="psycopg"):
        seed_demo(db, actor, cases=1, seed=1, as_of=AS_OF)


def test_zero_cases_still_makes_the_unit_and_users(db: Database, actor: Actor) -> None:
    result = _seed(db, actor, cases=0)
    assert (result.cases, result.persons, result.notes, result.months) == (0, 0, 0, 0)
    assert result.users == 5
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 5


def test_the_generator_writes_every_required_column() -> None:
    for name, cols in demo.COLUMNS.items():
        table = Base.metadata.tables[name]
        assert set(cols) <= set(table.c.keys()), name
        required = {c.name for c in table.columns if not c.nullable and c.server_default is None}
        assert required <= set(cols), (name, required - set(cols))
        assert len(cols) == len(set(cols))
    # Parents come before the rows that point at them.
    order = list(demo.TABLE_ORDER)
    for name in order:
        for fk in Base.metadata.tables[name].foreign_keys:
            parent = fk.column.table.name
            if parent in order and parent != name:
                assert order.index(parent) < order.index(name), (parent, name)


def test_summary_line() -> None:
    result = SeedResult(
        cases=100000,
        persons=230123,
        members=230123,
        notes=800456,
        months=2400123,
        users=1500,
        consents=1,
        support_reasons=1,
        plan_goals=1,
        seconds=84.23,
    )
    assert result.summary() == (
        "100000 ärenden, 230123 personer, 800456 anteckningar, 2400123 månader på 84,2 s"
    )


def test_orm_reads_the_bulk_rows(seeded: Database) -> None:
    """Rows written past the ORM load as the ORM wrote them: UUIDs, dates, aware times."""
    with seeded.begin() as s:
        case = s.scalars(select(Case).order_by(Case.case_number).limit(1)).one()
        assert isinstance(case.id, uuid.UUID) and isinstance(case.opened_on, date)
        assert case.created_at.tzinfo is not None and case.created_at <= case.updated_at
        assert case.members and all(isinstance(m.person, Person) for m in case.members)
        assert s.get(Case, case.id) is case
        note = s.scalars(select(ContactEntry).where(ContactEntry.case_id == case.id)).first()
        assert note is not None and note.is_signed
        assert inspect(note).persistent


def test_cli_seed_demo_then_case_list(sqlite_url: str) -> None:
    seed = subprocess.run(
        [
            sys.executable,
            "main.py",
            "seed-demo",
            "--cases",
            "50",
            "--seed",
            "3",
            "--as-of",
            "2026-11-01",
            "--url",
            sqlite_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seed.returncode == 0, seed.stderr
    assert re.fullmatch(
        r"50 ärenden, \d+ personer, \d+ anteckningar, \d+ månader på \d+,\d s\n", seed.stdout
    )
    assert "50/50 ärenden" in seed.stderr

    listed = subprocess.run(
        [sys.executable, "main.py", "case", "list", "--url", sqlite_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 50
    for line in lines:
        fields = line.split("\t")
        assert len(fields) >= 4, line
        assert CASE_NUMBER.match(fields[0]) and fields[1].strip()

    again = subprocess.run(
        [sys.executable, "main.py", "seed-demo", "--cases", "5", "--url", sqlite_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 1
    assert "tom databas" in again.stderr


def test_seeding_leaves_planner_statistics(sqlite_url: str) -> None:
    """A bulk load without statistics gives SQLite poor plans (status filter 500 ms vs 15 ms)."""
    db = open_database(sqlite_url)
    try:
        seed_demo(db, Actor.cli(), cases=30, seed=1, as_of=date(2026, 11, 1))
        with db.engine.connect() as conn:
            tables = set(conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars())
    finally:
        db.dispose()
    assert {"fs_case", "person", "household_member", "support_month"} <= tables


@pytest.mark.postgres
def test_seeding_vacuums_postgresql(pg_url: str) -> None:
    """After the bulk load PostgreSQL is vacuumed as well as analysed: no dead rows left
    by the load (the follow-up dates are rebuilt), and the visibility map that lets
    index-only scans skip the table, even where autovacuum is off."""
    db = open_database(pg_url)
    try:
        seed_demo(db, Actor.cli(), cases=200, seed=1, as_of=date(2026, 11, 1))
        with db.engine.connect() as conn:
            pages = conn.exec_driver_sql(
                "SELECT relname, relpages, relallvisible FROM pg_class "
                "WHERE relname IN ('fs_case', 'case_follow_up', 'household_member')"
            ).all()
            analysed = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stats WHERE tablename = 'fs_case'"
            ).scalar_one()
    finally:
        db.dispose()
    assert len(pages) == 3 and analysed > 0
    for name, relpages, all_visible in pages:
        assert relpages > 0 and all_visible == relpages, (name, relpages, all_visible)
