"""First run, login and start-up with real dialogs (offscreen Qt) and real databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDeadlineTimer, QLocale, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox

from models.codes import Role
from services.audit import Actor
from services.auth import WRONG_CREDENTIALS, authenticate, first_run, needs_first_run
from services.db import Database, open_database
from services.users import UserInput, create_user_in
from ui.first_run_dialog import FirstRunController, FirstRunDialog
from ui.i18n import install_swedish
from ui.login_dialog import LoginController, LoginDialog
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

PASSWORD = "rätt-lösenord-9"


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
def state(tmp_path: Path) -> ViewState:
    return ViewState(QSettings(str(tmp_path / "ui-state.ini"), QSettings.Format.IniFormat))


def _create(db: Database):  # type: ignore[no-untyped-def]
    def create(username: str, full_name: str, password: str, unit: str):  # type: ignore[no-untyped-def]
        first_run(db, username, full_name, password, unit, workstation="test")
        return authenticate(db, username, password, "test")

    return create


def _add_caseworker(db: Database) -> None:
    with db.begin() as s:
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


def test_first_run_dialog_creates_the_administrator(qtbot, sqlite_db, runner) -> None:  # type: ignore[no-untyped-def]
    assert needs_first_run(sqlite_db)
    dialog = FirstRunDialog()
    qtbot.addWidget(dialog)
    controller = FirstRunController(dialog=dialog, create=_create(sqlite_db), runner=runner)
    assert dialog.windowTitle().startswith("Fokus")
    dialog.unit.setText("Försörjningsstöd Östra Söder")
    dialog.full_name.setText("Åsa Ängström")
    dialog.username.setText("asa")
    dialog.password.setText(PASSWORD)
    dialog.repeat.setText("något-annat")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == "lösenord: de två lösenorden skiljer sig åt"
    assert needs_first_run(sqlite_db)

    dialog.repeat.setText("kort")
    dialog.password.setText("kort")
    with qtbot.waitSignal(controller.finished_work, timeout=5000):
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "minst 8 tecken" in dialog.error.text()
    assert needs_first_run(sqlite_db)

    dialog.password.setText(PASSWORD)
    dialog.repeat.setText(PASSWORD)
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    user = controller.user
    assert user is not None
    assert (user.username, user.full_name, user.role) == ("asa", "Åsa Ängström", Role.ADMIN)
    assert user.unit_name == "Försörjningsstöd Östra Söder"
    assert not needs_first_run(sqlite_db)
    assert dialog.password.text() == "" and dialog.repeat.text() == ""


def test_login_succeeds_and_remembers_only_the_username(  # type: ignore[no-untyped-def]
    qtbot, sqlite_db, state, tmp_path, runner
) -> None:
    _add_caseworker(sqlite_db)
    state.last_username = "kajsa"
    dialog = LoginDialog(database_label="SQLite – test")
    qtbot.addWidget(dialog)
    controller = LoginController(
        dialog=dialog,
        authenticate=lambda u, p: authenticate(sqlite_db, u, p, "test"),
        state=state,
        runner=runner,
    )
    assert dialog.windowTitle().startswith("Fokus")
    assert dialog.username.text() == "kajsa"
    dialog.password.setText(PASSWORD)
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    assert controller.user is not None
    assert controller.user.full_name == "Kajsa Ödmark"
    assert dialog.password.text() == ""
    state.sync()
    text = (tmp_path / "ui-state.ini").read_text(encoding="utf-8")
    assert "kajsa" in text
    assert PASSWORD not in text and "lösenord" not in text.lower()


def test_login_fails_with_the_message_and_stays_open(qtbot, sqlite_db, state, runner) -> None:  # type: ignore[no-untyped-def]
    _add_caseworker(sqlite_db)
    dialog = LoginDialog()
    qtbot.addWidget(dialog)
    controller = LoginController(
        dialog=dialog,
        authenticate=lambda u, p: authenticate(sqlite_db, u, p, "test"),
        state=state,
        runner=runner,
    )
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == "ange ditt användarnamn"
    dialog.username.setText("kajsa")
    dialog.password.setText("fel-lösenord")
    with qtbot.waitSignal(controller.checked, timeout=5000):
        qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
        assert controller.checking and not dialog.password.isEnabled()
        assert dialog.status.text() == "Loggar in …"
    assert dialog.password.isEnabled()
    assert dialog.error.isVisible()
    assert dialog.error.text() == WRONG_CREDENTIALS
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.password.text() == ""
    assert controller.user is None
    assert state.last_username == ""


@pytest.mark.postgres
def test_first_run_then_login_on_postgresql(qtbot, pg_url, state, runner) -> None:  # type: ignore[no-untyped-def]
    db = open_database(pg_url)
    try:
        dialog = FirstRunDialog()
        qtbot.addWidget(dialog)
        controller = FirstRunController(dialog=dialog, create=_create(db), runner=runner)
        for field, text in (
            (dialog.unit, "Försörjningsstöd Öst"),
            (dialog.full_name, "Örjan Åkerlund"),
            (dialog.username, "orjan"),
            (dialog.password, PASSWORD),
            (dialog.repeat, PASSWORD),
        ):
            field.setText(text)
        with qtbot.waitSignal(controller.finished_work, timeout=10_000):
            qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
        assert controller.user is not None and controller.user.role is Role.ADMIN

        login = LoginDialog()
        qtbot.addWidget(login)
        lc = LoginController(
            dialog=login,
            authenticate=lambda u, p: authenticate(db, u, p, "t"),
            state=state,
            runner=runner,
        )
        login.username.setText("ORJAN")
        login.password.setText(PASSWORD)
        with qtbot.waitSignal(lc.checked, timeout=10_000):
            qtbot.mouseClick(login.login_button, Qt.MouseButton.LeftButton)
        assert lc.user is not None and lc.user.user_id == controller.user.user_id
    finally:
        db.dispose()


def test_sign_in_runs_first_run_then_login(qtbot, sqlite_db, state, runner) -> None:  # type: ignore[no-untyped-def]
    """The real start-up sequence with modal dialogs, driven from a timer.

    Whatever goes wrong inside a modal dialog closes it, so the test fails
    instead of waiting forever in ``exec()``.
    """
    from ui.startup import sign_in

    seen: list[str] = []
    problems: list[str] = []

    def drive(kind: type, fill) -> None:  # type: ignore[no-untyped-def]
        deadline = QDeadlineTimer(10_000)

        def step() -> None:
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, kind):
                if deadline.hasExpired():
                    problems.append(f"no {kind.__name__} appeared")
                    if dialog is not None:
                        dialog.close()
                    return
                QTimer.singleShot(20, step)
                return
            seen.append(dialog.windowTitle())
            try:
                fill(dialog)
            except Exception as exc:  # noqa: BLE001 - reported by the assertions below
                problems.append(repr(exc))
            QTimer.singleShot(20, lambda: closed(dialog))

        def closed(dialog) -> None:  # type: ignore[no-untyped-def]
            # the password check runs in a worker: the dialog closes when it answers
            if not dialog.isVisible():
                return
            if deadline.hasExpired():
                problems.append(f"still open: {dialog.error.text()!r}")
                dialog.reject()
                return
            QTimer.singleShot(20, lambda: closed(dialog))

        QTimer.singleShot(0, step)

    def fill_first_run(dialog: FirstRunDialog) -> None:
        dialog.unit.setText("Försörjningsstöd Väst")
        dialog.full_name.setText("Åke Öst")
        dialog.username.setText("ake")
        dialog.password.setText(PASSWORD)
        dialog.repeat.setText(PASSWORD)
        dialog.create_button.click()

    drive(FirstRunDialog, fill_first_run)
    user = sign_in(sqlite_db, state, station="test", runner=runner)
    assert problems == []
    assert user is not None and user.role is Role.ADMIN
    assert state.last_username == "ake"

    def fill_login(dialog: LoginDialog) -> None:
        assert dialog.username.text() == "ake"
        dialog.password.setText(PASSWORD)
        dialog.login_button.click()

    drive(LoginDialog, fill_login)
    again = sign_in(sqlite_db, state, station="test", runner=runner)
    assert problems == []
    assert again is not None and again.user_id == user.user_id
    assert seen == ["Fokus – första start", "Fokus – logga in"]


def test_expected_database_error_shows_one_line_and_exit_code(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ui.startup

    shown: list[str] = []
    monkeypatch.setattr(ui.startup, "show_fatal", shown.append)
    monkeypatch.setattr(ui.startup, "install_swedish", lambda app: [])
    monkeypatch.setattr("ui.crash.install_crash_handler", lambda: None)
    code = ui.startup.run_app(url="mysql://nobody@localhost/fokus")
    assert code == 3
    assert shown == ["databastypen 'mysql' stöds inte (sqlite eller postgresql)"]


def test_swedish_translation_and_locale(qtbot) -> None:  # type: ignore[no-untyped-def]
    app = QApplication.instance()
    assert app is not None
    before = QLocale()
    translators = install_swedish(app)
    try:
        assert translators, "qtbase_sv.qm ships with PySide6"
        assert QLocale().language() == QLocale.Language.Swedish
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        qtbot.addWidget(box)
        assert box.button(QDialogButtonBox.StandardButton.Cancel).text() == "Avbryt"
        assert QLocale().toString(12345) == "12\u00a0345"
    finally:
        for t in translators:
            app.removeTranslator(t)
        QLocale.setDefault(before)
