"""``case_follow_up`` equals what the notes say, after random edits, on SQLite and PostgreSQL.

The table (models/follow_ups.py) holds each case whose latest contact note asks
for a follow-up that no note has corrected; the dashboard's and the follow-up
list's counts read it. These tests compute the same thing two other ways — in
Python from every note, and with :func:`models.follow_ups.due_query` in SQL —
after random edits through the journal service (drafts, edits, signing,
corrections), ORM edits (a draft moved to another case, deleted), bulk
statements run through a session (targeted and untraceable), a rolled-back
savepoint, a bulk seeding and the migration's backfill.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models import Agency, Case, CaseFollowUp, ContactEntry, ContactMethod
from models import follow_ups as follow_up_table
from models.codes import MemberRole
from services.audit import Actor
from services.cases import CaseService
from services.db import Database, create_db_engine, downgrade, upgrade
from services.demo import seed_demo
from services.followup import FollowUpKind, FollowUpScope, follow_up_counts, follow_up_list
from services.journal import JournalService, NoteInput
from services.persons import PersonInput
from tests.factories import make_case

TODAY = date(2026, 11, 20)


def _expected(session: Session) -> dict[uuid.UUID, tuple[date, uuid.UUID]]:
    """Case id → (due date, note id), from every note in Python (the raw definition)."""
    notes = session.execute(
        select(
            ContactEntry.id,
            ContactEntry.case_id,
            ContactEntry.occurred_at,
            ContactEntry.created_at,
            ContactEntry.follow_up_on,
            ContactEntry.corrects_id,
        )
    ).all()
    corrected = {n.corrects_id for n in notes if n.corrects_id is not None}
    latest: dict[uuid.UUID, object] = {}
    for n in notes:
        best = latest.get(n.case_id)
        if best is None or (n.occurred_at, n.created_at) > (best.occurred_at, best.created_at):  # type: ignore[attr-defined]
            latest[n.case_id] = n
    return {
        case_id: (n.follow_up_on, n.id)  # type: ignore[attr-defined]
        for case_id, n in latest.items()
        if n.follow_up_on is not None and n.id not in corrected  # type: ignore[attr-defined]
    }


def _table(session: Session) -> dict[uuid.UUID, tuple[date, uuid.UUID]]:
    return {r.case_id: (r.due_on, r.note_id) for r in session.scalars(select(CaseFollowUp))}


def _computed(session: Session) -> dict[uuid.UUID, tuple[date, uuid.UUID]]:
    return {r[0]: (r[1], r[2]) for r in session.execute(follow_up_table.due_query())}


def _check(db: Database) -> dict[uuid.UUID, tuple[date, uuid.UUID]]:
    with db.begin() as s:
        table, expected = _table(s), _expected(s)
        assert table == expected
        assert _computed(s) == expected
    return table


def _codes(db: Database) -> tuple[str, str]:
    with db.begin() as s:
        return s.scalars(select(Agency.code)).first(), s.scalars(select(ContactMethod.code)).first()  # type: ignore[return-value]


def test_follow_up_table_follows_random_edits(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    rng = random.Random(8)
    cases = CaseService(db=db, actor=actor)
    journal = JournalService(db=db, actor=actor)
    agency, method = _codes(db)
    case_ids = [
        make_case(
            cases,
            unit_id,
            (MemberRole.APPLICANT, PersonInput(f"Följ{i}", "Upp", birth_date=date(1980, 1, i + 1))),
        ).id
        for i in range(8)
    ]
    start = datetime(2026, 9, 1, 9, tzinfo=UTC)

    def note_input() -> NoteInput:
        follow_up = rng.choice([None, TODAY - timedelta(days=rng.randint(1, 30)), TODAY,
                                TODAY + timedelta(days=rng.randint(1, 20))])  # fmt: skip
        # Few distinct times, so that notes share an occurred_at and created_at decides.
        at = start + timedelta(days=rng.randint(0, 6))
        return NoteInput(at, agency, method, "Samtal", follow_up_on=follow_up)

    drafts: list[tuple[uuid.UUID, int]] = []
    signed: list[uuid.UUID] = []
    for _ in range(60):
        action = rng.random()
        if action < 0.35 or not (drafts or signed):
            view = journal.add_note(rng.choice(case_ids), note_input(), sign=rng.random() < 0.5)
            (signed.append(view.id) if view.signed_at else drafts.append((view.id, view.version)))
        elif action < 0.5 and drafts:
            i = rng.randrange(len(drafts))
            view = journal.update_draft(drafts[i][0], drafts[i][1], note_input())
            drafts[i] = (view.id, view.version)
        elif action < 0.6 and drafts:
            note_id, version = drafts.pop(rng.randrange(len(drafts)))
            signed.append(journal.sign(note_id, version).id)
        elif action < 0.75 and signed:
            journal.correct(rng.choice(signed), note_input())
        elif action < 0.85 and drafts:
            note_id, _ = drafts.pop(rng.randrange(len(drafts)))
            with db.begin() as s:  # a draft moved to another case, through the ORM
                entry = s.get(ContactEntry, note_id)
                assert entry is not None
                entry.case_id = rng.choice(case_ids)
                s.flush()
                drafts.append((entry.id, entry.version))
        elif drafts:
            note_id, _ = drafts.pop(rng.randrange(len(drafts)))
            with db.begin() as s:  # a draft thrown away
                s.delete(s.get(ContactEntry, note_id))
        table = _check(db)
    assert table, "some case asks for a follow-up"
    assert any(d < TODAY for d, _ in table.values())

    # A transaction sees its own notes: the count reads the table after a sync.
    with db.begin() as s:
        before = follow_up_counts(s, actor, FollowUpScope(unit_id=unit_id), as_of=TODAY)
        asking = next(c for c in case_ids if c not in _table(s))
        s.add(
            ContactEntry(
                case_id=asking,
                occurred_at=datetime(2026, 11, 19, 9, tzinfo=UTC),
                agency_code=agency,
                method_code=method,
                text="Ny",
                author_name="test",
                follow_up_on=TODAY - timedelta(days=1),
            )  # fmt: skip
        )
        after = follow_up_counts(s, actor, FollowUpScope(unit_id=unit_id), as_of=TODAY)
        assert after == (before[0] + 1, before[1] + 1)
    _check(db)


def test_bulk_statements_savepoints_and_the_counts(
    db: Database, actor: Actor, unit_id: uuid.UUID
) -> None:
    cases = CaseService(db=db, actor=actor)
    agency, method = _codes(db)
    case_ids = [
        make_case(
            cases,
            unit_id,
            (
                MemberRole.APPLICANT,
                PersonInput(f"Bulk{i}", "Test", birth_date=date(1970, 2, i + 1)),
            ),
        ).id
        for i in range(4)
    ]

    def row(case_id: uuid.UUID, day: int, follow_up: date | None) -> dict[str, object]:
        return {
            "id": uuid.uuid4(), "case_id": case_id,
            "occurred_at": datetime(2026, 10, day, 9, tzinfo=UTC),
            "agency_code": agency, "method_code": method, "text": "Bulk",
            "author_name": "test", "follow_up_on": follow_up,
            "created_at": datetime(2026, 10, day, 10, tzinfo=UTC),
            "updated_at": datetime(2026, 10, day, 10, tzinfo=UTC),
            "counterpart": "", "child_perspective": False, "version": 1,
        }  # fmt: skip

    with db.begin() as s:  # parameter rows name their cases: only those are recomputed
        s.execute(
            insert(ContactEntry),
            [row(case_ids[0], 1, TODAY), row(case_ids[1], 2, date(2026, 11, 1))],
        )
        follow_up_table.sync(s)
        assert not s.info.get("fokus_follow_up_all")
    assert set(_check(db)) == {case_ids[0], case_ids[1]}

    with db.begin() as s:  # a statement without a WHERE clause: the whole table
        s.execute(update(ContactEntry).values(follow_up_on=date(2026, 11, 5)))
        assert s.info.get("fokus_follow_up_all")
    assert {d for d, _ in _check(db).values()} == {date(2026, 11, 5)}

    with db.begin() as s:  # a savepoint rolled back undoes its refresh; it is redone
        s.add(
            ContactEntry(
                case_id=case_ids[2],
                occurred_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
                agency_code=agency,
                method_code=method,
                text="Kvar",
                author_name="test",
                follow_up_on=date(2026, 11, 10),
            )  # fmt: skip
        )
        with s.begin_nested() as sp:
            follow_up_table.sync(s)
            s.execute(
                update(ContactEntry)
                .where(ContactEntry.case_id == case_ids[0])
                .values(follow_up_on=None)
            )
            follow_up_table.sync(s)
            sp.rollback()
    table = _check(db)
    assert case_ids[2] in table and case_ids[0] in table

    with db.begin() as s:  # a correction kept in another case still answers the note
        s.add(
            ContactEntry(
                case_id=case_ids[3],
                occurred_at=datetime(2026, 11, 3, 9, tzinfo=UTC),
                agency_code=agency,
                method_code=method,
                text="Rättelse",
                author_name="test",
                corrects_id=table[case_ids[0]][1],
            )  # fmt: skip
        )
    table = _check(db)
    assert case_ids[0] not in table

    # The counts and the list read the table; both agree with the raw definition.
    with db.begin() as s:
        scope = FollowUpScope(unit_id=unit_id)
        due, overdue = follow_up_counts(s, actor, scope, as_of=TODAY)
        items = follow_up_list(
            s, actor, scope, as_of=TODAY, horizon_days=0,
            kinds=frozenset({FollowUpKind.FOLLOW_UP}),
        )  # fmt: skip
        expected = {c: d for c, (d, _) in _expected(s).items() if d <= TODAY}
    assert {i.case_id: i.due for i in items} == expected
    assert (due, overdue) == (len(expected), sum(1 for d in expected.values() if d < TODAY))


def test_follow_up_table_after_bulk_seeding(db: Database) -> None:
    seed_demo(db, Actor.cli(), cases=80, seed=4, as_of=TODAY)
    assert len(_check(db)) > 0


def test_migration_backfill_equals_the_definition(db: Database) -> None:
    """0013's own SQL fills the table as the model's definition does (demo data)."""
    seed_demo(db, Actor.cli(), cases=80, seed=9, as_of=TODAY)
    expected = _check(db)
    assert expected
    db.engine.dispose()
    engine = create_db_engine(db.url)
    try:
        downgrade(engine, "0012")
        upgrade(engine)
    finally:
        engine.dispose()
    assert _check(db) == expected


# sqlite_stat1 of the 100,000-case bench file (analysed while it was seeded: 2,001 cases
# per unit) after migration 0013 (11,783 asking cases, every one due).
BENCH_STATS = (
    ("ix_fs_case_unit_id", "95680 2001"),
    ("ix_fs_case_status_caseworker", "219300 2001 41 41"),
    ("ix_fs_case_number_seq", "117260 11"),
    ("ix_fs_case_is_focus", "111197 2001"),
    ("ix_fs_case_import_key", "111197 2001"),
    ("ix_fs_case_closed_outcome", "19200 16 1 1 1 1"),
    ("ix_fs_case_caseworker_id", "431300 143"),
    ("sqlite_autoindex_fs_case_3", "53400 501 1"),
    ("sqlite_autoindex_fs_case_2", "76464 1"),
    ("sqlite_autoindex_fs_case_1", "110500 1"),
    ("ix_case_follow_up_due", "11783 10 1"),
    ("case_follow_up", "11783 1"),
)


def test_the_count_starts_from_the_asking_cases(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite reads the date range of case_follow_up first and looks each case up, also
    with statistics that make the unit's cases look fewer than the asking ones (as the
    100,000-case bench file's, analysed while it was seeded, do)."""
    from sqlalchemy import text

    from services.db import open_database
    from services.followup import follow_up_count_query

    db = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        seed_demo(db, Actor.cli(), cases=80, seed=2, as_of=TODAY)
        with db.begin() as s:
            s.execute(text("ANALYZE"))
            for idx, stat in BENCH_STATS:
                s.execute(
                    text("UPDATE sqlite_stat1 SET stat = :stat WHERE idx = :idx"),
                    {"stat": stat, "idx": idx},
                )
            s.execute(text("ANALYZE sqlite_schema"))  # reload the statistics
            unit_id = s.scalar(select(Case.unit_id).limit(1))
            stmt = follow_up_count_query(Actor.cli(), FollowUpScope(unit_id=unit_id), TODAY)
            compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = [r[3] for r in s.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
    finally:
        db.dispose()
    searches = [p for p in plan if p.startswith(("SEARCH", "SCAN"))]
    assert searches[0].startswith(
        "SEARCH case_follow_up USING COVERING INDEX ix_case_follow_up_due"
    )
