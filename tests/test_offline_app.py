"""The offline app's start-up, driven for real: ``gui --offline FILE`` (issue 7, item 3).

``ui.offline_app.run_offline_app`` runs as ``main.py`` runs it (its own
dialog.exec() and app.exec()); a timer plays the user: the password prompt,
the status bar that says Offline, opening a checked-out case and writing a
note in it, quitting (with unsynchronised changes: the warning), and a second
start that logs in again offline and finds everything. Only the question box
is answered by the test, and ``build_main_window``/``OfflineMenu`` are wrapped
(not replaced) so the test can reach the window they build.

The central database is an SQLite file here: checkout works on either backend,
and this test is about the laptop side.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from sqlalchemy import select

import services.offline as offline
import ui.offline_app
from models import Case, ContactEntry
from services.db import Database, open_database
from services.offline import KdfParams, checkout, open_local
from tests.factories import KARIN
from tests.test_offline_sync import PW, A, _case_for_anna, make_users
from ui.contact_dialog import ContactDialog
from ui.login_dialog import LoginDialog
from ui.register_model import COL_NUMBER

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

NOTE = "Hembesök utan nät – åäö."
Step = Callable[[], bool]  # True when done; tried again on the next tick until then


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        offline, "DEFAULT_KDF", KdfParams(time_cost=1, memory_kib=8192, parallelism=1)
    )


@pytest.fixture
def central(sqlite_url: str) -> Iterator[Database]:
    db = open_database(sqlite_url)
    yield db
    db.dispose()


def _type(widget: QWidget, text: str) -> None:
    for ch in text:  # key by key, å/ä/ö included (ENVIRONMENT.md)
        QTest.sendKeyEvent(
            QTest.KeyAction.Click, widget, Qt.Key.Key_unknown, ch, Qt.KeyboardModifier.NoModifier
        )


class Driver:
    """Plays the user from a timer while the app's own event loops run."""

    def __init__(self, steps: list[tuple[str, Step]], timeout_s: float = 60) -> None:
        self.steps = steps
        self.done: list[str] = []
        self.error: BaseException | None = None
        self.busy = False  # a step may spin a nested event loop: no tick inside a tick
        self.deadline = time.monotonic() + timeout_s
        self.timer = QTimer()
        self.timer.setInterval(50)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        if not self.steps:
            # Every step is done and the app should be ending; if it is still running
            # at the deadline, fail with what is left open instead of hanging the run.
            if time.monotonic() > self.deadline:
                left = [type(w).__name__ for w in QApplication.topLevelWidgets() if w.isVisible()]
                self.error = TimeoutError(f"appen avslutades aldrig; öppna fönster: {left}")
                self.timer.stop()
                for w in QApplication.topLevelWidgets():
                    w.hide()
                QCoreApplication.exit(99)
            return
        if self.busy:
            return
        self.busy = True
        name, step = self.steps[0]
        try:
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"steget {name!r} blev aldrig klart")
            if step():
                self.done.append(name)
                self.steps.pop(0)
        except BaseException as exc:  # noqa: BLE001 - reported by the test, after the app ends
            self.error = exc
            self.steps.clear()
            self.timer.stop()
            for w in QApplication.topLevelWidgets():  # let the app's loops end
                w.hide()
            QCoreApplication.exit(99)
        finally:
            self.busy = False


def _visible(kind: type) -> Any:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, kind) and w.isVisible():
            return w
    return None


