"""Sorting the register in SQL: applicant in Swedish order and personnummer, by keyset,
on SQLite and PostgreSQL; the per-case sort keys equal what the raw rows say.

``case_sort_key`` (models/sort_keys.py) holds each case's applicant sort key and
personnummer so that a window is an index range. These tests check the order
(Å, Ä, Ö after Z; Å before Ä before Ö), that keyset windows and skips walk it
without repeating or skipping, and that the table follows edits made through
the services and a bulk seeding, compared with the computation from the raw
cases, members and persons.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select

from models import Case, CaseSortKey, HouseholdMember, Person
from models.codes import MemberRole
from models.sort_keys import keys_query
from services.audit import Actor
from services.cases import CaseService, MemberInput
from services.db import Database
from services.demo import seed_demo
from services.persons import PersonInput
from services.register import RegisterRow, RegisterService, RegisterSort
from services.search import RegisterFilter
from tests.factories import make_case

A, C = MemberRole.APPLICANT, MemberRole.CHILD
TODAY = date(2026, 6, 15)


def _pid(birth: str, serial: str) -> str:
    """A valid personnummer (Luhn check digit) for ``birth`` YYYYMMDD and a 3-digit serial."""
    total = 0
    for i, ch in enumerate(birth[2:] + serial):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return f"{birth}-{serial}{(10 - total % 10) % 10}"


# (first, last, birth): given in no order; the expected order is by last name.
PEOPLE = [
    ("Olle", "Öberg", "19700101"),
    ("Zara", "Zander", "19800505"),
    ("Ärla", "Ärlig", "19650303"),
    ("Anna", "Andersson", "19900909"),
    ("Åke", "Åberg", "19550707"),
    ("Bo", "Berg", "19851111"),
    ("Émile", "Ek", "19750606"),
]
SWEDISH_ORDER = ["Andersson", "Berg", "Ek", "Zander", "Åberg", "Ärlig", "Öberg"]


def _walk(
    service: RegisterService, sort: RegisterSort, *, descending: bool, size: int
) -> list[RegisterRow]:
    rows: list[RegisterRow] = []
    key = None
    while batch := service.window(RegisterFilter(), key, size, descending=descending, sort=sort):
        rows += batch
        key = batch[-1].key
    return rows


def _table(db: Database) -> dict[uuid.UUID, tuple[str, str]]:
    with db.begin() as s:
        return {r.case_id: (r.applicant, r.personal_id) for r in s.scalars(select(CaseSortKey))}


def _computed(db: Database) -> dict[uuid.UUID, tuple[str, str]]:
    with db.begin() as s:
        return {r[0]: (r[1], r[2]) for r in s.execute(keys_query())}


def _version(db: Database, case_id: uuid.UUID) -> int:
    with db.begin() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.version


def _make(db: Database, actor: Actor, unit_id: uuid.UUID) -> dict[str, uuid.UUID]:
    cases = CaseService(db=db, actor=actor)
    made = {}
    for i, (first, last, birth) in enumerate(PEOPLE):
        person = PersonInput(first_name=first, last_name=last, personal_id=_pid(birth, "123"))
        ref = make_case(cases, unit_id, (A, person), opened_on=date(2024, 1, 2 + i))
        made[last] = ref.id
    return made


def test_applicant_order_is_swedish_and_keyset_windows_walk_it(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    _make(db, actor, unit_id)
    service = RegisterService(db=db, today=lambda: TODAY)
    up = _walk(service, RegisterSort.APPLICANT, descending=False, size=2)
    assert [r.applicant_name.split()[-1] for r in up] == SWEDISH_ORDER
    down = _walk(service, RegisterSort.APPLICANT, descending=True, size=3)
    assert down == up[::-1]
    # A skip lands where walking would: rows 3 and 4, and from the end.
    skipped = service.window(RegisterFilter(), None, 2, sort=RegisterSort.APPLICANT, skip=3)
    assert skipped == up[3:5]
    back = service.window(
        RegisterFilter(), None, 2, descending=True, sort=RegisterSort.APPLICANT, skip=1
    )
    assert back == up[::-1][1:3]
    # Personnummer: in date-of-birth order (all of the 1900s here).
    by_pid = _walk(service, RegisterSort.PERSONAL_ID, descending=False, size=4)
    births = [r.personal_id for r in by_pid]
    assert births == sorted(births) and len(births) == len(PEOPLE)
    assert by_pid[0].applicant_name == "Åke Åberg"  # born 1955
    # Case-number order is unchanged and the same rows.
    by_number = _walk(service, RegisterSort.NUMBER, descending=False, size=5)
    assert {r.id for r in by_number} == {r.id for r in up}
    assert [r.key for r in by_number] == sorted(r.key for r in by_number)


def test_sort_keys_follow_edits_and_equal_the_raw_rows(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    made = _make(db, actor, unit_id)
    assert _table(db) == _computed(db)
    assert len(_table(db)) == len(PEOPLE)
    cases = CaseService(db=db, actor=actor)
    # Renaming the applicant moves the case: Berg becomes Östlund, after Öberg.
    with db.begin() as s:
        berg = s.scalars(
            select(Person)
            .join(HouseholdMember, HouseholdMember.person_id == Person.id)
            .where(HouseholdMember.case_id == made["Berg"])
        ).one()
        berg_id, version = berg.id, berg.version
    cases.update_person(
        berg_id,
        version,
        PersonInput(first_name="Bo", last_name="Östlund", personal_id=_pid("19851111", "123")),
    )
    # A child added to a household changes no key.
    child = PersonInput(first_name="Öjvind", last_name="Zander", birth_date=date(2015, 1, 1))
    cases.add_member(
        made["Zander"], _version(db, made["Zander"]), MemberInput(role=C, person=child)
    )
    assert _table(db) == _computed(db)
    service = RegisterService(db=db, today=lambda: TODAY)
    names = [
        r.applicant_name.split()[-1]
        for r in _walk(service, RegisterSort.APPLICANT, descending=False, size=10)
    ]
    assert names == ["Andersson", "Ek", "Zander", "Åberg", "Ärlig", "Öberg", "Östlund"]


def test_sort_keys_after_bulk_seeding_equal_the_raw_rows(db: Database) -> None:
    seed_demo(db, Actor.cli(), cases=60, seed=5, as_of=TODAY)
    table = _table(db)
    assert len(table) == 60
    assert table == _computed(db)
    assert sum(1 for a, _p in table.values() if a) >= 55  # applicants found, not all ""


def test_every_order_walks_its_index_without_sorting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite: each order's first window and skip read an index range, with no sort step,
    also for an arbetsledare's scope (its unit/emergency OR once made SQLite sort every case)."""
    from sqlalchemy import event

    from models.codes import Role
    from services.bench import bench_user
    from services.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        seed_demo(db, Actor.cli(), cases=40, seed=3, as_of=TODAY)
        user = bench_user(db)
        assert user.role is Role.TEAM_LEADER
        service = RegisterService(db=db, today=lambda: TODAY, actor=user.actor)
        statements: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, params, _context, _many) -> None:  # type: ignore[no-untyped-def]
            statements.append((statement, params))

        event.listen(db.engine, "before_cursor_execute", capture)
        expected_index = {
            RegisterSort.NUMBER: "sqlite_autoindex_fs_case_3",
            RegisterSort.APPLICANT: "ix_case_sort_key_applicant",
            RegisterSort.PERSONAL_ID: "ix_case_sort_key_personal_id",
        }
        for sort, index in expected_index.items():
            for skip in (0, 7):
                statements.clear()
                assert service.window(RegisterFilter(), None, 10, sort=sort, skip=skip)
                for sql, params in statements:
                    if not sql.lstrip().startswith("SELECT"):
                        continue
                    with db.begin() as s:
                        plan = "\n".join(
                            row[3]
                            for row in s.connection().exec_driver_sql(
                                "EXPLAIN QUERY PLAN " + sql, params
                            )
                        )
                    assert "TEMP B-TREE" not in plan, (sort, plan)
                    assert index in plan, (sort, plan)
        event.remove(db.engine, "before_cursor_execute", capture)
    finally:
        db.dispose()


