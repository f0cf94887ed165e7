"""``search_term`` (models/search_terms.py) equals its definition from the raw rows.

The register's name search reads this table instead of the persons and
memberships (services/search.py, the "terms" plan), so a stale row would
hide a case from a search or show one that no longer matches. Here random
edits of every kind that touches a term — renames, members added, moved,
re-pointed and removed, case numbers changed (as sync does for offline
provisional numbers), through the ORM and through bulk statements, a
savepoint rolled back, a statement that cannot be traced — are each
followed by a comparison of the whole table with :func:`terms_query`, on
SQLite and PostgreSQL. Also: the migration's backfill gives the same rows,
the search's plan on SQLite reads the term index and never the person table,
and searches through the table still find exactly the brute-force cases.
"""

from __future__ import annotations

import random
import uuid
from datetime import date

from sqlalchemy import delete, event, insert, select, update

from models import Case, HouseholdMember, Person, SearchTerm
from models.codes import MemberRole
from models.search_terms import terms_query
from services.audit import Actor
from services.cases import CaseService, MemberInput
from services.db import Database, downgrade, upgrade
from services.demo import seed_demo
from services.persons import PersonInput, set_names
from services.search import (
    TERMS,
    RegisterFilter,
    name_condition,
    name_terms_condition,
    search_window_ids,
)
from services.text import search_fold

TODAY = date(2026, 6, 15)
FIRST = ["Åsa", "Örjan", "Anna", "Anna-Lena", "Bo", "Émile", "Lars Erik", "Märta", "Ülla"]
LAST = ["Öberg", "Andersson", "Berg", "Bergström", "Ek", "Åkesson", "von Ähr", "Zander"]


def _table(db: Database) -> set[tuple[str, int, int, uuid.UUID]]:
    with db.begin() as s:
        rows = s.execute(
            select(
                SearchTerm.term, SearchTerm.number_year, SearchTerm.number_seq, SearchTerm.case_id
            )
        )
        out = {tuple(r) for r in rows}
        return out  # type: ignore[return-value]


def _computed(db: Database) -> set[tuple[str, int, int, uuid.UUID]]:
    with db.begin() as s:
        return {tuple(r) for r in s.execute(terms_query())}  # type: ignore[misc]


def _raw_terms(db: Database) -> set[tuple[str, int, int, uuid.UUID]]:
    """The definition written out in Python: every form of every member's person, less a
    first or last name that is a prefix of the full form it begins."""
    with db.begin() as s:
        rows = s.execute(
            select(
                Person.search_first,
                Person.search_last,
                Person.search_full,
                Person.search_full_rev,
                Case.number_year,
                Case.number_seq,
                Case.id,
            )
            .select_from(HouseholdMember)
            .join(Person, Person.id == HouseholdMember.person_id)
            .join(Case, Case.id == HouseholdMember.case_id)
        ).all()
    out = set()
    for first, last, full, rev, year, seq, case_id in rows:
        for term in (full, rev):
            out.add((term, year, seq, case_id))
        if not full.startswith(first):
            out.add((first, year, seq, case_id))
        if not rev.startswith(last):
            out.add((last, year, seq, case_id))
    return out


def _check(db: Database, what: str) -> None:
    table = _table(db)
    assert table == _computed(db), what
    assert table == _raw_terms(db), what


def _ids(db: Database) -> tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID]]:
    with db.begin() as s:
        cases = list(s.scalars(select(Case.id).order_by(Case.id)))
        persons = list(s.scalars(select(Person.id).order_by(Person.id)))
        members = list(s.scalars(select(HouseholdMember.id).order_by(HouseholdMember.id)))
    return cases, persons, members


