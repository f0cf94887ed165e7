"""The register's search windows give the same cases whichever plan finds them.

``services.search.search_window_ids`` finds a search's window either from the
list of every matching person ("list") or from the search-term table's range
for the prefix ("terms", models/search_terms.py), chosen by who searches. Here
both plans, and the chosen one, are checked against a brute-force filter in Python over a
real seeded database (SQLite and PostgreSQL): many name prefixes with and
without å/ä/ö, upper and lower case, "förnamn e", windows paged by key in
both directions, with quick filters and as an arbetsledare and a caseworker.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from models import Case, HouseholdMember, Person, User
from models.codes import CaseStatus, Role
from services.access import case_scope_condition
from services.audit import Actor
from services.db import Database
from services.demo import seed_demo
from services.register import RegisterService
from services.search import (
    LIST,
    TERMS,
    RegisterFilter,
    choose_strategy,
    name_prefix,
    search_cases,
    search_window_ids,
)
from services.text import search_fold

AS_OF = date(2026, 6, 30)
TODAY = date(2026, 7, 1)
CASES = 300


@dataclass
class World:
    db: Database
    # case id -> (number_year, number_seq)
    keys: dict[uuid.UUID, tuple[int, int]]
    # case id -> the four search forms of every person who was ever a member
    names: dict[uuid.UUID, list[tuple[str, str, str, str]]]
    leader: Actor
    caseworker: Actor


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    seed_demo(db, Actor.cli(), cases=CASES, seed=23, as_of=AS_OF)
    with db.begin() as s:
        keys = {
            r[0]: (r[1], r[2])
            for r in s.execute(select(Case.id, Case.number_year, Case.number_seq))
        }
        names: dict[uuid.UUID, list[tuple[str, str, str, str]]] = defaultdict(list)
        rows = s.execute(
            select(
                HouseholdMember.case_id,
                Person.search_first,
                Person.search_last,
                Person.search_full,
                Person.search_full_rev,
            ).join(Person, Person.id == HouseholdMember.person_id)
        )
        for case_id, *forms in rows:
            names[case_id].append(tuple(forms))  # type: ignore[arg-type]
        leader = (
            s.execute(select(User).where(User.role == Role.TEAM_LEADER.value)).scalars().first()
        )
        worker = s.scalar(
            select(User)
            .join(Case, Case.caseworker_id == User.id)
            .where(User.role == Role.CASEWORKER.value)
            .limit(1)
        )
        assert leader is not None and worker is not None
        actors = [
            Actor(username=u.username, role=Role(u.role), user_id=u.id, workstation="test")
            for u in (leader, worker)
        ]
    yield World(db, keys, names, actors[0], actors[1])


def _queries(world: World) -> list[str]:
    """Prefixes of the data's own names: 1-6 letters, åäö, upper case, two words."""
    rng = random.Random(5)
    forms = sorted({f for persons in world.names.values() for f in persons})
    out = {"a", "m", "ö", "Å", "zzz", "x y", "ander", "Nyström", "lindqvist e"}
    for first, last, _full, _rev in rng.sample(forms, 40):
        out.add(first[: rng.randint(1, 6)])
        out.add(last[: rng.randint(2, 6)].upper())
        out.add(f"{first} {last[:1]}")
        out.add(f"{last} {first[:2]}".title())
    swedish = [f for f in forms if any(c in "åäö" for c in f[0] + f[1])]
    for first, last, _full, _rev in swedish[:15]:
        word = last if any(c in "åäö" for c in last) else first
        cut = max(i for i, c in enumerate(word) if c in "åäö") + 1
        out.add(word[:cut])
    return sorted(out)


def _expected(world: World, text: str, visible: set[uuid.UUID] | None) -> list[uuid.UUID]:
    folded = search_fold(text)
    hits = [
        case_id
        for case_id, persons in world.names.items()
        if any(form.startswith(folded) for person in persons for form in person)
        and (visible is None or case_id in visible)
    ]
    return sorted(hits, key=lambda c: world.keys[c])


