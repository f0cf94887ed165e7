"""Offline laptops end to end: a real PostgreSQL as central, an SQLCipher file as the laptop.

Covers the encrypted file, checkout, offline work through the normal services,
the three-way merge (new rows, one-sided edits, conflicts), revocation and
expiry, an interrupted sync run again, the audit chain after sync, and the
command line's exit codes.
"""

from __future__ import annotations

import io
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

import services.offline as offline
import services.sync as sync_mod
from main import main
from models import AuditEvent, Case, ContactEntry, OfflineCheckout, OfflineLocalState, Person
from models.codes import MemberRole, Role
from services.audit import Actor, verify_chain
from services.cases import CaseChanges, CaseService
from services.db import Database, open_database
from services.errors import EXIT_DATABASE
from services.journal import JournalService, NoteInput
from services.offline import CheckoutExpiredError, KdfParams, LocalKeyError, checkout, open_local
from services.sync import resolve_conflict, sync
from services.users import UserInput, create_user_in
from tests.factories import BENGT, KARIN, MARIE, OSKAR, make_case

pytestmark = pytest.mark.postgres

PW = "hemligt-lösen-1"
A, C, B = MemberRole.APPLICANT, MemberRole.CO_APPLICANT, MemberRole.CHILD
UNIT = "Försörjningsstöd Södertälje"


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cheap argon2id for tests; the real cost is checked in its own test."""
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
    cli = Actor.cli()
    out = {}
    with central.begin() as s:
        for name, role in (
            ("anna", Role.CASEWORKER),
            ("bo", Role.CASEWORKER),
            ("lena", Role.TEAM_LEADER),
        ):
            user = create_user_in(
                s,
                cli,
                UserInput(
                    username=name,
                    full_name=name.title(),
                    role=role,
                    unit_name=UNIT,
                    # Only anna logs in here: each argon2 hash costs most of a second.
                    password=PW if name == "anna" else None,
                ),
            )
            out[name] = user.id
        out["unit"] = user.unit_id
    return out


def _anna(users: dict[str, uuid.UUID]) -> Actor:
    return Actor(username="anna", role=Role.CASEWORKER, user_id=users["anna"], workstation="laptop")


def _note(text: str) -> NoteInput:
    return NoteInput(
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
        agency_code="client",
        method_code="home_visit",
        text=text,
    )


def _case_for_anna(central: Database, users: dict[str, uuid.UUID], *members, **kw) -> uuid.UUID:  # type: ignore[no-untyped-def]
    ref = make_case(
        CaseService(db=central, actor=Actor.cli()),
        users["unit"],
        *members,
        caseworker_id=users["anna"],
        **kw,
    )
    return ref.id


def _count(db: Database, stmt) -> int:  # type: ignore[no-untyped-def]
    with db.begin() as s:
        return int(s.scalar(stmt) or 0)


def _chain_ok(db: Database) -> None:
    with db.begin() as s:
        result = verify_chain(s)
    assert result.ok, result.message


def test_zero_case_checkout_creates_an_encrypted_file(
    central: Database, users, tmp_path: Path
) -> None:
    path = tmp_path / "laptop.fokus"
    result = checkout(central, path, "anna", PW)
    assert result.case_numbers == []
    assert path.exists() and offline.salt_path(path).exists()
    # Plain SQLite cannot read it, and it does not even show its schema.
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert b"fs_case" not in path.read_bytes()
    with pytest.raises(LocalKeyError) as wrong:
        open_local(path, "fel-lösenord")
    assert wrong.value.exit_code == EXIT_DATABASE
    local = open_local(path, PW, allow_expired=False)
    try:
        status = offline.local_status(local)
        assert status.username == "anna" and status.cases == 0 and not status.blocked
    finally:
        local.dispose()
    with central.begin() as s:
        row = s.scalars(select(OfflineCheckout)).one()
        assert row.username == "anna" and row.cases == []
        assert row.expires_at - row.checked_out_at == timedelta(days=offline.DEFAULT_CHECKOUT_DAYS)
    _chain_ok(central)


def test_protected_cases_are_never_checked_out(central: Database, users, tmp_path: Path) -> None:
    open_case = _case_for_anna(central, users, (A, KARIN), (B, OSKAR))
    hidden = _case_for_anna(central, users, (A, BENGT))
    with central.begin() as s:
        s.execute(
            update(Person)
            .where(Person.first_name == "Bengt")
            .values(protection="confidentiality_marking")
        )
        hidden_number = s.get(Case, hidden).case_number
        open_number = s.get(Case, open_case).case_number
    result = checkout(central, tmp_path / "l.fokus", "anna", PW)
    assert result.case_numbers == [open_number]
    assert result.skipped_protected == [hidden_number]
    local = open_local(tmp_path / "l.fokus", PW)
    try:
        assert _count(local, select(func.count()).select_from(Case)) == 1
        assert _count(local, select(func.count()).where(Person.first_name == "Bengt")) == 0
    finally:
        local.dispose()


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


def test_revoked_checkout_is_deleted_from_the_laptop_at_sync(
    central: Database, users, tmp_path: Path
) -> None:
    case_id = _case_for_anna(central, users, (A, KARIN))
    path = tmp_path / "l.fokus"
    result = checkout(central, path, "anna", PW)
    local = open_local(path, PW)
    try:
        note = JournalService(db=local, actor=_anna(users)).add_note(
            case_id, _note("Sista besöket"), sign=True
        )
        lena = Actor(username="lena", role=Role.TEAM_LEADER, user_id=users["lena"])
        bo = Actor(username="bo", role=Role.CASEWORKER, user_id=users["bo"])
        with central.begin() as s, pytest.raises(offline.PermissionDeniedError):
            offline.revoke_checkout(s, bo, result.checkout_id)
        with central.begin() as s:
            offline.revoke_checkout(s, lena, result.checkout_id)

        done = sync(central, local)
        assert done.status == "revoked" and done.purged_cases == 1
        # Nothing is lost: the note written before the sync reached central.
        with central.begin() as s:
            assert s.get(ContactEntry, note.id) is not None
            assert s.get(OfflineCheckout, result.checkout_id).returned_at is not None
        assert _count(local, select(func.count()).select_from(Case)) == 0
        assert _count(local, select(func.count()).select_from(ContactEntry)) == 0
    finally:
        local.dispose()
    with pytest.raises(CheckoutExpiredError):
        open_local(path, PW, allow_expired=False)
    _chain_ok(central)


def test_expired_checkout_cannot_be_opened(central: Database, users, tmp_path: Path) -> None:
    _case_for_anna(central, users, (A, KARIN))
    path = tmp_path / "l.fokus"
    checkout(central, path, "anna", PW, days=1)
    local = open_local(path, PW)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with local.begin() as s:
        s.execute(update(OfflineLocalState).values(expires_at=past))
    with central.begin() as s:
        s.execute(update(OfflineCheckout).values(expires_at=past))
    local.dispose()
    with pytest.raises(CheckoutExpiredError, match="gick ut"):
        open_local(path, PW, allow_expired=False)
    local = open_local(path, PW)
    try:
        assert sync(central, local).status == "expired"
        assert _count(local, select(func.count()).select_from(Case)) == 0
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


def test_cli_checkout_and_sync_with_password_on_stdin(
    central: Database, users, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _case_for_anna(central, users, (A, KARIN))
    path = tmp_path / "cli.fokus"
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert (
        main(["offline", "checkout", "--central", pg_url, "--local", str(path), "--user", "anna"])
        == 0
    )
    assert "1 ärenden utcheckade" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("fel\n"))
    assert main(["sync", "--central", pg_url, "--local", str(path)]) == EXIT_DATABASE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fel lösenord" in err[0]
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert main(["sync", "--central", pg_url, "--local", str(path)]) == 0
    captured = capsys.readouterr()
    assert "synkroniserat" in captured.out and "läser" in captured.err

    assert main(["offline", "list", "--central", pg_url]) == 0
    listed = capsys.readouterr().out
    code = re.search(r"\tL([0-9A-F]{4})\tanna\t1 ärenden", listed)
    assert code is not None, listed
    assert main(["offline", "revoke", "--central", pg_url, f"L{code.group(1)}"]) == 0
    assert "återkallad" in capsys.readouterr().out
    assert main(["offline", "revoke", "--central", pg_url, f"L{code.group(1)}"]) == 1
    assert "redan återkallad" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert main(["offline", "status", "--local", str(path)]) == 0
    assert "anna på L" in capsys.readouterr().out
    # --cases with no numbers: explicitly zero cases.
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    empty = tmp_path / "empty.fokus"
    args = ["offline", "checkout", "--central", pg_url, "--local", str(empty), "--user", "anna"]
    assert main([*args, "--cases"]) == 0
    assert "0 ärenden utcheckade" in capsys.readouterr().out


def test_real_key_derivation_cost_and_key_size() -> None:
    salt = b"0123456789abcdef"
    key = offline.derive_key(PW, salt, KdfParams())
    assert len(key) == 32
    assert key != offline.derive_key(PW + "x", salt, KdfParams())


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