def test_terms_follow_random_edits_and_equal_the_raw_rows(db: Database) -> None:
    seed_demo(db, Actor.cli(), cases=30, seed=11, as_of=TODAY)
    _check(db, "after seeding")
    assert len(_table(db)) > 60
    rng = random.Random(8)
    next_seq = 90_000
    for step in range(40):
        cases, persons, members = _ids(db)
        kind = step % 10
        with db.begin() as s:
            if kind == 0:  # rename through the ORM
                person = s.get(Person, rng.choice(persons))
                assert person is not None
                set_names(person, rng.choice(FIRST), rng.choice(LAST))
            elif kind == 1:  # an existing person joins another household
                s.add(
                    HouseholdMember(
                        case_id=rng.choice(cases),
                        person_id=rng.choice(persons),
                        role=MemberRole.OTHER_ADULT.value,
                        valid_from=TODAY,
                    )
                )
            elif kind == 2:  # a membership moves to another case and person
                member = s.get(HouseholdMember, rng.choice(members))
                assert member is not None
                member.case_id = rng.choice(cases)
                member.person_id = rng.choice(persons)
            elif kind == 3:  # a membership removed
                member = s.get(HouseholdMember, rng.choice(members))
                s.delete(member)
            elif kind == 4:  # renumbered by a bulk statement, as sync numbers a laptop's case
                next_seq += 1
                s.execute(
                    update(Case)
                    .where(Case.id == rng.choice(cases))
                    .values(
                        case_number=f"FS-2026-{next_seq}", number_year=2026, number_seq=next_seq
                    )
                )
            elif kind == 5:  # renumbered through the ORM
                case = s.get(Case, rng.choice(cases))
                assert case is not None
                next_seq += 1
                case.number_seq = next_seq
            elif kind == 6:  # names changed by a bulk statement
                first, last = rng.choice(FIRST), rng.choice(LAST)
                s.execute(
                    update(Person)
                    .where(Person.id.in_(rng.sample(persons, 3)))
                    .values(
                        search_first=search_fold(first),
                        search_last=search_fold(last),
                        search_full=search_fold(f"{first} {last}"),
                        search_full_rev=search_fold(f"{last} {first}"),
                    )
                )
            elif kind == 7:  # members inserted and re-pointed in bulk, as sync does
                s.execute(
                    insert(HouseholdMember),
                    [
                        {
                            "id": uuid.uuid4(),
                            "case_id": rng.choice(cases),
                            "person_id": rng.choice(persons),
                            "role": MemberRole.CHILD.value,
                            "valid_from": TODAY,
                        }
                        for _ in range(3)
                    ],
                )
                old, new = rng.sample(persons, 2)
                s.execute(
                    update(HouseholdMember)
                    .where(HouseholdMember.person_id == old)
                    .values(person_id=new)
                )
            elif kind == 8:  # a savepoint rolled back after a refresh, then another rename
                person_id = rng.choice(persons)
                nested = s.begin_nested()
                person = s.get(Person, person_id)
                assert person is not None
                set_names(person, "Xerxes", "Xylander")
                from models import search_terms

                search_terms.sync(s)  # refreshed inside the savepoint …
                nested.rollback()  # … and undone with it
                member = s.get(HouseholdMember, rng.choice(members))
                s.execute(delete(HouseholdMember).where(HouseholdMember.id == member.id))
            else:  # a statement that cannot be traced (no WHERE): the whole table is rebuilt
                s.execute(update(Person).values(search_last="zzz"))
        _check(db, f"step {step}, kind {kind}")
    # Edits through the services, as the case window makes them.
    cases_service = CaseService(db=db, actor=Actor.cli())
    cases, _persons, _members = _ids(db)
    with db.begin() as s:
        case = s.get(Case, cases[0])
        assert case is not None
        version = case.version
    cases_service.add_member(
        cases[0],
        version,
        MemberInput(
            role=MemberRole.CHILD,
            person=PersonInput(first_name="Östen", last_name="Åhl", birth_date=date(2015, 3, 3)),
        ),
    )
    _check(db, "a member added through CaseService")
    # And as conditions: the term range finds the cases the person columns find.
    with db.begin() as s:
        forms = s.execute(select(Person.search_first, Person.search_last)).all()
        prefixes = {"a", "ö", "zzz", "anna l", "von ä", "berg"}
        for first, last in forms:
            prefixes.update({first[:1], first[:3], last[:2], f"{first} {last[:1]}"})
        for prefix in sorted(prefixes):
            members = (
                select(HouseholdMember.case_id)
                .join(Person, Person.id == HouseholdMember.person_id)
                .where(name_condition(prefix))
            )
            by_person = set(s.scalars(select(Case.id).where(Case.id.in_(members))))
            by_term = set(s.scalars(select(Case.id).where(name_terms_condition(prefix))))
            assert by_term == by_person, prefix


