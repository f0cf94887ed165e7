"""The idle lock with real windows (offscreen Qt) on a real SQLite database.

The idle time is set in milliseconds through the watcher's timer, so the
tests wait a fraction of a second instead of minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QLineEdit, QMainWindow, QVBoxLayout
from sqlalchemy import select

from models import AuditEvent, User
from models.codes import Role
from services import session_lock
from services.audit import Actor
from services.auth import WRONG_CREDENTIALS, SessionUser, authenticate
from services.db import Database, open_database
from services.settings import Settings
from services.users import UserInput, create_user_in
from ui.idle_lock import LOCKED_TITLE, IdleLock, LockDialog, install_idle_lock
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

PASSWORD = "rätt-lösenord-9"
CASE_TITLE = "Fokus – ärende 2024-0042"
CURTAIN = QColor("#2b3a4a")


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    db = open_database(sqlite_url)
    yield db
    db.dispose()


@pytest.fixture
def runner() -> Iterator[BackgroundRunner]:
    r = BackgroundRunner()
    yield r
    r.wait()


@pytest.fixture
def user(sqlite_db: Database) -> SessionUser:
    with sqlite_db.begin() as s:
        create_user_in(
            s,
            Actor.cli(),
            UserInput(
                username="kajsa",
                full_name="Kajsa Ödmark",
                role=Role.CASEWORKER,
                unit_name="Försörjningsstöd Söder",
                password=PASSWORD,
            ),
        )
    return authenticate(sqlite_db, "kajsa", PASSWORD, "ws-1")


@pytest.fixture
def windows(qtbot):  # type: ignore[no-untyped-def]
    """A main window and a case dialog with text typed into it, both showing."""
    main = QMainWindow()
    main.setWindowTitle("Fokus – Kajsa Ödmark (handläggare)")
    main.setCentralWidget(QLineEdit("Nyström"))
    main.resize(600, 400)
    qtbot.addWidget(main)
    case = QDialog()
    case.setWindowTitle(CASE_TITLE)
    note = QLineEdit("ett halvskrivet anteckningsutkast")
    QVBoxLayout(case).addWidget(note)
    case.resize(400, 300)
    qtbot.addWidget(case)
    main.show()
    case.show()
    qtbot.waitExposed(main)
    qtbot.waitExposed(case)
    return main, case, note


def _lock(qtbot, db: Database, user: SessionUser, runner: BackgroundRunner, ms: int) -> IdleLock:  # type: ignore[no-untyped-def]
    lock = install_idle_lock(
        runner=runner,
        user=user,
        minutes=10,
        verify=lambda password: session_lock.unlock(db, user, password),
        on_locked=lambda: session_lock.record_locked(db, user.actor, idle_minutes=10),
        on_logout=lambda: session_lock.record_logout(db, user.actor, reason="idle_lock"),
    )
    lock.watcher.timer.setInterval(ms)
    lock.watcher.timer.start()
    return lock


def _actions(db: Database) -> list[str]:
    with db.begin() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _centre_colour(widget) -> QColor:  # type: ignore[no-untyped-def]
    image = widget.grab().toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2)


def _teardown(lock: IdleLock) -> None:
    lock.shutdown()
    lock.deleteLater()


def test_idle_time_covers_every_window_until_the_password(  # type: ignore[no-untyped-def]
    qtbot, sqlite_db, user, runner, windows
) -> None:
    main, case, note = windows
    lock = _lock(qtbot, sqlite_db, user, runner, 150)
    try:
        with qtbot.waitSignal(lock.locked, timeout=3000):
            pass
        dialog = lock.dialog
        assert isinstance(dialog, LockDialog) and dialog.isVisible()
        assert dialog.windowTitle() == LOCKED_TITLE
        assert dialog.isModal()
        assert "Kajsa Ödmark" in dialog.user.text()
        # nothing of the windows shows: the titles are replaced, the content is covered
        assert main.windowTitle() == LOCKED_TITLE and case.windowTitle() == LOCKED_TITLE
        assert _centre_colour(main) == CURTAIN
        assert _centre_colour(case) == CURTAIN
        # ... but nothing is lost: the dialog still runs and keeps its text
        assert case.isVisible() and note.text() == "ett halvskrivet anteckningsutkast"
        assert not lock.watcher.timer.isActive()

        # Esc and the close box do not open the lock
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        dialog.close()
        assert dialog.isVisible() and lock.is_locked

        dialog.password.setText("fel-lösenord")
        with qtbot.waitSignal(lock.checked, timeout=5000):
            qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
            assert not dialog.unlock_button.isEnabled()  # busy while the worker checks
        assert dialog.error.text() == WRONG_CREDENTIALS
        assert lock.is_locked and main.windowTitle() == LOCKED_TITLE
        with sqlite_db.begin() as s:
            assert s.scalar(select(User.failed_logins).where(User.username == "kajsa")) == 1

        dialog.password.setText(PASSWORD)
        with qtbot.waitSignal(lock.unlocked, timeout=5000):
            qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
        assert not lock.is_locked and not dialog.isVisible()
        assert main.windowTitle() == "Fokus – Kajsa Ödmark (handläggare)"
        assert case.windowTitle() == CASE_TITLE
        qtbot.waitUntil(lambda: _centre_colour(main) != CURTAIN, timeout=2000)
        assert _centre_colour(case) != CURTAIN
        assert lock.watcher.timer.isActive()  # counting again
        qtbot.waitUntil(lambda: "session_locked" in _actions(sqlite_db), timeout=2000)
        actions = _actions(sqlite_db)
        assert actions.count("session_locked") == 1
        assert actions[-2:] == ["login_success", "session_unlocked"]
        assert "login_failure" in actions
        with sqlite_db.begin() as s:
            assert s.scalar(select(User.failed_logins).where(User.username == "kajsa")) == 0
    finally:
        _teardown(lock)


def test_input_restarts_the_idle_countdown(qtbot, sqlite_db, user, runner, windows) -> None:  # type: ignore[no-untyped-def]
    main, _case, note = windows
    lock = _lock(qtbot, sqlite_db, user, runner, 10_000)
    try:
        timer = lock.watcher.timer
        qtbot.wait(300)
        assert timer.remainingTime() < 9_800
        QTest.keyClick(note, Qt.Key.Key_A)
        assert timer.remainingTime() > 9_800
        qtbot.wait(300)
        assert timer.remainingTime() < 9_800
        qtbot.mouseClick(main.centralWidget(), Qt.MouseButton.LeftButton)
        assert timer.remainingTime() > 9_800
        assert not lock.is_locked
    finally:
        _teardown(lock)


def test_activity_keeps_it_open_and_silence_locks(qtbot, sqlite_db, user, runner, windows) -> None:  # type: ignore[no-untyped-def]
    _main, _case, note = windows
    lock = _lock(qtbot, sqlite_db, user, runner, 400)
    try:
        for _ in range(6):  # 6 × 150 ms of typing: longer than the idle time in all
            qtbot.wait(150)
            QTest.keyClick(note, Qt.Key.Key_B)
        assert not lock.is_locked
        with qtbot.waitSignal(lock.locked, timeout=3000):
            pass
        assert lock.is_locked
    finally:
        _teardown(lock)


def test_a_window_opened_while_locked_is_covered(qtbot, sqlite_db, user, runner, windows) -> None:  # type: ignore[no-untyped-def]
    lock = _lock(qtbot, sqlite_db, user, runner, 50)
    try:
        with qtbot.waitSignal(lock.locked, timeout=3000):
            pass
        late = QMainWindow()
        late.setWindowTitle("Fokus – ärende 2024-0099")
        late.setCentralWidget(QLineEdit("Åkesson"))
        late.resize(300, 200)
        qtbot.addWidget(late)
        late.show()
        qtbot.waitExposed(late)
        assert late.windowTitle() == LOCKED_TITLE
        assert _centre_colour(late) == CURTAIN
        late.setWindowTitle("Fokus – ärende 2024-0100")  # a window renaming itself stays hidden
        assert late.windowTitle() == LOCKED_TITLE
        lock.dialog.password.setText(PASSWORD)  # type: ignore[union-attr]
        with qtbot.waitSignal(lock.unlocked, timeout=5000):
            lock.dialog.unlock_button.click()  # type: ignore[union-attr]
        assert late.windowTitle() == "Fokus – ärende 2024-0100"
    finally:
        _teardown(lock)


def test_failures_at_the_lock_lock_the_account_and_logout_quits(  # type: ignore[no-untyped-def]
    qtbot, sqlite_db, user, runner, windows
) -> None:
    lock = _lock(qtbot, sqlite_db, user, runner, 50)
    try:
        with qtbot.waitSignal(lock.locked, timeout=3000):
            pass
        dialog = lock.dialog
        assert dialog is not None
        for _ in range(5):
            dialog.password.setText("fel-lösenord")
            with qtbot.waitSignal(lock.checked, timeout=5000):
                dialog.unlock_button.click()
        # now even the right password is refused, with the lockout in Swedish
        dialog.password.setText(PASSWORD)
        with qtbot.waitSignal(lock.checked, timeout=5000):
            dialog.unlock_button.click()
        assert dialog.error.text().startswith("kontot är tillfälligt låst")
        assert lock.is_locked

        dialog.password.setText("")
        dialog.unlock_button.click()
        assert dialog.error.text() == "ange ditt lösenord"

        with qtbot.waitSignal(lock.logout_requested, timeout=5000):
            qtbot.mouseClick(dialog.logout_button, Qt.MouseButton.LeftButton)
        assert "logout" in _actions(sqlite_db)
    finally:
        _teardown(lock)


def test_idle_minutes_come_from_the_settings() -> None:
    from services.errors import FokusError
    from ui.startup import idle_lock_minutes

    assert Settings().idle_lock_minutes == 10
    assert idle_lock_minutes(Settings(idle_lock_minutes=3)) == 3
    for bad in (0, -5, "10", True, 481):
        with pytest.raises(FokusError, match="idle_lock_minutes ska vara 1–480 minuter"):
            idle_lock_minutes(Settings(idle_lock_minutes=bad))  # type: ignore[arg-type]


def test_the_settings_file_sets_the_idle_minutes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.settings import load_settings

    path = tmp_path / "settings.toml"
    path.write_text("idle_lock_minutes = 4\n", encoding="utf-8")
    assert load_settings(path).idle_lock_minutes == 4


def test_a_dialog_running_exec_survives_the_lock(qtbot, sqlite_db, user, runner) -> None:  # type: ignore[no-untyped-def]
    """A modal dialog (its own event loop) is covered, not closed: its text and loop survive."""
    dialog = QDialog()
    dialog.setWindowTitle(CASE_TITLE)
    note = QLineEdit("anteckning som inte får försvinna")
    QVBoxLayout(dialog).addWidget(note)
    qtbot.addWidget(dialog)
    lock = _lock(qtbot, sqlite_db, user, runner, 100)
    seen: list[str] = []

    def when_locked() -> None:
        seen.append(dialog.windowTitle())
        seen.append("covered" if _centre_colour(dialog) == CURTAIN else "visible")
        assert lock.dialog is not None
        lock.dialog.password.setText(PASSWORD)
        lock.dialog.unlock_button.click()

    def when_unlocked() -> None:
        seen.append(dialog.windowTitle())
        dialog.accept()

    lock.locked.connect(when_locked)
    lock.unlocked.connect(when_unlocked)
    try:
        result = dialog.exec()  # returns only when when_unlocked accepts it
    finally:
        _teardown(lock)
    assert seen == [LOCKED_TITLE, "covered", CASE_TITLE]
    assert result == QDialog.DialogCode.Accepted
    assert note.text() == "anteckning som inte får försvinna"


def test_logout_from_the_lock_saves_the_view_and_quits(
    qtbot, sqlite_db, user, runner, windows
) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from ui.startup import start_idle_lock

    main, _case, _note = windows
    calls: list[str] = []
    app = SimpleNamespace(exit=lambda code: calls.append(f"exit {code}"))
    parts = SimpleNamespace(
        window=main,
        controller=SimpleNamespace(save_state=lambda: calls.append("saved")),
        # The case windows' unsaved forms are written as drafts first: no question is asked.
        cases=SimpleNamespace(save_drafts=lambda: calls.append("drafts")),
    )
    lock = start_idle_lock(app, sqlite_db, user, runner, parts, minutes=10)  # type: ignore[arg-type]
    try:
        assert lock.watcher.timer.interval() == 10 * 60_000 and lock.watcher.timer.isActive()
        lock.lock()
        assert lock.dialog is not None
        with qtbot.waitSignal(lock.logout_requested, timeout=5000):
            lock.dialog.logout_button.click()
        assert calls == ["drafts", "saved", "exit 0"]
        qtbot.waitUntil(lambda: "session_locked" in _actions(sqlite_db), timeout=2000)
        assert _actions(sqlite_db)[-2:] in (
            ["session_locked", "logout"],
            ["logout", "session_locked"],
        )
    finally:
        _teardown(lock)
