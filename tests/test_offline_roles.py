"""Offline checkout and sync as the user's own PostgreSQL role (issue 7 on issue 6's server).

The central URL names no database user, as on a workstation: ``offline
checkout`` and ``sync`` connect as ``fokus_u_<username>`` with the user's
password, so every central read and write is under that role's grants and
row-level security — checkout records, the audit upload, new cases numbered
at sync, conflicts, revocation and expiry. The test server authenticates
with ``trust`` (see tests/test_pg_roles.py), so these tests prove which role
the work runs as and what that role may do, not that the server checked the
password.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text, update

import services.offline as offline
import services.sync as sync_mod
from main import main
from models import (
    AuditEvent,
    Case,
    ContactEntry,
    OfflineCheckout,
    OfflineCheckoutCase,
    OfflineLocalState,
    Person,
)
from models.codes import MemberRole, Role
from services.access import AccessService
from services.audit import Actor, verify_chain
from services.auth import LoginError, authenticate
from services.cases import CaseService
from services.db import Database
from services.errors import NotFoundError, PermissionDeniedError
from services.journal import JournalService, NoteInput
from services.offline import KdfParams, checkout, open_local
from services.role_login import connect_central, login_central, names_own_role
from services.support import SupportService
from services.sync import resolve_conflict, sync, sync_as_user, sync_with_login
from tests.factories import ALI, BENGT, MARIE, make_case
from tests.test_pg_roles import Server, Staff, _admin, server  # noqa: F401  (the fixture)
from tests.test_role_login import _server_url

pytestmark = pytest.mark.postgres

A = MemberRole.APPLICANT


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cheap argon2id for the laptop key; the real cost is tested in test_offline_sync."""
    monkeypatch.setattr(
        offline, "DEFAULT_KDF", KdfParams(time_cost=1, memory_kib=8192, parallelism=1)
    )


