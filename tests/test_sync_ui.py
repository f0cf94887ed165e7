"""The offline parts of the main window: status bar, Arkiv → Synkronisera, the quit warning.

The sync function is injected, so these tests need no server; the real sync
is tested in test_offline_sync.py.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtWidgets import QMessageBox

from services.errors import DatabaseUnavailableError
from services.offline import LocalStatus
from services.sync import Conflict, SyncResult
from ui.main_window import MainWindow
from ui.sync_dialog import OfflineMenu, SyncController, SyncDialog
from ui.worker import BackgroundRunner


def _status(*, expires_in: timedelta = timedelta(days=3), revoked: bool = False) -> LocalStatus:
    now = datetime.now(UTC)
    return LocalStatus(
        username="anna",
        laptop_code="3F9A",
        checked_out_at=now - timedelta(days=1),
        expires_at=now + expires_in,
        revoked_at=now if revoked else None,
        last_sync_at=None,
        cases=2,
        unsynced_changes=False,
    )


@pytest.fixture
def runner(qtbot) -> BackgroundRunner:  # type: ignore[no-untyped-def]
    r = BackgroundRunner()
    yield r
    r.wait()


def test_sync_dialog_shows_progress_from_the_worker_and_the_result(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    threads = []

    def fake_sync(progress):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        progress("läser den lokala kopian")
        progress("skickar ändringar")
        return SyncResult(
            pushed=3,
            pulled=1,
            audit_uploaded=4,
            new_cases=[("FS-2026-L3F9A-0001", "FS-2026-00042")],
        )

    dialog = SyncDialog()
    qtbot.addWidget(dialog)
    ctl = SyncController(dialog=dialog, run_sync=fake_sync, runner=runner)
    assert not dialog.close_button.isEnabled()
    with qtbot.waitSignal(ctl.finished, timeout=5000):
        ctl.start()
    assert threads and threads[0] is not threading.main_thread()
    qtbot.waitUntil(lambda: "skickar ändringar" in dialog.log.toPlainText())
    text = dialog.log.toPlainText()
    assert "3 ändringar skickade" in text and "FS-2026-00042" in text
    assert dialog.close_button.isEnabled()
    assert dialog.status.text() == "Synkroniseringen är klar."
    assert not dialog.conflicts_button.isVisibleTo(dialog)
    assert dialog.windowTitle().startswith("Fokus")


def test_conflicts_are_announced_and_offered_for_resolution(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    conflict = Conflict(
        uuid.uuid4(),
        "fs_case",
        str(uuid.uuid4()),
        "summary",
        "FS-2026-00001",
        "bas",
        "central",
        "laptop",
    )

    dialog = SyncDialog()
    qtbot.addWidget(dialog)
    ctl = SyncController(
        dialog=dialog,
        run_sync=lambda _p: SyncResult(conflicts=[conflict]),
        runner=runner,
        resolve=lambda picks: None,
    )
    with qtbot.waitSignal(ctl.finished, timeout=5000):
        ctl.start()
    assert "Inget har skrivits över" in dialog.status.text()
    assert dialog.conflicts_button.isVisibleTo(dialog)
    assert "bas 'bas', central 'central', din 'laptop'" in dialog.log.toPlainText()


def test_a_failed_sync_says_why_and_that_nothing_was_lost(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    def failing(_progress):  # type: ignore[no-untyped-def]
        raise DatabaseUnavailableError("databasen kan inte nås (server)")

    dialog = SyncDialog()
    qtbot.addWidget(dialog)
    ctl = SyncController(dialog=dialog, run_sync=failing, runner=runner)
    with qtbot.waitSignal(ctl.finished, timeout=5000):
        ctl.start()
    assert "misslyckades: databasen kan inte nås" in dialog.status.text()
    assert "Inget gick förlorat" in dialog.log.toPlainText()
    assert dialog.close_button.isEnabled()


def _menu(qtbot, runner, *, status: LocalStatus, pending: bool) -> tuple[MainWindow, OfflineMenu]:  # type: ignore[no-untyped-def]
    window = MainWindow(user_label="Anna (handläggare)")
    qtbot.addWidget(window)
    menu = OfflineMenu(
        main_window=window,
        status=lambda: status,
        pending=lambda: pending,
        make_sync=lambda: lambda _p: SyncResult(),
        runner=runner,
    )
    return window, menu


def test_status_bar_says_offline_and_arkiv_has_synkronisera(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    status = _status()
    window, menu = _menu(qtbot, runner, status=status, pending=False)
    assert menu.offline_label.text() == f"Offline – utcheckat till {status.expires_at:%Y-%m-%d}"
    file_menu = window.menuBar().actions()[0].menu()
    assert menu.sync_action in file_menu.actions()
    menu.sync_action.trigger()
    assert menu.dialog is not None and menu.controller is not None
    qtbot.waitUntil(lambda: menu.dialog.close_button.isEnabled(), timeout=5000)


def test_expired_or_revoked_copy_is_shown_in_red(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    _, expired = _menu(qtbot, runner, status=_status(expires_in=-timedelta(hours=1)), pending=False)
    assert "gick ut" in expired.offline_label.text()
    assert "a00000" in expired.offline_label.styleSheet()
    _, revoked = _menu(qtbot, runner, status=_status(revoked=True), pending=False)
    assert "återkallades" in revoked.offline_label.text()


@pytest.mark.parametrize(("pending", "answer", "closes"), [
    (True, QMessageBox.StandardButton.No, False),
    (True, QMessageBox.StandardButton.Yes, True),
    (False, None, True),
])  # fmt: skip
def test_quitting_with_unsynchronised_changes_warns(
    qtbot, runner, monkeypatch: pytest.MonkeyPatch, pending: bool, answer, closes: bool
) -> None:  # type: ignore[no-untyped-def]
    asked = []

    def question(*args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(args[2])
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    window, _ = _menu(qtbot, runner, status=_status(), pending=pending)
    window.show()
    qtbot.waitExposed(window)
    window.close()
    assert window.isVisible() is not closes
    assert bool(asked) is pending
    if asked:
        assert "inte är synkroniserade" in asked[0]


def test_resolving_conflicts_in_the_shared_conflict_dialog(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ui.conflict_dialog import THEIRS, ConflictDialog

    conflict = Conflict(
        uuid.uuid4(), "fs_case", str(uuid.uuid4()), "summary", "FS-2026-00001", "bas", "c", "l"
    )
    picked: list[list[tuple[Conflict, str]]] = []
    dialog = SyncDialog()
    qtbot.addWidget(dialog)
    ctl = SyncController(
        dialog=dialog,
        run_sync=lambda _p: SyncResult(conflicts=[conflict]),
        runner=runner,
        resolve=picked.append,
    )
    with qtbot.waitSignal(ctl.finished, timeout=5000):
        ctl.start()
    seen: list[ConflictDialog] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, ConflictDialog)
        seen.append(box)
        box.choose_all(THEIRS)
        box.accept()

    QTimer.singleShot(0, answer)
    dialog.conflicts_button.click()
    assert seen and seen[0].fields[0].theirs == "c" and seen[0].fields[0].yours == "l"
    qtbot.waitUntil(lambda: bool(picked), timeout=5000)
    assert picked == [[(conflict, "theirs")]]
    qtbot.waitUntil(lambda: "sparade" in dialog.status.text(), timeout=5000)


def test_case_windows_refuse_cases_of_an_expired_copy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from models import OfflineLocalState
    from services.errors import NotFoundError
    from services.offline import CheckoutExpiredError, KdfParams, create_local
    from ui.offline_app import OfflineCaseSource

    local = create_local(tmp_path / "l.fokus", "lösenord-1", kdf=KdfParams(1, 8192, 1))
    now = datetime.now(UTC)
    with local.begin() as s:
        s.add(
            OfflineLocalState(
                id=1,
                laptop_id=uuid.uuid4(),
                laptop_code="AB12",
                checkout_id=uuid.uuid4(),
                user_id=uuid.uuid4(),
                username="anna",
                checked_out_at=now,
                expires_at=now + timedelta(days=1),
                last_provisional=0,
            )
        )

    class Inner:
        def load(self, case_id):  # type: ignore[no-untyped-def]
            return ("detalj", case_id)

        other = "vidare"

    source = OfflineCaseSource(inner=Inner(), local=local)  # type: ignore[arg-type]
    try:
        with pytest.raises(NotFoundError):  # valid copy: the case must exist locally
            source.load(uuid.uuid4())
        assert source.other == "vidare"
        with local.begin() as s:
            s.execute(update(OfflineLocalState).values(expires_at=now - timedelta(minutes=1)))
        with pytest.raises(CheckoutExpiredError, match="gick ut"):
            source.load(uuid.uuid4())
    finally:
        local.dispose()


# --- a central server with per-user roles: Synkronisera asks for the password -------------------


def _login_menu(qtbot, runner, login_sync) -> tuple[MainWindow, OfflineMenu]:  # type: ignore[no-untyped-def]
    window = MainWindow(user_label="Anna (handläggare)")
    qtbot.addWidget(window)
    menu = OfflineMenu(
        main_window=window,
        status=_status,
        pending=lambda: False,
        make_sync=lambda: pytest.fail("a per-user server must ask for the password"),  # type: ignore[arg-type,return-value]
        runner=runner,
        login_sync=login_sync,
    )
    return window, menu


def _type(field, text: str) -> None:  # type: ignore[no-untyped-def]
    field.setFocus()
    field.setText(text)  # ASCII-only passwords here; the real keyboard path is Qt's own


def test_synkronisera_asks_for_the_password_without_echo(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QLineEdit

    given: list[tuple[str, str | None]] = []

    def login_sync(password: str, new_password: str | None):  # type: ignore[no-untyped-def]
        given.append((password, new_password))
        return lambda progress: SyncResult(pushed=2)

    window, menu = _login_menu(qtbot, runner, login_sync)
    window.show()
    menu.sync_action.trigger()
    ask = menu.password_dialog
    assert ask is not None and ask.isVisible() and menu.dialog is None
    assert ask.windowTitle() == "Fokus – Logga in för synkronisering"
    assert "som anna" in ask.intro.text()
    assert ask.password.echoMode() == QLineEdit.EchoMode.Password
    assert ask.new_password.echoMode() == QLineEdit.EchoMode.Password
    assert ask.password_label.text() == "Lösenord:"
    assert not ask.new_password.isVisibleTo(ask) and not ask.ok_button.isEnabled()
    # Cancel: nothing runs.
    ask.buttons.rejected.emit()
    assert given == [] and menu.dialog is None

    menu.sync_action.trigger()
    ask = menu.password_dialog
    _type(ask.password, "hemligt-1")
    assert ask.ok_button.isEnabled() and ask.ok_button.text() == "Synkronisera"
    ask.ok_button.click()
    assert given == [("hemligt-1", None)]
    assert ask.password.text() == ""  # not kept in the widget
    assert menu.dialog is not None
    qtbot.waitUntil(lambda: menu.dialog.close_button.isEnabled(), timeout=5000)
    assert menu.dialog.status.text() == "Synkroniseringen är klar."


def test_a_refused_password_offers_the_old_and_the_new_one_and_rekeys(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    from services.auth import WRONG_CREDENTIALS, LoginError
    from services.sync import PASSWORD_CHANGED_HINT

    given: list[tuple[str, str | None]] = []

    def login_sync(password: str, new_password: str | None):  # type: ignore[no-untyped-def]
        given.append((password, new_password))

        def run(progress):  # type: ignore[no-untyped-def]
            if new_password is None:  # central has the new password now
                raise LoginError(WRONG_CREDENTIALS + PASSWORD_CHANGED_HINT)
            progress("låser den lokala filen med det nya lösenordet")
            return SyncResult(pushed=1, rekeyed=True)

        return run

    window, menu = _login_menu(qtbot, runner, login_sync)
    window.show()
    menu.sync_action.trigger()
    _type(menu.password_dialog.password, "gammalt-1")
    menu.password_dialog.ok_button.click()
    dialog = menu.dialog
    qtbot.waitUntil(lambda: dialog.close_button.isEnabled(), timeout=5000)
    assert "godtog inte lösenordet" in dialog.status.text()
    assert "--new-password" not in dialog.status.text()  # the app's words, not the CLI's
    assert "Inget gick förlorat" in dialog.log.toPlainText()
    assert dialog.retry_button.isVisibleTo(dialog)

    dialog.retry_button.click()
    assert not dialog.isVisible()
    ask = menu.password_dialog
    assert ask.isVisible() and ask.changed.isChecked() and ask.hint.isVisibleTo(ask)
    assert ask.password_label.text() == "Gammalt lösenord (låser upp filen):"
    assert ask.new_password.isVisibleTo(ask) and ask.rekey_note.isVisibleTo(ask)
    _type(ask.password, "gammalt-1")
    assert not ask.ok_button.isEnabled()  # the new one is needed too
    _type(ask.new_password, "nytt-2")
    ask.ok_button.click()
    assert given == [("gammalt-1", None), ("gammalt-1", "nytt-2")]
    qtbot.waitUntil(lambda: menu.dialog.close_button.isEnabled(), timeout=5000)
    assert menu.dialog is not dialog
    assert menu.dialog.status.text() == "Synkroniseringen är klar."
    assert "låst med det nya lösenordet" in menu.dialog.log.toPlainText()


def test_a_server_that_names_its_user_keeps_the_plain_sync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.offline import KdfParams, create_local
    from ui.sync_dialog import local_functions

    local = create_local(tmp_path / "l.fokus", "x-lösen-1", kdf=KdfParams(1, 8192, 1))
    try:
        per_user = local_functions(local, "postgresql+psycopg://db.kommun.se:5432/fokus")
        owner = local_functions(local, "postgresql+psycopg://fokus@db.kommun.se:5432/fokus")
        assert per_user["login_sync"] is not None and owner["login_sync"] is None
    finally:
        local.dispose()