def _visible(world: World, actor: Actor) -> set[uuid.UUID]:
    with world.db.begin() as s:
        return set(s.scalars(select(Case.id).where(case_scope_condition(actor, None))))


def _paged(
    world: World,
    flt: RegisterFilter,
    *,
    strategy: str | None,
    descending: bool,
    actor: Actor | None,
    limit: int = 7,
) -> list[uuid.UUID]:
    """Every matching case, window by window (each window starting after the last key).

    ``strategy`` None: the register's own windows (the plan it chooses; on
    PostgreSQL a caseworker's is its one statement).
    """
    out: list[uuid.UUID] = []
    after = None
    if strategy is None:
        service = RegisterService(db=world.db, today=lambda: TODAY, actor=actor)
        while True:
            rows = service.window(flt, after, limit, descending=descending)
            out += [r.id for r in rows]
            if len(rows) < limit:
                return out
            after = rows[-1].key
    with world.db.begin() as s:
        while True:
            ids = search_window_ids(
                s,
                flt,
                after=after,
                limit=limit,
                today=TODAY,
                descending=descending,
                actor=actor,
                strategy=strategy,
            )
            assert ids is not None
            out += ids
            if len(ids) < limit:
                return out
            after = world.keys[ids[-1]]


def test_both_plans_find_exactly_the_brute_force_cases(world: World) -> None:
    queries = _queries(world)
    assert len(queries) > 60
    nonempty = 0
    for text in queries:
        expected = _expected(world, text, None)
        nonempty += bool(expected)
        for strategy in (LIST, TERMS, None):
            got = _paged(
                world, RegisterFilter(text=text), strategy=strategy, descending=False, actor=None
            )
            assert got == expected, (text, strategy)
        newest_first = _paged(
            world, RegisterFilter(text=text), strategy=TERMS, descending=True, actor=None
        )
        assert newest_first == expected[::-1], text
    assert nonempty > 50  # the prefixes come from the data: most of them find cases


def test_the_plans_agree_with_the_access_scope_and_quick_filters(world: World) -> None:
    leader_sees = _visible(world, world.leader)
    worker_sees = _visible(world, world.caseworker)
    assert 0 < len(worker_sees) < len(leader_sees) <= CASES
    texts = ["a", "m", "ö", "ander", "lindqvist e", *_queries(world)[::7]]
    texts = [t for t in texts if name_prefix(t) is not None]
    for text in texts:
        for actor, visible in ((world.leader, leader_sees), (world.caseworker, worker_sees)):
            expected = _expected(world, text, visible)
            for strategy in (LIST, TERMS, None):
                got = _paged(
                    world,
                    RegisterFilter(text=text),
                    strategy=strategy,
                    descending=True,
                    actor=actor,
                )
                assert got == expected[::-1], (text, actor.role, strategy)
    # Quick filters with a search: both plans give what the old single query gave.
    filters = [
        RegisterFilter(text="a", status=CaseStatus.ONGOING),
        RegisterFilter(text="m", focus_only=True),
        RegisterFilter(text="e", child_family=True),
        RegisterFilter(text="s", long_term=True),
        RegisterFilter(text="an", caseworker_id=world.caseworker.user_id),
        # Few cases pass: the term plan's first batch is not enough, it reads on.
        RegisterFilter(text="a", focus_only=True, long_term=True, child_family=True),
    ]
    for flt in filters:
        with world.db.begin() as s:
            reference = [r.id for r in search_cases(s, flt, actor=world.leader)]
        for strategy in (LIST, TERMS, None):
            got = _paged(
                world, flt, strategy=strategy, descending=False, actor=world.leader, limit=5
            )
            assert set(got) == set(reference) and len(got) == len(reference), (flt, strategy)
            assert got == sorted(got, key=lambda c: world.keys[c])


