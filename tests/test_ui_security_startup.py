"""Start-up off the GUI thread: the database opens in a worker, expected failures are one line.

``run_app`` is driven for real (offscreen); only the message box is replaced
by a list so the test can read the line it would show.
"""

from __future__ import annotations

import gc
import sqlite3
import sys
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog

from services.audit import Actor
from services.auth import WRONG_CREDENTIALS, LoginError, authenticate, first_run
from services.db import Database, create_db_engine, open_database, upgrade
from services.errors import DatabaseUnavailableError
from ui.login_dialog import BusyDialog
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]


@pytest.fixture
def runner() -> Iterator[BackgroundRunner]:
    r = BackgroundRunner()
    yield r
    r.wait()


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import ui.startup

    lines: list[str] = []
    monkeypatch.setattr(ui.startup, "show_fatal", lines.append)
    monkeypatch.setattr(ui.startup, "install_swedish", lambda app: [])
    monkeypatch.setattr("ui.crash.install_crash_handler", lambda: None)
    return lines


def _watch_progress() -> tuple[QTimer, list[str]]:
    """Note the label of every start-up progress dialog seen while the GUI thread runs."""
    seen: list[str] = []

    def look() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, BusyDialog) and widget.isVisible():
                seen.append(widget.label.text())

    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(look)
    timer.start()
    return timer, seen


