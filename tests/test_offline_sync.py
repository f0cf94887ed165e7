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
from main import main
from models import Case, ContactEntry, OfflineCheckout, OfflineLocalState, Person
from models.codes import MemberRole, Role
from services.audit import Actor, verify_chain
from services.cases import CaseService
from services.db import Database, open_database
from services.errors import EXIT_DATABASE
from services.journal import JournalService, NoteInput
from services.offline import CheckoutExpiredError, KdfParams, LocalKeyError, checkout, open_local
from services.sync import sync
from services.users import UserInput, create_user_in
from tests.factories import BENGT, KARIN, OSKAR, make_case

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
    return make_users(central)


def make_users(central: Database) -> dict[str, uuid.UUID]:
    """anna and bo (handläggare) and lena (arbetsledare) in one unit; ids and "unit"."""
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
