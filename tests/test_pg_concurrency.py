"""Concurrent edits on PostgreSQL with real, separate connections (issue 6, item 7).

Each user has their own :class:`Database` (their own engine and connection
pool, as two workstations would). Two users changing the same case: the
second gets a :class:`ConflictError` and nothing of either is lost. Two
users adding notes to the same case at the same moment (threads released by
a barrier): both keep theirs. The audit chain stays whole throughout.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from models import Case, ContactEntry
from models.codes import MemberRole, Role
from services.audit import Actor, verify_chain
from services.cases import CaseChanges, CaseService
from services.db import Database, open_database
from services.errors import ConflictError
from services.journal import JournalService, NoteInput
from services.users import UserInput, create_user_in
from tests.factories import KARIN, make_case

pytestmark = pytest.mark.postgres

UNIT = "Försörjningsstöd Södertälje"


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[Database, Database, Actor, Actor, uuid.UUID]]:
    """Anna (the case's caseworker) and Lena (the unit's arbetsledare), each on her own
    connection pool, and a case of Anna's."""
    owner = open_database(pg_url)
    anna_db, lena_db = open_database(pg_url), open_database(pg_url)
    try:
        cli = Actor.cli()
        actors = []
        with owner.begin() as s:
            for name, role in (("anna", Role.CASEWORKER), ("lena", Role.TEAM_LEADER)):
                user = create_user_in(
                    s, cli, UserInput(username=name, full_name=name.title(), role=role,
                                      unit_name=UNIT, password="Lösen-123456")
                )  # fmt: skip
                actors.append(Actor(name, role, user.id, f"ws-{name}"))
            unit_id = user.unit_id
        anna, lena = actors
        ref = make_case(
            CaseService(db=owner, actor=cli),
            unit_id,
            (MemberRole.APPLICANT, KARIN),
            caseworker_id=anna.user_id,
        )
        yield anna_db, lena_db, anna, lena, ref.id
    finally:
        for db in (owner, anna_db, lena_db):
            db.dispose()


def _case(db: Database, case_id: uuid.UUID) -> Case:
    with db.begin() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def test_the_second_of_two_users_saving_the_same_case_gets_the_conflict(two: Any) -> None:
    anna_db, lena_db, anna, lena, case_id = two
    base = _case(anna_db, case_id).version  # both opened the case at this version
    assert _case(lena_db, case_id).version == base
    CaseService(db=anna_db, actor=anna).update_case(
        case_id, base, CaseChanges(address="Storgatan 12", town="Södertälje")
    )
    with pytest.raises(ConflictError) as err:
        CaseService(db=lena_db, actor=lena).update_case(
            case_id, base, CaseChanges(summary="Planerat möte med arbetsförmedlingen")
        )
    assert (err.value.expected_version, err.value.current_version) == (base, base + 1)
    assert "inget sparades" in err.value.message
    stored = _case(lena_db, case_id)
    assert (stored.address, stored.summary, stored.version) == ("Storgatan 12", "", base + 1)
    # Lena still has her edit: on the new version it is saved, and Anna's stays.
    CaseService(db=lena_db, actor=lena).update_case(
        case_id, stored.version, CaseChanges(summary="Planerat möte med arbetsförmedlingen")
    )
    final = _case(anna_db, case_id)
    assert (final.address, final.summary, final.version) == (
        "Storgatan 12",
        "Planerat möte med arbetsförmedlingen",
        base + 2,
    )


def _together(*work: Callable[[], Any]) -> list[Any]:
    """Run each callable in its own thread, released at the same moment; results or errors."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int, fn: Callable[[], Any]) -> None:
        start.wait()
        try:
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(work)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_two_users_saving_the_same_version_at_the_same_moment(two: Any) -> None:
    anna_db, lena_db, anna, lena, case_id = two
    for round_ in range(5):
        base = _case(anna_db, case_id).version

        def save(db: Database, actor: Actor, v: int = base, n: int = round_) -> Any:
            return CaseService(db=db, actor=actor).update_case(
                case_id, v, CaseChanges(summary=f"{actor.username} {n}")
            )

        results = _together(lambda: save(anna_db, anna), lambda: save(lena_db, lena))
        conflicts = [r for r in results if isinstance(r, ConflictError)]
        saved = [r for r in results if not isinstance(r, BaseException)]
        assert len(conflicts) == 1 and len(saved) == 1, results  # one wins, one is told
        winner = "anna" if saved[0] is results[0] else "lena"
        stored = _case(anna_db, case_id)
        assert (stored.summary, stored.version) == (f"{winner} {round_}", base + 1)


def test_two_users_adding_notes_to_the_same_case_at_the_same_moment_keep_both(two: Any) -> None:
    anna_db, lena_db, anna, lena, case_id = two
    per_user = 10

    def notes(db: Database, actor: Actor) -> list[uuid.UUID]:
        journal = JournalService(db=db, actor=actor)
        when = datetime(2025, 3, 4, 9, tzinfo=UTC)
        return [
            journal.add_note(case_id, NoteInput(when, "fk", "phone", f"{actor.username} {i}")).id
            for i in range(per_user)
        ]

    results = _together(lambda: notes(anna_db, anna), lambda: notes(lena_db, lena))
    assert not [r for r in results if isinstance(r, BaseException)], results
    with anna_db.begin() as s:
        texts = sorted(
            s.scalars(select(ContactEntry.text).where(ContactEntry.case_id == case_id)).all()
        )
        assert s.scalar(select(func.count()).select_from(ContactEntry)) == 2 * per_user
        assert verify_chain(s).ok
    assert texts == sorted(f"{who} {i}" for who in ("anna", "lena") for i in range(per_user))