@pytest.fixture
def as_role(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``current_user`` in the sync's central transaction, seen where it appends the
    laptop's audit events to the chain (the middle of the sync's central work)."""
    seen: list[str] = []
    original = sync_mod.append_to_chain

    def spy(session: Any, events: Any) -> Any:
        seen.append(str(session.scalar(text("SELECT current_user"))))
        return original(session, events)

    monkeypatch.setattr(sync_mod, "append_to_chain", spy)
    yield seen


def _actor(staff: Staff, role: Role = Role.CASEWORKER) -> Actor:
    return Actor(username=staff.username, role=role, user_id=staff.user_id, workstation="laptop")


def _note(text_: str) -> NoteInput:
    return NoteInput(
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
        agency_code="client",
        method_code="home_visit",
        text=text_,
    )


def _number(srv: Server, case_id: uuid.UUID) -> str:
    with srv.owner.begin() as s:
        return str(s.scalar(select(Case.case_number).where(Case.id == case_id)))


def _count(db: Database, stmt: Any) -> int:
    with db.begin() as s:
        return int(s.scalar(stmt) or 0)


def _checkout_as(srv: Server, who: str, path: Path, **kw: Any) -> offline.CheckoutResult:
    staff = srv.staff[who]
    central = connect_central(_server_url(srv.url), staff.username, staff.password)
    try:
        return checkout(central, path, staff.username, staff.password, **kw)
    finally:
        central.dispose()


def test_the_central_url_decides_how_checkout_and_sync_log_in(
    server: Server,  # noqa: F811
) -> None:
    anna = server.staff["anna"]
    url = _server_url(server.url)
    own = url.replace("postgresql+psycopg://", f"postgresql+psycopg://{anna.role_name}@")
    assert names_own_role(own, anna.username) and not names_own_role(url, anna.username)
    for central_url in (url, own):
        central = connect_central(central_url, anna.username, anna.password)
        try:
            with central.begin() as s:
                assert s.scalar(text("SELECT session_user")) == anna.role_name
            assert login_central(central, anna.username, anna.password, "ws").user_id == (
                anna.user_id
            )
            # Another user's name on this connection is refused: the role is anna's.
            erik = server.staff["erik"]
            with pytest.raises(LoginError, match="fel användarnamn eller lösenord"):
                login_central(central, erik.username, erik.password, "ws")
        finally:
            central.dispose()
    # The owner's URL keeps Fokus's own password check (IT, tests, the bench).
    with pytest.raises(LoginError):
        login_central(server.owner, anna.username, "fel-lösenord", "ws")
    assert login_central(server.owner, anna.username, anna.password, "ws").user_id == (anna.user_id)


def test_checkout_edit_and_sync_back_as_the_caseworkers_own_role(  # noqa: PLR0915
    server: Server,  # noqa: F811
    tmp_path: Path,
    as_role: list[str],
) -> None:
    anna = server.staff["anna"]
    url = _server_url(server.url)
    case_id = server.cases["c_anna"]
    path = tmp_path / "anna.fokus"
    result = _checkout_as(server, "anna", path)
    # Her own open case only: RLS and the service choose the same.
    assert result.case_numbers == [_number(server, case_id)]
    with server.owner.begin() as s:
        row = s.get(OfflineCheckout, result.checkout_id)
        assert row is not None and row.user_id == anna.user_id
        assert s.scalars(
            select(OfflineCheckoutCase.case_id).where(
                OfflineCheckoutCase.checkout_id == result.checkout_id
            )
        ).all() == [case_id]
        checked_out = s.scalars(
            select(AuditEvent.user_id).where(AuditEvent.action == "offline_case_checked_out")
        ).all()
        assert checked_out == [anna.user_id]

    local = open_local(path, anna.password, allow_expired=False)
    try:
        # The offline login works: the laptop has a hash of the password the server took.
        assert authenticate(local, anna.username, anna.password, "laptop").user_id == (anna.user_id)
        me = _actor(anna)
        note = JournalService(db=local, actor=me).add_note(
            case_id, _note("Hembesök offline"), sign=True
        )
        with local.begin() as s:
            unit_id = s.scalar(select(Case.unit_id).where(Case.id == case_id))
            s.execute(update(Case).where(Case.id == case_id).values(town="Järna"))
        new = make_case(
            CaseService(db=local, actor=me), unit_id, (A, MARIE), caseworker_id=anna.user_id
        )
        assert re.fullmatch(r"FS-2024-L[0-9A-F]{4}-0001", new.case_number)
        with server.owner.begin() as s:  # meanwhile, centrally
            s.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(town="Nykvarn", summary="Ändrad centralt", version=Case.version + 1)
            )

        done = sync_as_user(url, local, anna.password, workstation="laptop")
        assert set(as_role) == {anna.role_name}  # the whole central transaction: her role
        ((provisional, real),) = done.new_cases
        assert provisional == new.case_number and re.fullmatch(r"FS-2024-\d{5}", real)
        (conflict,) = done.conflicts
        assert (conflict.field, conflict.theirs, conflict.yours) == ("town", "Nykvarn", "Järna")
        with server.owner.begin() as s:
            assert s.get(ContactEntry, note.id) is not None
            new_row = s.get(Case, new.id)
            assert new_row is not None and new_row.case_number == real
            assert s.scalar(
                select(func.count()).where(
                    OfflineCheckoutCase.checkout_id == result.checkout_id,
                    OfflineCheckoutCase.case_id == new.id,
                )
            )
            synced = s.get(OfflineCheckout, result.checkout_id)
            assert synced is not None and synced.last_synced_at is not None
            uploaded = s.execute(
                select(AuditEvent.user_id, AuditEvent.detail).where(
                    AuditEvent.action == "offline_sync"
                )
            ).one()
            assert uploaded.user_id == anna.user_id
            assert json.loads(uploaded.detail)["pushed"] >= 3
            signed = s.scalar(
                select(func.count()).where(
                    AuditEvent.action == "note_signed", AuditEvent.user_id == anna.user_id
                )
            )
            assert signed == 1
        with local.begin() as s:
            c = s.get(Case, case_id)
            assert c is not None and (c.summary, c.town) == ("Ändrad centralt", "Järna")

        # Keep the laptop's town: sent at the next sync, under her role again.
        resolve_conflict(local, conflict.id, "yours")
        again = sync_as_user(url, local, anna.password, workstation="laptop")
        assert again.conflicts == [] and again.new_cases == []
        with server.owner.begin() as s:
            c = s.get(Case, case_id)
            assert c is not None and c.town == "Järna"
            assert s.scalar(select(func.count()).where(ContactEntry.case_id == case_id)) == 2
        assert sync_as_user(url, local, anna.password, workstation="laptop").compared == 0
    finally:
        local.dispose()
    assert set(as_role) == {anna.role_name}
    with server.owner.begin() as s:
        assert verify_chain(s).ok


def test_a_second_caseworkers_role_cannot_check_out_or_sync_the_first_ones_cases(
    server: Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    anna, erik = server.staff["anna"], server.staff["erik"]
    url = _server_url(server.url)
    annas_case = _number(server, server.cases["c_anna"])

    # erik names anna's case: RLS hides it from his role; nothing is recorded or written.
    with pytest.raises((NotFoundError, PermissionDeniedError)):
        _checkout_as(server, "erik", tmp_path / "erik.fokus", case_numbers=[annas_case])
    assert not (tmp_path / "erik.fokus").exists()
    # By default he takes only his own.
    theirs = _checkout_as(server, "erik", tmp_path / "erik2.fokus")
    assert theirs.case_numbers == [_number(server, server.cases["c_erik"])]

    mine = _checkout_as(server, "anna", tmp_path / "anna.fokus")
    local = open_local(tmp_path / "anna.fokus", anna.password)
    try:
        JournalService(db=local, actor=_actor(anna)).add_note(
            server.cases["c_anna"], _note("Anteckning på annas dator"), sign=True
        )
        before = _count(server.owner, select(func.count()).select_from(AuditEvent))
        erik_db = connect_central(url, erik.username, erik.password)
        try:
            # Logging in as anna on erik's connection is refused.
            with pytest.raises(LoginError):
                sync_with_login(erik_db, local, anna.password, workstation="ws")
            # Even past the login, his role cannot see anna's checkout: nothing is written.
            with pytest.raises(NotFoundError, match="utcheckningen finns inte"):
                sync(erik_db, local)
            with erik_db.begin() as s:
                assert s.scalar(select(func.count()).select_from(OfflineCheckout)) == 1
                assert s.get(OfflineCheckout, mine.checkout_id) is None
        finally:
            erik_db.dispose()
        assert _count(server.owner, select(func.count()).select_from(AuditEvent)) == before
        assert _count(server.owner, select(func.count()).select_from(ContactEntry)) == 2
    finally:
        local.dispose()
    # In psql his role sees no row of anna's checkout either.
    with server.psql("erik") as conn:
        rows = conn.execute(
            "SELECT count(*) FROM offline_checkout_case WHERE checkout_id = %s",
            (mine.checkout_id,),
        ).fetchone()
        assert rows == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE offline_checkout SET expires_at = now() + interval '60 days'")


def test_protected_cases_are_never_checked_out_as_a_role(
    server: Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    anna = server.staff["anna"]
    case_id = server.cases["c_anna"]
    with server.owner.begin() as s:
        s.execute(update(Person).values(protection="confidentiality_marking"))
    # Not named on the case: RLS hides it from her role altogether.
    hidden = _checkout_as(server, "anna", tmp_path / "a.fokus")
    assert hidden.case_numbers == [] and hidden.skipped_protected == []
    # Named: she may open it, and the checkout still leaves it behind.
    AccessService(db=server.owner, actor=Actor.cli()).name_staff(case_id, anna.user_id)
    named = _checkout_as(server, "anna", tmp_path / "b.fokus")
    assert named.case_numbers == [] and named.skipped_protected == [_number(server, case_id)]
    local = open_local(tmp_path / "b.fokus", anna.password)
    try:
        assert _count(local, select(func.count()).select_from(Person)) == 0
    finally:
        local.dispose()


def test_revocation_and_expiry_through_the_users_roles(
    server: Server,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    anna, lena, erik = server.staff["anna"], server.staff["lena"], server.staff["erik"]
    url = _server_url(server.url)
    first = _checkout_as(server, "anna", tmp_path / "a.fokus")
    local = open_local(tmp_path / "a.fokus", anna.password)
    try:
        note = JournalService(db=local, actor=_actor(anna)).add_note(
            server.cases["c_anna"], _note("Före återkallelsen"), sign=True
        )
    finally:
        local.dispose()

    # Without --user a per-user server cannot be used: one line, exit 1.
    assert main(["offline", "list", "--central", url]) == 1
    assert "ange --user" in capsys.readouterr().err
    # The listing as the arbetsledare's own role shows the unit's checkouts.
    monkeypatch.setattr("sys.stdin", io.StringIO(lena.password + "\n"))
    assert main(["offline", "list", "--central", url, "--user", lena.username]) == 0
    assert f"L{first.laptop_code}\t{anna.username}\t1 ärenden" in capsys.readouterr().out
    # A caseworker's role may not revoke (no grant on revoked_at), the arbetsledare's may.
    monkeypatch.setattr("sys.stdin", io.StringIO(erik.password + "\n"))
    revoke = ["offline", "revoke", "--central", url, f"L{first.laptop_code}"]
    assert main([*revoke, "--user", erik.username]) != 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(lena.password + "\n"))
    assert main([*revoke, "--user", lena.username]) == 0
    assert "återkallad" in capsys.readouterr().out
    with server.owner.begin() as s:
        row = s.get(OfflineCheckout, first.checkout_id)
        assert row is not None and row.revoked_by == lena.username

    local = open_local(tmp_path / "a.fokus", anna.password)
    try:
        done = sync_as_user(url, local, anna.password, workstation="laptop")
        assert done.status == "revoked" and done.purged_cases == 1
        assert _count(local, select(func.count()).select_from(Case)) == 0
    finally:
        local.dispose()
    with server.owner.begin() as s:
        assert s.get(ContactEntry, note.id) is not None  # nothing written offline is lost
        row = s.get(OfflineCheckout, first.checkout_id)
        assert row is not None and row.returned_at is not None

    # Expiry: the laptop hands its changes back and deletes the cases, as her role.
    second = _checkout_as(server, "anna", tmp_path / "b.fokus", days=1)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with server.owner.begin() as s:
        s.execute(
            update(OfflineCheckout)
            .where(OfflineCheckout.id == second.checkout_id)
            .values(expires_at=past)
        )
    local = open_local(tmp_path / "b.fokus", anna.password)
    try:
        with local.begin() as s:
            s.execute(update(OfflineLocalState).values(expires_at=past))
        JournalService(db=local, actor=_actor(anna)).add_note(
            server.cases["c_anna"], _note("Efter utgången"), sign=True
        )
        done = sync_as_user(url, local, anna.password, workstation="laptop")
        assert done.status == "expired" and done.purged_cases == 1
    finally:
        local.dispose()
    assert _count(server.owner, select(func.count()).where(ContactEntry.text == "Efter utgången"))


def test_an_interrupted_sync_as_a_role_uploads_every_laptop_event_once(
    server: Server,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An offline login failure under an unknown name has no user: RLS hides it from the
    uploader's role once uploaded, so a rerun asks the definer function instead."""
    anna = server.staff["anna"]
    url = _server_url(server.url)
    _checkout_as(server, "anna", tmp_path / "a.fokus")
    local = open_local(tmp_path / "a.fokus", anna.password)
    try:
        with pytest.raises(LoginError):
            authenticate(local, "finns_inte", "x", "laptop")
        JournalService(db=local, actor=_actor(anna)).add_note(
            server.cases["c_anna"], _note("Skrivet offline"), sign=True
        )

        def crash(stage: str) -> None:
            if stage == "central_committed":
                raise RuntimeError("strömavbrott")

        monkeypatch.setattr(sync_mod, "_checkpoint", crash)
        with pytest.raises(RuntimeError, match="strömavbrott"):
            sync_as_user(url, local, anna.password, workstation="laptop")
        monkeypatch.setattr(sync_mod, "_checkpoint", lambda _stage: None)
        again = sync_as_user(url, local, anna.password, workstation="laptop")
        assert again.audit_uploaded == 0
    finally:
        local.dispose()
    with server.owner.begin() as s:
        anonymous = s.scalar(
            select(func.count()).where(
                AuditEvent.action == "login_failure", AuditEvent.user_id.is_(None)
            )
        )
        assert anonymous == 1
        assert s.scalar(select(func.count()).where(ContactEntry.text == "Skrivet offline")) == 1
        assert verify_chain(s).ok
    # What the function tells a caseworker's role: existence of the uuids asked for, only.
    with server.psql("erik") as conn:
        asked = [str(uuid.uuid4())]
        assert conn.execute(
            "SELECT count(*) FROM fokus_audit_events_known(%s::uuid[])", (asked,)
        ).fetchone() == (0,)
    with server.psql("adam") as conn:  # an administratör: no answer at all
        with server.owner.begin() as s:
            some = [str(u) for u in s.scalars(select(AuditEvent.event_uuid).limit(3))]
        assert conn.execute(
            "SELECT count(*) FROM fokus_audit_events_known(%s::uuid[])", (some,)
        ).fetchone() == (0,)