def test_numbers_keep_the_one_statement_window(world: World) -> None:
    """A number finds a case or a few: no plan is chosen, the register's one statement runs."""
    with world.db.begin() as s:
        case = s.scalars(select(Case).order_by(Case.number_seq).limit(1)).one()
        number, year, seq = case.case_number, case.number_year, case.number_seq
        pid = s.scalar(select(Person.personal_id).where(Person.personal_id.is_not(None)).limit(1))
    assert pid is not None
    service = RegisterService(db=world.db, today=lambda: TODAY)
    for text in (number, number.replace("-", ""), f"{year}{seq:05d}", pid, f"{pid[2:8]}-{pid[8:]}"):
        assert name_prefix(text) is None
        flt = RegisterFilter(text=text)
        with world.db.begin() as s:
            assert choose_strategy(s, flt, world.leader) == LIST
            after = None
            assert search_window_ids(s, flt, after=after, limit=5, today=TODAY) is None
            reference = [r.id for r in search_cases(s, flt)]
        assert reference and [r.id for r in service.window(flt)] == reference


def test_names_read_the_terms_and_caseworkers_and_numbers_list(world: World) -> None:
    with world.db.begin() as s:
        assert choose_strategy(s, RegisterFilter(text="a"), world.leader) == TERMS
        assert choose_strategy(s, RegisterFilter(text="a"), None) == TERMS
        assert choose_strategy(s, RegisterFilter(text="zzz"), world.leader) == TERMS
        assert choose_strategy(s, RegisterFilter(text="a"), world.caseworker) == LIST
        mine = RegisterFilter(text="a", caseworker_id=world.caseworker.user_id)
        assert choose_strategy(s, mine, world.leader) == LIST
        assert choose_strategy(s, RegisterFilter(text="FS-2026-00001"), world.leader) == LIST
        assert search_window_ids(s, RegisterFilter(), after=None, limit=5, today=TODAY) is None


def test_register_windows_of_a_search_match_the_plain_query(world: World) -> None:
    """RegisterService.window (ids first, then the rows) against the one-statement query."""
    service = RegisterService(db=world.db, today=lambda: TODAY, actor=world.leader)
    for text in ("a", "ö", "ander", "Lindqvist E"):
        flt = RegisterFilter(text=text)
        with world.db.begin() as s:
            reference = [(r.id, r.case_number) for r in search_cases(s, flt, actor=world.leader)]
        rows, after = [], None
        while True:
            window = service.window(flt, after, limit=9)
            rows += window
            if len(window) < 9:
                break
            after = window[-1].key
        assert [(r.id, r.case_number) for r in rows] == reference, text


def _digit_world(world: World) -> tuple[dict[uuid.UUID, set[str]], dict[uuid.UUID, set[str]]]:
    """Per case: the 12-digit personnummer of every person ever a member (their current
    and earlier ones), and the current ones alone. One person is given a new number first,
    so the earlier one is only in ``person_identifier``."""
    from models import PersonIdentifier
    from services.personal_id import parse_personal_id
    from services.persons import change_personal_id

    with world.db.begin() as s:
        person = s.scalars(
            select(Person).where(Person.personal_id.is_not(None)).order_by(Person.id).limit(1)
        ).one()
        change_personal_id(s, Actor.cli(), person, parse_personal_id("19920214-3211"))
    with world.db.begin() as s:
        members = s.execute(select(HouseholdMember.case_id, HouseholdMember.person_id)).all()
        current = dict(s.execute(select(Person.id, Person.personal_id)).tuples().all())
        earlier: dict[uuid.UUID, set[str]] = defaultdict(set)
        for pid, number in s.execute(
            select(PersonIdentifier.person_id, PersonIdentifier.personal_id)
        ):
            earlier[pid].add(number)
    now: dict[uuid.UUID, set[str]] = defaultdict(set)
    ever: dict[uuid.UUID, set[str]] = defaultdict(set)
    for case_id, person_id in members:
        if current.get(person_id):
            now[case_id].add(current[person_id])
            ever[case_id].add(current[person_id])
        ever[case_id] |= earlier[person_id]
    return now, ever


