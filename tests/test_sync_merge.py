"""The three-way merge end to end: a real PostgreSQL as central, an SQLCipher file as laptop.

New notes and cases both ways, a field edited on both sides, deletions and
duplicate months, a person central already knows, and a sync interrupted at
either commit and run again. Fixtures and helpers come from test_offline_sync.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import services.offline as offline
import services.sync as sync_mod
from models import AuditEvent, Case, ContactEntry, Person
from services.audit import Actor
from services.cases import CaseChanges, CaseService
from services.db import Database, open_database
from services.journal import JournalService
from services.offline import KdfParams, checkout, open_local
from services.sync import resolve_conflict, sync
from tests.factories import BENGT, KARIN, MARIE, OSKAR, make_case
from tests.test_offline_sync import (
    PW,
    A,
    B,
    C,
    _anna,
    _case_for_anna,
    _chain_ok,
    _count,
    _note,
    make_users,
)

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        offline, "DEFAULT_KDF", KdfParams(time_cost=1, memory_kib=8192, parallelism=1)
    )


@pytest.fixture
def central(pg_url: str) -> Iterator[Database]:
    db = open_database(pg_url)
    yield db
    db.dispose()


@pytest.fixture
def users(central: Database) -> dict[str, uuid.UUID]:
    return make_users(central)


def test_round_trip_of_a_note_and_a_new_case(central: Database, users, tmp_path: Path) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN), (B, OSKAR))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    anna = _anna(users)
    try:
        assert not sync_mod.pending_changes(local)
        mine = JournalService(db=local, actor=anna).add_note(
            case_id, _note("Hembesök offline"), sign=True
        )
        new = make_case(
            CaseService(db=local, actor=anna),
            users["unit"],
            (A, BENGT),
            (C, MARIE),
            caseworker_id=users["anna"],
        )
        assert re.fullmatch(r"FS-2024-L[0-9A-F]{4}-0001", new.case_number)
        theirs = JournalService(db=central, actor=Actor.cli()).add_note(
            case_id, _note("Telefon central"), sign=True
        )
        assert offline.local_status(local).unsynced_changes
        assert sync_mod.pending_changes(local)
        # Logging out and in again offline keeps everything (it is all in the file).
        local.dispose()
        local = open_local(path, PW, allow_expired=False)
        assert sync_mod.pending_changes(local)
        with local.begin() as s:
            assert s.get(ContactEntry, mine.id).signed_at is not None

        result = sync(central, local)
        assert result.conflicts == []
        ((provisional, real),) = result.new_cases
        assert provisional == new.case_number and re.fullmatch(r"FS-2024-\d{5}", real)
        with central.begin() as s:
            assert s.get(ContactEntry, mine.id).text == "Hembesök offline"
            assert s.get(Case, new.id).case_number == real
            assert (
                s.scalar(
                    select(func.count()).where(
                        AuditEvent.action == "note_signed", AuditEvent.actor == "anna"
                    )
                )
                == 1
            )
        with local.begin() as s:
            assert s.get(ContactEntry, theirs.id).text == "Telefon central"
            assert s.get(Case, new.id).case_number == real
        assert not offline.local_status(local).unsynced_changes
        assert not sync_mod.pending_changes(local)

        again = sync(central, local)
        assert (again.pushed, again.pulled, again.audit_uploaded, again.new_cases) == (0, 0, 0, [])
        assert _count(central, select(func.count()).select_from(ContactEntry)) == 2
        assert _count(local, select(func.count()).select_from(ContactEntry)) == 2
        _chain_ok(central)
        _chain_ok(local)
    finally:
        local.dispose()


def test_a_field_edited_on_both_sides_is_a_conflict_and_nothing_is_overwritten(
    central: Database, users, tmp_path: Path
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN), summary="bas")
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    try:
        central_cases = CaseService(db=central, actor=Actor.cli())
        ref = central_cases.update_case(
            case_id, 1, CaseChanges(summary="central", address="Storgatan 1")
        )
        assert ref.version == 2
        CaseService(db=local, actor=_anna(users)).update_case(
            case_id, 1, CaseChanges(summary="laptop", town="Södertälje")
        )

        result = sync(central, local)
        (conflict,) = result.conflicts
        assert (conflict.field, conflict.base, conflict.theirs, conflict.yours) == (
            "summary", "bas", "central", "laptop",
        )  # fmt: skip
        assert "central" in conflict.describe() and conflict.case_number
        with central.begin() as s:
            case = s.get(Case, case_id)
            assert (case.summary, case.address, case.town) == (
                "central",
                "Storgatan 1",
                "Södertälje",
            )
        with local.begin() as s:
            case = s.get(Case, case_id)
            assert (case.summary, case.address, case.town) == (
                "laptop",
                "Storgatan 1",
                "Södertälje",
            )
            assert case.version == 3  # the central version, so online edits can continue

        # Reported again, never duplicated, until the user chooses.
        assert [c.id for c in sync(central, local).conflicts] == [conflict.id]
        resolve_conflict(local, conflict.id, "yours")
        assert sync(central, local).conflicts == []
        with central.begin() as s:
            assert s.get(Case, case_id).summary == "laptop"
        _chain_ok(central)
    finally:
        local.dispose()


@pytest.mark.parametrize("stage", ["central_applied", "central_committed"])
def test_interrupted_sync_run_again_has_no_duplicates(
    central: Database, users, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    anna = _anna(users)
    try:
        note = JournalService(db=local, actor=anna).add_note(
            case_id, _note("Före avbrottet"), sign=True
        )
        new = make_case(
            CaseService(db=local, actor=anna),
            users["unit"],
            (A, BENGT),
            caseworker_id=users["anna"],
        )
        CaseService(db=local, actor=anna).update_case(case_id, 1, CaseChanges(town="Järna"))

        def boom(at: str) -> None:
            if at == stage:
                raise RuntimeError(f"avbrott vid {at}")

        monkeypatch.setattr(sync_mod, "_checkpoint", boom)
        with pytest.raises(RuntimeError, match="avbrott"):
            sync(central, local)
        monkeypatch.setattr(sync_mod, "_checkpoint", lambda _at: None)
        with local.begin() as s:  # the laptop is untouched by a failed run
            assert s.get(Case, new.id).case_number == new.case_number

        result = sync(central, local)
        assert result.conflicts == []
        ((_, real),) = result.new_cases
        for db in (central, local):
            assert _count(db, select(func.count()).where(ContactEntry.id == note.id)) == 1
            assert _count(db, select(func.count()).where(Case.id == new.id)) == 1
            assert _count(db, select(func.count()).where(Person.first_name == "Bengt")) == 1
            with db.begin() as s:
                assert s.get(Case, new.id).case_number == real
                assert s.get(Case, case_id).town == "Järna"
        uuids = _count(central, select(func.count(func.distinct(AuditEvent.event_uuid))))
        assert uuids == _count(central, select(func.count()).select_from(AuditEvent))
        assert _count(central, select(func.count()).where(AuditEvent.action == "note_signed")) == 1
        _chain_ok(central)
        assert sync(central, local).pushed == 0
    finally:
        local.dispose()


def test_new_person_known_centrally_becomes_that_person_and_is_flagged(
    central: Database, users, tmp_path: Path
) -> None:
    other = make_case(
        CaseService(db=central, actor=Actor.cli()),
        users["unit"],
        (A, BENGT),
        caseworker_id=users["bo"],
    )
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    try:
        new = make_case(
            CaseService(db=local, actor=_anna(users)),
            users["unit"],
            (A, BENGT),
            caseworker_id=users["anna"],
        )
        result = sync(central, local)
        (flag,) = result.flags
        assert other.case_number in flag
        for db in (central, local):
            assert _count(db, select(func.count()).where(Person.first_name == "Bengt")) == 1
        with central.begin() as s:
            assert s.get(Case, new.id) is not None
    finally:
        local.dispose()


def test_deletions_and_duplicate_months_merge_without_loss(
    central: Database, users, tmp_path: Path
) -> None:
    from datetime import date

    from models import PersonOutcome, SupportMonth
    from models.codes import Outcome
    from services.cases import OutcomeInput
    from services.support import SupportService
    from services.targets import record_person_outcome_in

    case_id = _case_for_anna(central, users, (A, KARIN), (C, BENGT))
    with central.begin() as s:
        karin, bengt = (
            s.scalar(select(Person.id).where(Person.first_name == name))
            for name in ("Karin", "Bengt")
        )
        for pid in (karin, bengt):
            record_person_outcome_in(
                s, Actor.cli(), case_id, pid, OutcomeInput(Outcome.WORK), date(2024, 6, 1)
            )
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    anna = _anna(users)
    try:
        # Removed offline (Karin) and centrally (Bengt): each removal reaches the other side.
        with local.begin() as s:
            record_person_outcome_in(s, anna, case_id, karin, None, date(2024, 7, 1))
        with central.begin() as s:
            record_person_outcome_in(s, Actor.cli(), case_id, bengt, None, date(2024, 7, 1))
        # The same month added on both sides with different amounts: both kept, reported.
        SupportService(db=central, actor=Actor.cli()).add_month(case_id, date(2024, 8, 1), 500_00)
        SupportService(db=local, actor=anna).add_month(case_id, date(2024, 8, 1), 700_00)

        result = sync(central, local)
        assert [c.field for c in result.conflicts] == ["(dubblett)"]
        for db in (central, local):
            assert _count(db, select(func.count()).select_from(PersonOutcome)) == 0
        with central.begin() as s:
            assert s.scalar(select(SupportMonth.amount_ore)) == 500_00
        with local.begin() as s:
            assert s.scalar(select(SupportMonth.amount_ore)) == 700_00
        again = sync(central, local)
        assert len(again.conflicts) == 1 and again.pushed == 0
        _chain_ok(central)
    finally:
        local.dispose()