def test_cli_checkout_and_sync_on_a_per_user_server(
    server: Server,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    anna = server.staff["anna"]
    url = _server_url(server.url)
    path = tmp_path / "cli.fokus"
    monkeypatch.setattr("sys.stdin", io.StringIO(anna.password + "\n"))
    checkout_args = ["offline", "checkout", "--central", url, "--local", str(path)]
    assert main([*checkout_args, "--user", anna.username]) == 0
    assert "1 ärenden utcheckade" in capsys.readouterr().out
    local = open_local(path, anna.password)
    try:
        JournalService(db=local, actor=_actor(anna)).add_note(
            server.cases["c_anna"], _note("Från kommandoraden"), sign=True
        )
    finally:
        local.dispose()
    monkeypatch.setattr("sys.stdin", io.StringIO(anna.password + "\n"))
    assert main(["sync", "--central", url, "--local", str(path)]) == 0
    captured = capsys.readouterr()
    assert "synkroniserat: 1 ändringar skickade" in captured.out, captured
    with server.owner.begin() as s:
        logins = s.execute(
            select(AuditEvent.detail).where(
                AuditEvent.action == "login_success", AuditEvent.user_id == anna.user_id
            )
        ).all()
    # Both logins were the server's (db_role), not Fokus's password check.
    assert len(logins) == 2 and all(json.loads(d)["db_role"] for (d,) in logins)


def test_a_refused_central_password_names_sync_new_password(
    server: Server,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The test server trusts every password, so the server's refusal is stood in for
    where the driver reports it; what is tested is Fokus's handling of it."""
    anna = server.staff["anna"]
    url = _server_url(server.url)
    path = tmp_path / "a.fokus"
    _checkout_as(server, "anna", path)
    import services.role_login as role_login

    real_open = role_login.open_database
    central_now = "nytt-centralt-9"

    def server_checks(target: str, **kw: Any) -> Database:
        if kw.get("password") != central_now:
            raise role_login.DatabaseUnavailableError("databasen kan inte nås") from _Refused()
        return real_open(target, **kw)

    monkeypatch.setattr(role_login, "open_database", server_checks)
    monkeypatch.setattr("sys.stdin", io.StringIO(anna.password + "\n"))
    assert main(["sync", "--central", url, "--local", str(path)]) == 1
    err = capsys.readouterr().err
    assert "sync --new-password" in err and err.count("\n") == 1
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{anna.password}\n{central_now}\n"))
    assert main(["sync", "--central", url, "--local", str(path), "--new-password"]) == 0
    assert "låst med det nya lösenordet" in capsys.readouterr().out
    with pytest.raises(offline.LocalKeyError):
        open_local(path, anna.password)
    open_local(path, central_now).dispose()


class _Refused(Exception):
    """What the driver raises when the server refuses a password (as Fokus sees it)."""

    sqlstate = "28P01"

    def __init__(self) -> None:
        super().__init__('password authentication failed for user "fokus_u_x"')


def test_a_new_offline_case_with_a_person_in_another_caseworkers_case_is_flagged(
    server: Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    """RLS hides the person (in erik's case) from anna's role: the sync still makes the
    laptop's new person that central person, on both sides, and flags the case."""
    anna = server.staff["anna"]
    url = _server_url(server.url)
    path = tmp_path / "a.fokus"
    _checkout_as(server, "anna", path)
    local = open_local(path, anna.password)
    try:
        with local.begin() as s:
            unit_id = s.scalar(select(Case.unit_id))
        new = make_case(
            CaseService(db=local, actor=_actor(anna)),
            unit_id,
            (A, BENGT),
            caseworker_id=anna.user_id,
        )
        done = sync_as_user(url, local, anna.password, workstation="laptop")
        (flag,) = done.flags
        assert _number(server, server.cases["c_erik"]) in flag
        for db in (server.owner, local):
            assert _count(db, select(func.count()).where(Person.first_name == "Bengt")) == 1
        with server.owner.begin() as s:
            assert s.get(Case, new.id) is not None
        assert sync_as_user(url, local, anna.password, workstation="laptop").compared == 0
    finally:
        local.dispose()


def test_arkiv_synkronisera_logs_in_as_the_role_and_rekeys_after_a_password_change(  # type: ignore[no-untyped-def]
    qtbot,
    server: Server,  # noqa: F811
    tmp_path: Path,
    as_role: list[str],
) -> None:
    """The real menu, dialogs and sync on a per-user server (the server's password check is
    ``trust`` here; the laptop file's own check is real)."""
    from ui.main_window import MainWindow
    from ui.sync_dialog import OfflineMenu, local_functions
    from ui.worker import BackgroundRunner

    anna = server.staff["anna"]
    url = _server_url(server.url)
    path = tmp_path / "a.fokus"
    _checkout_as(server, "anna", path)
    local = open_local(path, anna.password)
    runner = BackgroundRunner()
    window = MainWindow(user_label="Anna (handläggare)")
    qtbot.addWidget(window)
    menu = OfflineMenu(
        main_window=window,
        runner=runner,
        **local_functions(local, url, workstation="laptop"),
    )
    try:
        note = JournalService(db=local, actor=_actor(anna)).add_note(
            server.cases["c_anna"], _note("Skrivet i appen offline"), sign=True
        )
        window.show()

        # A wrong password for the file: refused before anything central happens.
        menu.sync_action.trigger()
        menu.password_dialog.password.setText("inte-filens-lösen")
        menu.password_dialog.ok_button.click()
        qtbot.waitUntil(lambda: menu.dialog.close_button.isEnabled(), timeout=30_000)
        assert "fel lösenord för den lokala databasen" in menu.dialog.status.text()
        assert as_role == []
        menu.dialog.close()

        # The password changed centrally: the old one for the file, the new one for central.
        new_password = "nytt-centralt-7"
        menu.sync_action.trigger()
        ask = menu.password_dialog
        ask.changed.setChecked(True)
        ask.password.setText(anna.password)
        ask.new_password.setText(new_password)
        ask.ok_button.click()
        qtbot.waitUntil(lambda: menu.dialog.close_button.isEnabled(), timeout=60_000)
        assert menu.dialog.status.text() == "Synkroniseringen är klar.", (
            menu.dialog.log.toPlainText()
        )
        assert "låst med det nya lösenordet" in menu.dialog.log.toPlainText()
        assert set(as_role) == {anna.role_name}
        window.close()  # nothing unsynchronised: no question
        assert not window.isVisible()
    finally:
        window.removeEventFilter(menu)  # never a modal question at teardown
        runner.wait()
        local.dispose()
    with server.owner.begin() as s:
        assert s.get(ContactEntry, note.id) is not None
        rekeyed = s.scalar(select(AuditEvent.user_id).where(AuditEvent.action == "offline_rekeyed"))
        assert rekeyed == anna.user_id
    with pytest.raises(offline.LocalKeyError):
        open_local(path, anna.password)
    reopened = open_local(path, new_password)
    try:
        assert authenticate(reopened, anna.username, new_password, "laptop").user_id == (
            anna.user_id
        )
    finally:
        reopened.dispose()


def test_a_case_reassigned_while_out_is_kept_with_its_changes_or_dropped_without(
    server: Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The arbetsledare moves a checked-out case to erik: anna's role no longer sees it.
    Changed on the laptop, it stays there with its changes (nothing central is touched,
    nothing lost) until she may open it again; unchanged, it leaves the laptop."""
    anna, erik = server.staff["anna"], server.staff["erik"]
    url = _server_url(server.url)
    cli = CaseService(db=server.owner, actor=Actor.cli())
    with server.owner.begin() as s:
        unit_id = s.scalar(select(Case.unit_id).where(Case.id == server.cases["c_anna"]))
    second = make_case(cli, unit_id, (A, MARIE), caseworker_id=anna.user_id).id
    kept, dropped = server.cases["c_anna"], second
    path = tmp_path / "a.fokus"
    _checkout_as(server, "anna", path)
    local = open_local(path, anna.password)
    try:
        note = JournalService(db=local, actor=_actor(anna)).add_note(
            kept, _note("Skrivet innan ärendet flyttades"), sign=True
        )
        with server.owner.begin() as s:
            s.execute(
                update(Case)
                .where(Case.id.in_([kept, dropped]))
                .values(caseworker_id=erik.user_id, version=Case.version + 1)
            )
        done = sync_as_user(url, local, anna.password, workstation="laptop")
        assert done.kept_cases == [_number(server, kept)]
        assert done.removed_cases == 1
        assert "kan du inte längre öppna" in done.summary()
        with local.begin() as s:
            assert s.get(Case, kept) is not None and s.get(Case, dropped) is None
            assert s.get(ContactEntry, note.id) is not None
        with server.owner.begin() as s:
            assert s.get(ContactEntry, note.id) is None  # not pushed: her role may not
        assert sync_mod.pending_changes(local) or offline.local_status(local).unsynced_changes
        # She is given the case again (a share): the next sync pushes the note.
        with server.owner.begin() as s:
            s.execute(
                update(Case)
                .where(Case.id == kept)
                .values(caseworker_id=anna.user_id, version=Case.version + 1)
            )
        again = sync_as_user(url, local, anna.password, workstation="laptop")
        assert again.kept_cases == []
        with server.owner.begin() as s:
            assert s.get(ContactEntry, note.id) is not None
    finally:
        local.dispose()


def test_a_revoked_copy_keeps_a_withheld_case_until_its_changes_are_sent(
    server: Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    anna, erik = server.staff["anna"], server.staff["erik"]
    url = _server_url(server.url)
    case_id = server.cases["c_anna"]
    path = tmp_path / "a.fokus"
    first = _checkout_as(server, "anna", path)
    local = open_local(path, anna.password)
    try:
        note = JournalService(db=local, actor=_actor(anna)).add_note(
            case_id, _note("Före flytt och återkallelse"), sign=True
        )
        with server.owner.begin() as s:
            s.execute(update(Case).where(Case.id == case_id).values(caseworker_id=erik.user_id))
            offline.revoke_checkout(s, Actor.cli(), first.checkout_id)
        done = sync_as_user(url, local, anna.password, workstation="laptop")
        assert done.status == "revoked" and done.kept_cases and done.purged_cases == 0
        assert "tas inte bort från datorn" in done.summary()
        with local.begin() as s:
            assert s.get(ContactEntry, note.id) is not None
        with server.owner.begin() as s:
            row = s.get(OfflineCheckout, first.checkout_id)
            assert row is not None and row.returned_at is None
            s.execute(update(Case).where(Case.id == case_id).values(caseworker_id=anna.user_id))
        done = sync_as_user(url, local, anna.password, workstation="laptop")
        assert done.kept_cases == [] and done.purged_cases == 1
        with server.owner.begin() as s:
            assert s.get(ContactEntry, note.id) is not None
            row = s.get(OfflineCheckout, first.checkout_id)
            assert row is not None and row.returned_at is not None
    finally:
        local.dispose()


def test_a_sync_as_a_role_writes_many_rows_in_few_statements(
    server: Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Every statement on a role connection evaluates the row policies' visible-case set
    (hundreds of milliseconds at 100,000 cases), so the checkout's case list, the pushed
    notes and the pushed case changes are one statement each, not one per row."""
    from sqlalchemy import event

    anna = server.staff["anna"]
    url = _server_url(server.url)
    cli = CaseService(db=server.owner, actor=Actor.cli())
    with server.owner.begin() as s:
        unit_id = s.scalar(select(Case.unit_id).where(Case.id == server.cases["c_anna"]))
    for person in (MARIE, ALI):
        make_case(cli, unit_id, (A, person), caseworker_id=anna.user_id)
    seen: list[tuple[str, bool]] = []

    def listen(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        seen.append((" ".join(statement.split()[:3]), many))

    central = connect_central(url, anna.username, anna.password)
    event.listen(central.engine, "before_cursor_execute", listen)
    try:
        result = checkout(central, tmp_path / "a.fokus", anna.username, anna.password)
        assert len(result.case_numbers) == 3
        assert seen.count(("INSERT INTO offline_checkout_case", False)) == 1
        local = open_local(tmp_path / "a.fokus", anna.password)
        try:
            with local.begin() as s:
                ids = list(s.scalars(select(Case.id)))
                s.execute(update(Case).values(town="Järna"))
            for case_id in ids:
                JournalService(db=local, actor=_actor(anna)).add_note(
                    case_id, _note("Hembesök"), sign=True
                )
                for month in (date(2024, 9, 1), date(2024, 10, 1)):
                    SupportService(db=local, actor=_actor(anna)).add_month(case_id, month, 812_000)
            seen.clear()
            done = sync_with_login(central, local, anna.password, workstation="laptop")
            assert done.pushed == 12 and done.conflicts == []
        finally:
            local.dispose()
    finally:
        central.dispose()
    writes = [(what, many) for what, many in seen if what.split()[0] in ("INSERT", "UPDATE")]
    assert writes.count(("UPDATE fs_case SET", False)) == 1, writes
    assert writes.count(("INSERT INTO contact_entry", False)) == 1, writes
    assert writes.count(("INSERT INTO support_month", False)) == 1, writes
    # Whether another side added "the same" month: one read for all six, not one each.
    month_reads = [w for w, _m in seen if w.startswith("SELECT support_month.case_id,")]
    assert len(month_reads) == 3, month_reads  # the changed rows, the clash check, stamps
    assert not [
        w for w in writes if w[0].startswith(("UPDATE fs_case", "INSERT INTO contact")) and w[1]
    ]