def _digit_expected(
    world: World, digits: str, now: dict[uuid.UUID, set[str]], ever: dict[uuid.UUID, set[str]]
) -> set[uuid.UUID]:
    """What a number search means, case by case in Python (services.search's docstring)."""
    n, hits = len(digits), set()
    for case_id, (year, seq) in world.keys.items():
        if n == 12:
            hit = digits in ever[case_id]
        elif n == 10:
            hit = any(p[2:] == digits for p in now[case_id])
        elif n >= 6:
            hit = any(
                (digits[:2] in ("19", "20") and p.startswith(digits)) or p[2:].startswith(digits)
                for p in now[case_id]
            )
        else:
            hit = False
        if n <= 5:
            hit = hit or seq == int(digits)
        elif n == 9 and digits[:2] in ("19", "20"):
            hit = hit or (year, seq) == (int(digits[:4]), int(digits[4:]))
        if hit:
            hits.add(case_id)
    return hits


def test_number_searches_find_exactly_the_brute_force_cases(world: World) -> None:
    """Personnummer whole, short, with dash, as prefixes, earlier ones; case-number digits."""
    now, ever = _digit_world(world)
    rng = random.Random(11)
    numbers = sorted({p for ps in now.values() for p in ps})
    texts = {"19920214-3211", "199202143211", "9202143211", "1", "12", "00042", "19", "2026"}
    earlier = sorted(set().union(*ever.values()) - set(numbers))
    assert earlier  # the changed person's earlier number is searched below
    texts.update(earlier)
    for p in rng.sample(numbers, 25):
        texts.update({p, p[2:], f"{p[:8]}-{p[8:]}", f"{p[2:8]}-{p[8:]}"})
        texts.update({p[: rng.randint(6, 11)], p[2 : rng.randint(8, 11)]})
    year, seq = next(iter(world.keys.values()))
    texts.add(f"{year}{seq:05d}")
    service = RegisterService(db=world.db, today=lambda: TODAY)
    found_any = 0
    for text in sorted(texts):
        digits = text.replace("-", "")
        expected = _digit_expected(world, digits, now, ever)
        with world.db.begin() as s:
            got = [r.id for r in search_cases(s, RegisterFilter(text=text))]
        assert set(got) == expected and len(got) == len(expected), text
        assert service.count(RegisterFilter(text=text)) == len(expected), text
        found_any += bool(expected)
    assert found_any > 50