def test_the_migration_backfills_the_same_rows(db: Database) -> None:
    seed_demo(db, Actor.cli(), cases=25, seed=4, as_of=TODAY)
    before = _table(db)
    assert before == _raw_terms(db)
    downgrade(db.engine, "0013")
    upgrade(db.engine)
    assert _table(db) == before


def test_a_search_reads_the_term_index_and_no_person(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite: the term plan's window is a range of the term table's key with a top-N
    sort; no person or member is read (but for the access scope's own subqueries), and
    cases only by id."""
    from services.bench import bench_user
    from services.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        seed_demo(db, Actor.cli(), cases=40, seed=3, as_of=TODAY)
        user = bench_user(db)
        statements: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, params, _context, _many) -> None:  # type: ignore[no-untyped-def]
            statements.append((statement, params))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            with db.begin() as s:
                ids = search_window_ids(
                    s,
                    RegisterFilter(text="a"),
                    after=None,
                    limit=5,
                    today=TODAY,
                    descending=True,
                    actor=user.actor,
                )
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert ids is not None and len(ids) == 5
        window = statements[0]
        with db.begin() as s:
            rows = list(
                s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + window[0], window[1])
            )
        # The access scope's subqueries (services/access.py) are its own business: left out.
        parent = {r[0]: r[1] for r in rows}
        scope = {r[0] for r in rows if "SUBQUERY" in r[3]}

        def in_scope(node: int) -> bool:
            while node:
                if node in scope:
                    return True
                node = parent.get(node, 0)
            return False

        plan = [r[3] for r in rows if not in_scope(r[0])]
        text = "\n".join(plan)
        assert "SEARCH search_term USING PRIMARY KEY (term>? AND term<?)" in text, text
        assert "SEARCH fs_case USING INDEX sqlite_autoindex_fs_case_1 (id=?)" in text, text
        assert not any("person" in line or "household_member" in line for line in plan), text
        assert not any(line.startswith("SCAN fs_case") for line in plan), text
    finally:
        db.dispose()


def test_the_term_plan_pages_like_brute_force_with_duplicates(db: Database) -> None:
    """A family shares its last name: many entries per case. Windows of every size, both
    directions, equal the brute-force list of matching cases."""
    seed_demo(db, Actor.cli(), cases=40, seed=9, as_of=TODAY)
    with db.begin() as s:
        keys = {
            r[0]: (r[1], r[2])
            for r in s.execute(select(Case.id, Case.number_year, Case.number_seq))
        }
        forms: dict[uuid.UUID, list[str]] = {}
        for case_id, *names in s.execute(
            select(
                HouseholdMember.case_id,
                Person.search_first,
                Person.search_last,
                Person.search_full,
                Person.search_full_rev,
            ).join(Person, Person.id == HouseholdMember.person_id)
        ):
            forms.setdefault(case_id, []).extend(names)
    for text in ("a", "e", "s", "and", "berg", "ö"):
        folded = search_fold(text)
        expected = sorted(
            (c for c, names in forms.items() if any(n.startswith(folded) for n in names)),
            key=lambda c: keys[c],
        )
        for limit in (1, 2, 3, 50):
            for descending in (False, True):
                got: list[uuid.UUID] = []
                after = None
                while True:
                    with db.begin() as s:
                        ids = search_window_ids(
                            s,
                            RegisterFilter(text=text),
                            after=after,
                            limit=limit,
                            today=TODAY,
                            descending=descending,
                            strategy=TERMS,
                        )
                    assert ids is not None
                    got += ids
                    if len(ids) < limit:
                        break
                    after = keys[ids[-1]]
                want = expected[::-1] if descending else expected
                assert got == want, (text, limit, descending)