@pytest.mark.parametrize("walk_from", [5000, 0], ids=["chosen", "walk-every-name"])
def test_a_search_in_a_sorted_order_is_the_sorted_register_filtered(
    db: Database, walk_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search sorted by applicant or personnummer (its window's keys found first, then
    its rows): window by window, both directions, the same rows as the whole register in
    that order kept to the cases the search matches, as an arbetsledare and unscoped.
    Common names walk the order's index on SQLite; at 0 every name does."""
    from services import register
    from services.bench import bench_user
    from services.search import search_cases

    monkeypatch.setattr(register, "SORTED_WALK_ENTRIES", walk_from)

    seed_demo(db, Actor.cli(), cases=120, seed=9, as_of=TODAY)
    leader = bench_user(db).actor
    with db.begin() as s:
        case = s.scalars(select(Case).order_by(Case.number_seq).limit(1)).one()
        pid = s.scalar(select(Person.personal_id).where(Person.personal_id.is_not(None)))
        last = s.scalar(select(Person.last_name).order_by(Person.last_name).limit(1))
    assert pid is not None and last is not None
    texts = ["a", "m", "ö", last[:3], case.case_number, pid, pid[2:8], "zzz"]
    for actor in (leader, None):
        service = RegisterService(db=db, today=lambda: TODAY, actor=actor)
        for sort in (RegisterSort.APPLICANT, RegisterSort.PERSONAL_ID):
            for descending in (False, True):
                whole = _walk_filtered(service, RegisterFilter(), sort, descending, size=50)
                for text in texts:
                    with db.begin() as s:
                        hits = {r.id for r in search_cases(s, RegisterFilter(text=text))}
                    expected = [r for r in whole if r.id in hits]
                    got = _walk_filtered(
                        service, RegisterFilter(text=text), sort, descending, size=7
                    )
                    assert got == expected, (text, sort, descending, actor)
    assert any(
        _walk_filtered(service, RegisterFilter(text=t), RegisterSort.APPLICANT, False, size=7)
        for t in texts
    )


def _walk_filtered(
    service: RegisterService,
    flt: RegisterFilter,
    sort: RegisterSort,
    descending: bool,
    *,
    size: int,
) -> list[RegisterRow]:
    rows: list[RegisterRow] = []
    key = None
    while batch := service.window(flt, key, size, descending=descending, sort=sort):
        rows += batch
        key = batch[-1].key
    return rows