@pytest.mark.postgres
def test_a_personnummer_search_seeks_its_cases_on_postgresql(pg_url: str) -> None:
    """The number search's statements read a few case rows, not every case: an OR across
    the person and their earlier numbers made PostgreSQL walk the register (540 ms at
    100,000 cases)."""
    import json

    from sqlalchemy import text as sql_text

    from services.bench import search_statements
    from services.db import open_database

    db = open_database(pg_url)
    try:
        seed_demo(db, Actor.cli(), cases=CASES, seed=23, as_of=AS_OF)
        with db.begin() as s:
            s.execute(sql_text("ANALYZE"))
            pid = s.scalar(select(Person.personal_id).where(Person.personal_id.is_not(None)))
            leader = s.scalars(select(User).where(User.role == Role.TEAM_LEADER.value)).first()
        assert pid is not None and leader is not None
        actor = Actor(leader.username, Role.TEAM_LEADER, leader.id, "test")
        for text in (pid, f"{pid[:8]}-{pid[8:]}", pid[2:]):
            read = 0
            for sql in search_statements(db, RegisterFilter(text=text), actor=actor):
                with db.begin() as s:
                    plan = s.execute(sql_text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")).scalar()
                read += _rows_read(plan if isinstance(plan, list) else json.loads(plan), "fs_case")
            assert 0 < read <= 20, (text, read)
    finally:
        db.dispose()


def _rows_read(plan: list[dict[str, object]], table: str) -> int:
    """Rows of ``table`` the plan's scans returned, over all their loops."""
    total = 0
    stack: list[dict[str, object]] = [plan[0]["Plan"]]  # type: ignore[list-item]
    while stack:
        node = stack.pop()
        if node.get("Relation Name") == table:
            total += int(node["Actual Rows"]) * int(node["Actual Loops"])  # type: ignore[call-overload]
        stack.extend(node.get("Plans", []))  # type: ignore[arg-type]
    return total


@pytest.mark.postgres
def test_the_term_window_checks_only_its_batch_of_cases_on_postgresql(pg_url: str) -> None:
    """A name's window checks the filters and the access scope on the batch's cases, one by
    key. As a join, PostgreSQL hashed every case the scope allows instead (50 ms at 100,000
    cases). Nested loops are switched off here to stand for that choice at a scale a
    test can seed: the batch's cases must still be read one by one, and no others."""
    import json

    from sqlalchemy import text as sql_text

    from services.db import open_database
    from services.search import _term_batch

    db = open_database(pg_url)
    try:
        seed_demo(db, Actor.cli(), cases=CASES, seed=23, as_of=AS_OF)
        with db.begin() as s:
            leader = s.scalars(select(User).where(User.role == Role.TEAM_LEADER.value)).first()
        assert leader is not None
        actor = Actor(leader.username, Role.TEAM_LEADER, leader.id, "test")
        batch, limit = 20, 5
        stmt = _term_batch(
            RegisterFilter(text="a"), "a", after=None, batch=batch, limit=limit, today=TODAY,
            descending=True, actor=actor, lateral=True,
        )  # fmt: skip
        sql = str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
        with db.begin() as s:
            s.execute(sql_text("SET LOCAL enable_nestloop = off"))
            ids = [r[0] for r in s.execute(sql_text(sql))]
            plan = s.execute(sql_text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")).scalar()
        read = _rows_read(plan if isinstance(plan, list) else json.loads(plan), "fs_case")
        assert len(ids) == limit
        assert limit <= read <= batch, read
        with db.begin() as s:
            reference = search_window_ids(
                s, RegisterFilter(text="a"), after=None, limit=limit, today=TODAY,
                descending=True, actor=actor, strategy=LIST,
            )  # fmt: skip
        assert ids == reference
    finally:
        db.dispose()


@pytest.mark.postgres
def test_only_the_whole_registers_window_reuses_one_plan_on_postgresql(pg_url: str) -> None:
    """Scrolling the whole register (a team leader's unit) plans its window statement once
    and reuses it; a quick filter and a caseworker's register keep a plan made for their
    own values at every window (services.db sets plan_cache_mode for that)."""
    from sqlalchemy import text as sql_text

    from services.db import open_database

    db = open_database(pg_url)
    try:
        seed_demo(db, Actor.cli(), cases=CASES, seed=23, as_of=AS_OF)
        with db.begin() as s:
            users = s.scalars(select(User)).all()
            leader = next(u for u in users if u.role == Role.TEAM_LEADER.value)
            worker = next(u for u in users if u.role == Role.CASEWORKER.value)
        as_leader = Actor(leader.username, Role.TEAM_LEADER, leader.id, "test")
        as_worker = Actor(worker.username, Role.CASEWORKER, worker.id, "test")

        def plans(actor: Actor, flt: RegisterFilter) -> tuple[int, int, int]:
            """(windows read, generic plans, custom plans) of 10 scrolled windows."""
            db.engine.dispose()  # a new connection: no statement prepared yet
            service = RegisterService(db=db, actor=actor, today=lambda: TODAY)
            rows, windows = service.window(flt, None, 2, descending=True), 1
            while rows and windows < 10:
                rows = service.window(flt, rows[-1].key, 2, descending=True)
                windows += 1
            with db.begin() as s:  # the same (only) connection of the pool
                generic, custom = s.execute(
                    sql_text(
                        "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
                        " FROM pg_prepared_statements WHERE statement LIKE '%LIMIT%'"
                    )
                ).one()
            return windows, int(generic), int(custom)

        windows, generic, custom = plans(as_leader, RegisterFilter())
        assert windows == 10 and generic >= 4 and custom == 0  # prepared from the fifth run on
        windows, generic, custom = plans(as_leader, RegisterFilter(status=CaseStatus.ONGOING))
        assert windows == 10 and generic == 0 and custom >= 4
        windows, generic, custom = plans(as_worker, RegisterFilter())
        assert windows >= 6 and generic == 0 and custom >= 1
    finally:
        db.dispose()