def test_slow_work_shows_a_busy_dialog_and_keeps_the_gui_alive(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    from ui.startup import OPENING_DATABASE, wait_in_background

    timer, seen = _watch_progress()
    try:
        result = wait_in_background(
            runner, lambda: (time.sleep(0.9), 42)[1], label=OPENING_DATABASE
        )
    finally:
        timer.stop()
    assert result == 42
    assert seen and set(seen) == {"Öppnar databasen …"}  # the GUI thread ran meanwhile
    assert not any(
        isinstance(w, BusyDialog) and w.isVisible() for w in QApplication.topLevelWidgets()
    )


def test_quick_work_shows_nothing_and_errors_come_back(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    from ui.startup import wait_in_background

    timer, seen = _watch_progress()
    try:
        assert wait_in_background(runner, lambda: "ok", label="x") == "ok"

        def fail() -> None:
            raise DatabaseUnavailableError("databasen kan inte nås (test)")

        with pytest.raises(DatabaseUnavailableError, match="kan inte nås"):
            wait_in_background(runner, fail, label="x")
    finally:
        timer.stop()
    assert seen == []


def test_server_down_is_one_line_and_exit_3(qtbot, shown) -> None:  # type: ignore[no-untyped-def]
    import ui.startup

    code = ui.startup.run_app(url="postgresql+psycopg://postgres@127.0.0.1:1/fokus")
    assert code == 3
    assert len(shown) == 1 and "\n" not in shown[0]
    assert shown[0].startswith("databasen kan inte nås (")


def test_locked_file_while_the_window_stays_alive(qtbot, shown, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    import ui.startup

    open_database(sqlite_url).dispose()
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    timer, seen = _watch_progress()
    try:
        code = ui.startup.run_app(url=sqlite_url)  # SQLite waits 5 s for the lock
    finally:
        timer.stop()
        holder.rollback()
        holder.close()
    assert code == 3
    assert len(shown) == 1 and shown[0].startswith("databasfilen är låst av ett annat program")
    assert "Öppnar databasen …" in seen


@pytest.mark.postgres
def test_old_schema_on_the_server_is_one_line_and_exit_4(qtbot, shown, pg_empty_url) -> None:  # type: ignore[no-untyped-def]
    import ui.startup

    engine = create_db_engine(pg_empty_url)
    try:
        upgrade(engine, "0002")
    finally:
        engine.dispose()
    code = ui.startup.run_app(url=pg_empty_url)
    assert code == 4
    assert shown == [
        "databasen har en äldre schemaversion (0002, aktuell "
        + _head()
        + "); kör: python main.py db upgrade"
    ]


def _head() -> str:
    from services.db import head_revision

    return head_revision()


def test_unusable_idle_minutes_stop_the_start_with_one_line(  # type: ignore[no-untyped-def]
    qtbot, shown, sqlite_url, tmp_path, monkeypatch
) -> None:
    import ui.startup

    (tmp_path / "cfg").mkdir(exist_ok=True)
    monkeypatch.setenv("FOKUS_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / "cfg" / "settings.toml").write_text('idle_lock_minutes = "tio"\n', "utf-8")
    code = ui.startup.run_app(url=sqlite_url)
    assert code == 1
    assert shown == ["inställningen idle_lock_minutes ska vara 1–480 minuter (är 'tio')"]


def test_unusable_draft_interval_stops_the_start_with_one_line(  # type: ignore[no-untyped-def]
    qtbot, shown, sqlite_url, tmp_path, monkeypatch
) -> None:
    import ui.startup

    (tmp_path / "cfg").mkdir(exist_ok=True)
    monkeypatch.setenv("FOKUS_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / "cfg" / "settings.toml").write_text("draft_autosave_seconds = 0\n", "utf-8")
    code = ui.startup.run_app(url=sqlite_url)
    assert code == 1
    assert shown == ["inställningen draft_autosave_seconds ska vara 1–300 sekunder (är 0)"]


def test_draft_interval_comes_from_the_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import ui.startup
    from services.settings import Settings

    assert ui.startup.draft_interval_ms(Settings()) == 5_000
    assert ui.startup.draft_interval_ms(Settings(draft_autosave_seconds=2)) == 2_000
    db = open_database(f"sqlite:///{tmp_path / 'drafts.db'}")
    try:
        services = ui.startup.case_services(db, Actor.cli(), draft_ms=2_000)
        assert services.draft_interval_ms == 2_000
    finally:
        db.dispose()


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    db = open_database(sqlite_url)
    yield db
    db.dispose()


def test_login_dialog_stays_responsive_while_the_password_is_checked(  # type: ignore[no-untyped-def]
    qtbot, runner, tmp_path
) -> None:
    from PySide6.QtCore import QSettings

    from ui.login_dialog import LoginController, LoginDialog
    from ui.view_state import ViewState

    def slow_refusal(_username: str, _password: str):  # type: ignore[no-untyped-def]
        time.sleep(0.6)  # a slow server or a heavy hash
        raise LoginError(WRONG_CREDENTIALS)

    dialog = LoginDialog()
    qtbot.addWidget(dialog)
    state = ViewState(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    controller = LoginController(
        dialog=dialog, authenticate=slow_refusal, state=state, runner=runner
    )
    dialog.show()
    dialog.username.setText("kajsa")
    dialog.password.setText("fel")
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(50)
    try:
        with qtbot.waitSignal(controller.checked, timeout=5000):
            dialog.login_button.click()
            assert dialog.busy.isVisible() and not dialog.login_button.isEnabled()
            dialog.login_button.click()  # a second click while busy starts nothing
    finally:
        timer.stop()
    assert len(ticks) >= 5  # the GUI thread kept running during the check
    assert dialog.error.text() == WRONG_CREDENTIALS and not dialog.busy.isVisible()


def test_lockout_message_in_the_login_dialog(qtbot, runner, sqlite_db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QSettings

    from ui.login_dialog import LoginController, LoginDialog
    from ui.view_state import ViewState

    first_run(sqlite_db, "admin", "Ada Admin", "rätt-lösenord-1", "Söder", workstation="t")
    dialog = LoginDialog()
    qtbot.addWidget(dialog)
    state = ViewState(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    controller = LoginController(
        dialog=dialog,
        authenticate=lambda u, p: authenticate(sqlite_db, u, p, "t"),
        state=state,
        runner=runner,
    )
    dialog.username.setText("admin")
    for password in ["fel"] * 5 + ["rätt-lösenord-1"]:
        dialog.password.setText(password)
        with qtbot.waitSignal(controller.checked, timeout=5000):
            dialog.login_button.click()
    assert dialog.error.text() == (
        "kontot är tillfälligt låst efter för många misslyckade inloggningar; "
        "försök igen om 15 minuter eller kontakta administratören"
    )
    assert controller.user is None and state.last_username == ""


def test_cancel_during_the_check_stays_logged_out(qtbot, runner, sqlite_db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QSettings

    from ui.login_dialog import LoginController, LoginDialog
    from ui.view_state import ViewState

    first_run(sqlite_db, "admin", "Ada Admin", "rätt-lösenord-1", "Söder", workstation="t")
    dialog = LoginDialog()
    qtbot.addWidget(dialog)
    state = ViewState(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    controller = LoginController(
        dialog=dialog,
        authenticate=lambda u, p: (time.sleep(0.3), authenticate(sqlite_db, u, p, "t"))[1],
        state=state,
        runner=runner,
    )
    dialog.show()
    dialog.username.setText("admin")
    dialog.password.setText("rätt-lösenord-1")
    with qtbot.waitSignal(controller.checked, timeout=5000):
        dialog.login_button.click()
        dialog.reject()
    assert controller.user is None and state.last_username == ""
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_run_app_login_lock_and_logout_end_to_end(qtbot, shown, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    """The real start: worker open, login dialog, main window with the administrator's menu,
    the idle lock, "Logga ut" quits the application and run_app returns 0."""
    from PySide6.QtCore import QDeadlineTimer
    from sqlalchemy import select

    import ui.startup
    from models import AuditEvent
    from ui.idle_lock import IdleLock
    from ui.login_dialog import LoginDialog
    from ui.main_window import MainWindow

    db = open_database(sqlite_url)
    first_run(db, "admin", "Ada Admin", "rätt-lösenord-1", "Söder", workstation="t")
    gc.unfreeze()
    sys.setswitchinterval(0.005)  # Python's default: the app sets its own
    before = set(QApplication.topLevelWidgets())  # windows earlier tests left are not ours
    for leftover in before:
        leftover.hide()  # hidden, they cannot veto the app's quit
    db.dispose()
    deadline = QDeadlineTimer(30_000)
    seen: dict[str, object] = {}

    def login() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, LoginDialog):
            if deadline.hasExpired():
                seen["problem"] = "no login dialog"
                QApplication.instance().exit(1)  # type: ignore[union-attr]
                return
            QTimer.singleShot(30, login)
            return
        dialog.username.setText("admin")
        dialog.password.setText("rätt-lösenord-1")
        dialog.login_button.click()
        QTimer.singleShot(30, lock_when_shown)

    def lock_when_shown() -> None:
        windows = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, MainWindow) and w.isVisible() and w not in before
        ]
        if not windows:
            if deadline.hasExpired():
                seen["problem"] = "no main window"
                QApplication.instance().exit(1)  # type: ignore[union-attr]
                return
            QTimer.singleShot(30, lock_when_shown)
            return
        w = windows[0]
        seen["frozen"] = gc.get_freeze_count()  # start-up's objects left out of collections
        seen["switch"] = sys.getswitchinterval()
        seen["admin_menu"] = w.admin_menu.menuAction().isVisible()
        locks = w.findChildren(IdleLock)
        seen["locks"] = len(locks)
        seen["interval"] = locks[0].watcher.timer.interval() if locks else None
        if not locks:
            w.close()
            return
        locks[0].lock()
        seen["title"] = w.windowTitle()
        assert locks[0].dialog is not None
        locks[0].dialog.logout_button.click()

    def give_up() -> None:  # never hang the test run: end whatever loop is running
        seen.setdefault("problem", "timeout")
        for widget in QApplication.topLevelWidgets():
            widget.close()
        QApplication.instance().exit(1)  # type: ignore[union-attr]

    QTimer.singleShot(0, login)
    safety = QTimer()
    safety.setSingleShot(True)
    safety.timeout.connect(give_up)
    safety.start(45_000)
    try:
        code = ui.startup.run_app(url=sqlite_url)
    finally:
        safety.stop()
    assert shown == [] and "problem" not in seen, seen
    assert code == 0
    assert seen["admin_menu"] is True and seen["locks"] == 1
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000
    assert seen["switch"] == ui.startup.SWITCH_INTERVAL_S
    assert seen["interval"] == 10 * 60_000 and seen["title"] == "Fokus – låst"
    db = open_database(sqlite_url)
    try:
        with db.begin() as s:
            actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    finally:
        db.dispose()
    assert actions[-3:] in (
        ["login_success", "session_locked", "logout"],
        ["login_success", "logout", "session_locked"],
    )
