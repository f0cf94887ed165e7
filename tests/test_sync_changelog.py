"""Sync reads only what changed: the laptop's change log and central's change stamps.

A real PostgreSQL as central and an SQLCipher file as laptop. Each test makes a
change one of the two mechanisms must notice (a bulk UPDATE on the laptop that
bypasses the ORM, a central UPDATE that bumps no version, an edit while a sync
runs, a laptop file from before the change log) and checks that it arrives,
is reported, or stops the sync with nothing lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

import services.offline as offline
import services.sync as sync_mod
from models import Case, ContactEntry, OfflineLocalChange, Person, PersonOutcome
from models.codes import Outcome
from services.audit import Actor
from services.cases import CaseChanges, CaseService, OutcomeInput
from services.db import Database, downgrade, open_database
from services.journal import JournalService
from services.offline import KdfParams, checkout, open_local
from services.sync import ROW_FIELD, SyncRaceError, resolve_conflict, sync
from services.targets import record_person_outcome_in
from tests.factories import BENGT, KARIN
from tests.test_offline_sync import (
    PW,
    A,
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


def _log(local: Database) -> list[tuple[str, str]]:
    with local.begin() as s:
        return [
            (t, k)
            for t, k in s.execute(
                select(OfflineLocalChange.table_name, OfflineLocalChange.row_key).order_by(
                    OfflineLocalChange.seq
                )
            )
        ]


def _town(db: Database, case_id: uuid.UUID) -> str | None:
    with db.begin() as s:
        return s.scalar(select(Case.town).where(Case.id == case_id))


def test_every_laptop_write_is_logged_and_a_sync_clears_the_log(
    central: Database, users, tmp_path: Path
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    try:
        assert _log(local) == []  # the copy itself is no change
        assert not offline.local_status(local).unsynced_changes
        # A bulk UPDATE straight in SQL: no ORM, no version bump, no audit event.
        with local.begin() as s:
            s.execute(update(Case).where(Case.id == case_id).values(town="Järna"))
        assert _log(local) == [("fs_case", case_id.hex)]
        assert offline.local_status(local).unsynced_changes
        note = JournalService(db=local, actor=_anna(users)).add_note(
            case_id, _note("Hembesök"), sign=True
        )
        assert ("contact_entry", note.id.hex) in _log(local)

        result = sync(central, local)
        assert result.conflicts == [] and result.pushed >= 2
        assert _town(central, case_id) == "Järna"
        assert _count(central, select(func.count()).where(ContactEntry.id == note.id)) == 1
        assert _log(local) == []
        assert not offline.local_status(local).unsynced_changes
        # Nothing changed since: the next sync reads no row in full.
        again = sync(central, local)
        assert (again.compared, again.pushed, again.pulled) == (0, 0, 0)
    finally:
        local.dispose()


def test_a_central_update_that_bumps_no_version_still_reaches_the_laptop(
    central: Database, users, tmp_path: Path
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN), (C, BENGT))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    try:
        with central.begin() as s:  # e.g. a script or another tool: the version stays
            s.execute(update(Case).where(Case.id == case_id).values(town="Mölnbo"))
            s.execute(update(Person).where(Person.first_name == "Bengt").values(phone="0701"))
        result = sync(central, local)
        assert result.compared == 2 and result.pulled == 2
        assert _town(local, case_id) == "Mölnbo"
        with local.begin() as s:
            assert s.scalar(select(Person.phone).where(Person.first_name == "Bengt")) == "0701"
        assert sync(central, local).compared == 0
    finally:
        local.dispose()


def test_a_copy_from_before_the_change_log_compares_every_row_once(
    central: Database, users, tmp_path: Path
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    try:
        downgrade(local.engine, "0008")  # the file as an older Fokus left it
        with local.begin() as s:  # an edit made then: no change log recorded it
            s.execute(update(Case).where(Case.id == case_id).values(town="Gnesta"))
    finally:
        local.dispose()
    local = open_local(path, PW)  # upgrades the file and asks for one full comparison
    try:
        assert _log(local) == [("*", "*")]
        assert offline.local_status(local).unsynced_changes
        result = sync(central, local)
        assert result.compared > 3 and result.conflicts == []
        assert _town(central, case_id) == "Gnesta"
        assert _log(local) == []
        assert sync(central, local).compared == 0
    finally:
        local.dispose()


def test_an_edit_on_the_laptop_while_the_sync_runs_is_never_lost(
    central: Database, users, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN))
    other_id = _case_for_anna(central, users, (A, BENGT))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    anna = _anna(users)
    try:
        CaseService(db=local, actor=anna).update_case(case_id, 1, CaseChanges(town="Järna"))

        def edit_meanwhile(at: str) -> None:
            if at == "central_committed":  # another window saves while the sync runs
                with local.begin() as s:
                    s.execute(update(Case).where(Case.id == other_id).values(town="Nykvarn"))

        monkeypatch.setattr(sync_mod, "_checkpoint", edit_meanwhile)
        sync(central, local)  # that row was not part of this sync: it goes next time
        monkeypatch.setattr(sync_mod, "_checkpoint", lambda _at: None)
        assert _town(central, case_id) == "Järna" and _town(central, other_id) != "Nykvarn"
        assert ("fs_case", other_id.hex) in _log(local)
        sync(central, local)
        assert _town(central, other_id) == "Nykvarn"

        # An edit of a row the sync is merging, between its two commits: the sync stops
        # and the next run finishes it with the edit in.
        CaseService(db=local, actor=anna).update_case(case_id, 2, CaseChanges(town="Hölö"))

        def same_row(at: str) -> None:
            if at == "central_committed":
                with local.begin() as s:
                    s.execute(update(Case).where(Case.id == case_id).values(summary="mitt i"))

        monkeypatch.setattr(sync_mod, "_checkpoint", same_row)
        with pytest.raises(SyncRaceError, match="kör synkroniseringen igen"):
            sync(central, local)
        monkeypatch.setattr(sync_mod, "_checkpoint", lambda _at: None)
        result = sync(central, local)
        assert result.conflicts == []
        for db in (central, local):
            with db.begin() as s:
                case = s.get(Case, case_id)
                assert (case.town, case.summary) == ("Hölö", "mitt i")
        _chain_ok(central)
    finally:
        local.dispose()


def test_a_central_change_during_the_sync_stops_it_before_anything_is_written(
    central: Database, users, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    try:
        CaseService(db=local, actor=_anna(users)).update_case(case_id, 1, CaseChanges(town="Järna"))

        def someone_saves(at: str) -> None:
            if at == "merged":  # after the sync read the row, before it writes it
                with central.begin() as s:  # no version bump: only the stamp shows it
                    s.execute(update(Case).where(Case.id == case_id).values(summary="central"))

        monkeypatch.setattr(sync_mod, "_checkpoint", someone_saves)
        with pytest.raises(SyncRaceError, match="ändrades centralt"):
            sync(central, local)
        monkeypatch.setattr(sync_mod, "_checkpoint", lambda _at: None)
        assert _town(central, case_id) != "Järna"  # nothing was written
        sync(central, local)
        for db in (central, local):
            with db.begin() as s:
                case = s.get(Case, case_id)
                assert (case.town, case.summary) == ("Järna", "central")
    finally:
        local.dispose()


def _outcome(db: Database, actor: Actor, case_id, person_id, outcome) -> None:  # type: ignore[no-untyped-def]
    with db.begin() as s:
        record_person_outcome_in(s, actor, case_id, person_id, outcome, date(2024, 7, 1))


def _outcomes(db: Database) -> list[str]:
    with db.begin() as s:
        return list(s.scalars(select(PersonOutcome.outcome)))


@pytest.mark.parametrize(
    ("deleted_on", "choice", "expected"),
    [
        ("laptop", "theirs", [Outcome.STUDIES.value]),  # restored on the laptop
        ("laptop", "yours", []),  # deleted centrally too
        ("central", "theirs", []),  # deleted on the laptop too
        ("central", "yours", [Outcome.STUDIES.value]),  # added centrally again
    ],
)
def test_a_row_deleted_on_one_side_and_changed_on_the_other_is_resolved_either_way(
    central: Database, users, tmp_path: Path, deleted_on: str, choice: str, expected: list[str]
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN))
    with central.begin() as s:
        karin = s.scalar(select(Person.id).where(Person.first_name == "Karin"))
    _outcome(central, Actor.cli(), case_id, karin, OutcomeInput(Outcome.WORK))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    anna = _anna(users)
    sides = {"laptop": (local, anna), "central": (central, Actor.cli())}
    try:
        gone, gone_actor = sides[deleted_on]
        kept, kept_actor = sides["central" if deleted_on == "laptop" else "laptop"]
        _outcome(gone, gone_actor, case_id, karin, None)
        _outcome(kept, kept_actor, case_id, karin, OutcomeInput(Outcome.STUDIES))

        (conflict,) = sync(central, local).conflicts
        assert conflict.field == ROW_FIELD and conflict.whole_row
        deleted_side = "yours" if deleted_on == "laptop" else "theirs"
        changed_side = "theirs" if deleted_on == "laptop" else "yours"
        assert conflict.shown(deleted_side) == "borttagen"
        assert conflict.shown(changed_side).startswith("ändrad: ")
        assert Outcome.STUDIES.value in conflict.shown(changed_side)
        assert "borttagen" in conflict.describe()
        # Neither side was touched by the sync.
        assert _outcomes(gone) == [] and _outcomes(kept) == [Outcome.STUDIES.value]

        resolve_conflict(local, conflict.id, choice)
        assert offline.local_status(local).unsynced_changes
        result = sync(central, local)
        assert result.conflicts == []
        assert _outcomes(central) == expected and _outcomes(local) == expected
        assert sync(central, local).compared == 0
        _chain_ok(central)
    finally:
        local.dispose()


def test_the_laptops_change_log_triggers_are_back_after_a_rebuild(tmp_path: Path) -> None:
    """Opening a laptop file installs the triggers again (a migration may rebuild a table)."""
    from services.offline import create_local

    path = tmp_path / "l.fokus"
    local = create_local(path, "lösenord-1", kdf=KdfParams(1, 8192, 1))
    try:
        with local.begin() as s:
            s.execute(text("DROP TRIGGER offline_change_fs_case_au"))
    finally:
        local.dispose()
    local = open_local(path, "lösenord-1")
    try:
        with local.begin() as s:
            names = set(s.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        for spec in offline.CASE_TABLES:
            for suffix in ("ai", "au", "ad"):
                assert f"offline_change_{spec.name}_{suffix}" in names
    finally:
        local.dispose()


# --- a central password change while the laptop is out ----------------------------------------

NEW_PW = "nytt-lösen-2"


def test_a_central_password_change_while_the_laptop_is_out(
    central: Database, users, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    import io

    from main import main
    from models import AuditEvent, User
    from services.auth import authenticate
    from services.users import hash_password

    case_id = _case_for_anna(central, users, (A, KARIN))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    try:
        note = JournalService(db=local, actor=_anna(users)).add_note(
            case_id, _note("Skrivet före bytet"), sign=True
        )
    finally:
        local.dispose()
    with central.begin() as s:  # changed centrally while the laptop is out
        s.execute(
            update(User).where(User.username == "anna").values(password_hash=hash_password(NEW_PW))
        )

    # Offline, the old password still opens the file and logs in; the new one does not.
    with pytest.raises(offline.LocalKeyError, match="det gamla lösenordet upp filen"):
        open_local(path, NEW_PW)
    local = open_local(path, PW)
    try:
        assert authenticate(local, "anna", PW, "laptop").username == "anna"
    finally:
        local.dispose()

    # Syncing with the old password alone: central refuses it and says what to do.
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert main(["sync", "--central", pg_url, "--local", str(path)]) == 1
    err = capsys.readouterr().err
    assert "sync --new-password" in err and err.count("\n") == 1
    assert _count(central, select(func.count()).where(ContactEntry.id == note.id)) == 0

    # Old password for the file, new one for central: synced, then the file is rekeyed.
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PW}\n{NEW_PW}\n"))
    assert main(["sync", "--central", pg_url, "--local", str(path), "--new-password"]) == 0
    assert "låst med det nya lösenordet" in capsys.readouterr().out
    assert _count(central, select(func.count()).where(ContactEntry.id == note.id)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.fokus", "l.fokus.salt"]
    with pytest.raises(offline.LocalKeyError):
        open_local(path, PW)  # the old password opens nothing any more
    local = open_local(path, NEW_PW)
    try:
        assert authenticate(local, "anna", NEW_PW, "laptop").username == "anna"
        with pytest.raises(Exception, match="fel användarnamn eller lösenord"):
            authenticate(local, "anna", PW, "laptop")
        assert sync(central, local).compared == 0
    finally:
        local.dispose()
    assert _count(central, select(func.count()).where(AuditEvent.action == "offline_rekeyed")) == 1
    _chain_ok(central)


def test_an_interrupted_rekey_is_finished_by_the_next_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import uuid as uuid_mod
    from datetime import UTC, datetime, timedelta

    from models import OfflineLocalState, Unit, User
    from services.offline import create_local, rekey_local

    path = tmp_path / "l.fokus"
    local = create_local(path, "gammalt-1", kdf=KdfParams(1, 8192, 1))
    user_id, unit_id, now = uuid_mod.uuid4(), uuid_mod.uuid4(), datetime.now(UTC)
    with local.begin() as s:
        s.add(Unit(id=unit_id, name="Enheten"))
        s.flush()
        s.add(
            User(
                id=user_id,
                username="anna",
                full_name="Anna",
                role="caseworker",
                unit_id=unit_id,
                password_hash="x",
            )
        )
        s.add(
            OfflineLocalState(
                id=1,
                laptop_id=uuid_mod.uuid4(),
                laptop_code="AB12",
                checkout_id=uuid_mod.uuid4(),
                user_id=user_id,
                username="anna",
                checked_out_at=now,
                expires_at=now + timedelta(days=1),
                last_provisional=0,
            )
        )
    real_replace = os.replace

    def crash(*_args):  # type: ignore[no-untyped-def]
        raise OSError("strömavbrott")

    monkeypatch.setattr(offline.os, "replace", crash)
    try:
        with pytest.raises(OSError, match="strömavbrott"):
            rekey_local(local, "nytt-1")
    finally:
        monkeypatch.setattr(offline.os, "replace", real_replace)
        local.dispose()
    assert offline._pending_salt_path(path).exists()
    with pytest.raises(offline.LocalKeyError):
        open_local(path, "gammalt-1")  # the file already has the new key
    local = open_local(path, "nytt-1")
    local.dispose()
    assert not offline._pending_salt_path(path).exists()
    open_local(path, "nytt-1").dispose()  # and from now on without any recovery


def test_a_correction_is_inserted_after_the_note_it_corrects() -> None:
    """The server returns rows in any order; SQLite checks each foreign key at once."""
    from services.offline import TABLES_BY_NAME, parents_first

    first, second, third = (uuid.uuid4() for _ in range(3))
    rows = [
        {"id": third, "corrects_id": second},
        {"id": second, "corrects_id": first},
        {"id": first, "corrects_id": None},
    ]
    ordered = [r["id"] for r in parents_first(TABLES_BY_NAME["contact_entry"], rows)]
    assert ordered == [first, second, third]
    person = TABLES_BY_NAME["person"]
    assert parents_first(person, rows[:2]) == rows[:2]  # no self-reference: order kept