def _session(
    path: Path, case_id: uuid.UUID, seen: dict[str, Any], *, write_note: bool
) -> list[tuple[str, Step]]:
    """The steps of one start of the offline app, from the password prompt to quitting."""
    state: dict[str, Any] = {}

    def log_in() -> bool:
        dialog = _visible(LoginDialog)
        if dialog is None:
            return False
        seen.setdefault("remembered", []).append(dialog.username.text())
        dialog.username.clear()
        _type(dialog.username, "anna")
        _type(dialog.password, PW)
        dialog.login_button.click()
        return True

    def main_window_says_offline() -> bool:
        parts, menu = seen.get("parts"), seen.get("menu")
        login = _visible(LoginDialog)
        if login is not None and login.error.text():
            raise AssertionError(
                f"inloggningen misslyckades: {login.error.text()} "
                f"{login.username.text()!r} {login.password.text()!r}"
            )
        if parts is None or menu is None or not parts.window.isVisible():
            return False
        seen.setdefault("offline_labels", []).append(menu.offline_label.text())
        return True

    def open_the_case() -> bool:
        parts = seen["parts"]
        if parts.model.loading or parts.register.last_count != 1:
            return False
        table = parts.window.register.table
        table.setFocus()
        table.setCurrentIndex(parts.model.index(0, COL_NUMBER))
        QTest.keyClick(table, Qt.Key.Key_Return)
        return True

    def case_window_shown() -> bool:
        controller = seen["parts"].cases.controller(case_id)
        if controller is None or controller.detail is None:
            return False
        state["controller"] = controller
        seen.setdefault("notes_seen", []).append([n.text for n in controller.detail.notes])
        seen.setdefault("titles", []).append(controller.parent().windowTitle())
        return True

    def note_written() -> bool:
        controller = state["controller"]
        if "asked" not in state:
            state["asked"] = True
            controller.parent().new_note_action.trigger()
            dialog = controller.dialog
            assert isinstance(dialog, ContactDialog)
            _type(dialog.text, NOTE)
            dialog.save_button.click()
            return False
        return any(n.text == NOTE for n in controller.detail.notes)

    def quit_app() -> bool:
        controller = state["controller"]
        controller.parent().close()
        seen["parts"].window.close()
        return True

    steps: list[tuple[str, Step]] = [
        ("lösenord", log_in),
        ("offline", main_window_says_offline),
        ("öppna ärendet", open_the_case),
        ("ärendefönstret", case_window_shown),
    ]
    if write_note:
        steps.append(("anteckning", note_written))
    steps.append(("avsluta", quit_app))
    return steps


def test_offline_app_start_up_log_in_work_quit_and_come_back(  # type: ignore[no-untyped-def]
    qtbot, central: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = make_users(central)
    case_id = _case_for_anna(central, users, (A, KARIN))
    with central.begin() as s:
        case_number = s.scalar(select(Case.case_number).where(Case.id == case_id))
    path = tmp_path / "laptop.fokus"
    checkout(central, path, "anna", PW)

    fatal: list[str] = []
    questions: list[str] = []
    seen: dict[str, Any] = {}
    monkeypatch.setattr(ui.offline_app, "show_fatal", fatal.append)
    monkeypatch.setattr("ui.startup.install_swedish", lambda app: [])
    monkeypatch.setattr("ui.crash.install_crash_handler", lambda: None)

    def answer(*args: Any, **_kw: Any) -> QMessageBox.StandardButton:
        questions.append(str(args[2]))
        return QMessageBox.StandardButton.Yes  # quit anyway: the changes stay in the file

    monkeypatch.setattr(QMessageBox, "question", answer)
    real_build, real_menu = ui.offline_app.build_main_window, ui.offline_app.OfflineMenu

    def build(**kw: Any) -> Any:
        seen["parts"] = real_build(**kw)
        return seen["parts"]

    def menu(**kw: Any) -> Any:
        seen["menu"] = real_menu(**kw)
        return seen["menu"]

    monkeypatch.setattr(ui.offline_app, "build_main_window", build)
    monkeypatch.setattr(ui.offline_app, "OfflineMenu", menu)

    for n, write in enumerate((True, False)):  # start, work, quit; start again
        seen.pop("parts", None)
        seen.pop("menu", None)
        driver = Driver(_session(path, case_id, seen, write_note=write))
        driver.timer.start()
        code = ui.offline_app.run_offline_app(local_path=path, central_url="sqlite:///nowhere.db")
        driver.timer.stop()
        if driver.error is not None:
            raise AssertionError(f"{driver.error}; frågor: {questions}") from driver.error
        assert code == 0 and fatal == []
        assert driver.done[-1] == "avsluta", driver.done
        # Quitting with unsynchronised changes asked first (and the answer was: quit).
        assert len(questions) == n + 1 and "inte är synkroniserade" in questions[-1]

    assert [label.startswith("Offline – utcheckat till ") for label in seen["offline_labels"]] == [
        True,
        True,
    ]
    assert seen["titles"] == [f"Fokus – ärende {case_number}"] * 2
    assert seen["remembered"] == ["", "anna"]  # the second start remembers who logged in
    # The second start, logged in again offline, found the note the first one wrote.
    assert seen["notes_seen"][0] == [] and seen["notes_seen"][1] == [NOTE]
    local = open_local(path, PW)
    try:
        with local.begin() as s:
            assert (
                s.scalar(select(ContactEntry.text).where(ContactEntry.case_id == case_id)) == NOTE
            )
    finally:
        local.dispose()
