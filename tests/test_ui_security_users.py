"""The user-administration window driven through real widgets on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from models.codes import Role
from services.auth import LoginError, SessionUser, authenticate, first_run
from services.db import Database, open_database
from services.user_admin import UserAdminService
from services.users import UserInput
from ui.main_window import MainWindow
from ui.user_admin_controller import UserAdminController, UserAdminMenu, open_user_admin
from ui.user_admin_view import (
    COL_ACTIVE,
    COL_LOCKED,
    COL_ROLE,
    COL_UNIT,
    PasswordDialog,
    UserAdminWindow,
    UserFormDialog,
)
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

ADMIN_PW = "admin-lösenord-1"
PW = "handläggare-pw-2"


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
def admin(sqlite_db: Database) -> SessionUser:
    first_run(sqlite_db, "admin", "Ada Admin", ADMIN_PW, "Försörjningsstöd Söder", workstation="t")
    return authenticate(sqlite_db, "admin", ADMIN_PW, "t")


@pytest.fixture
def opened(qtbot, sqlite_db, admin, runner):  # type: ignore[no-untyped-def]
    service = UserAdminService(db=sqlite_db, actor=admin.actor)
    window = UserAdminWindow()
    qtbot.addWidget(window)
    controller = UserAdminController(
        window=window, service=service, runner=runner, confirm=lambda _w, _q: True
    )
    window.show()
    qtbot.waitUntil(lambda: controller.model.rowCount() == 1, timeout=5000)
    return window, controller


def _cell(controller: UserAdminController, username: str, column: int) -> str:
    m = controller.model
    for row in range(m.rowCount()):
        if m.row_at(row).username == username:
            return str(m.data(m.index(row, column)))
    raise AssertionError(f"{username} not in the table")


def _dialog(qtbot, controller: UserAdminController, button) -> QDialog:  # type: ignore[no-untyped-def]
    opened: list[QDialog] = []
    controller.dialog_opened.connect(opened.append)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert len(opened) == 1
    return opened[0]


def _add_kajsa(qtbot, window, controller) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, controller, window.add_button)
    assert isinstance(dialog, UserFormDialog)
    dialog.username.setText("kajsa")
    dialog.full_name.setText("Kajsa Ödmark")
    dialog.role.setCurrentIndex(dialog.role.findData(Role.CASEWORKER.value))
    dialog.unit.setCurrentText("Försörjningsstöd Söder")
    dialog.password.setText(PW)
    dialog.repeat.setText(PW)
    with qtbot.waitSignal(controller.changed, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def test_the_table_model_is_sound(qtbot, qtmodeltester, opened) -> None:  # type: ignore[no-untyped-def]
    window, controller = opened
    assert window.windowTitle() == "Fokus – användare"
    qtmodeltester.check(controller.model)
    assert _cell(controller, "admin", COL_ROLE) == "administratör"
    assert window.status.text() == "1 användare, 1 aktiva"
    assert not window.edit_button.isEnabled()  # nothing selected yet


def test_add_user_shows_each_message_beside_its_field(qtbot, opened, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    window, controller = opened
    dialog = _dialog(qtbot, controller, window.add_button)
    assert isinstance(dialog, UserFormDialog) and dialog.windowTitle().startswith("Fokus")
    dialog.username.setText("K")
    dialog.full_name.setText("")
    dialog.password.setText("kort")
    dialog.repeat.setText("kort")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    errors = dialog.fields.errors
    qtbot.waitUntil(lambda: errors["namn"].isVisible(), timeout=5000)
    assert errors["användarnamn"].text().startswith("2–64 tecken")
    assert errors["namn"].text() == "måste fyllas i"
    assert errors["lösenord"].text() == "måste ha minst 8 tecken"
    assert dialog.isVisible() and dialog.username.text() == "K"  # nothing lost

    dialog.repeat.setText("något-annat")
    dialog.password.setText("ett-långt-lösen")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert errors["upprepa lösenord"].text() == "lösenorden skiljer sig åt"
    assert not errors["namn"].isVisible()  # old messages are cleared

    dialog.username.setText("kajsa")
    dialog.full_name.setText("Kajsa Ödmark")
    dialog.unit.setCurrentText("Försörjningsstöd Norr")
    dialog.password.setText(PW)
    dialog.repeat.setText(PW)
    with qtbot.waitSignal(controller.changed, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), timeout=2000)
    assert window.status.text() == "Användaren kajsa är skapad."
    assert _cell(controller, "kajsa", COL_UNIT) == "Försörjningsstöd Norr"
    assert controller.selected() is not None and controller.selected().username == "kajsa"
    assert authenticate(sqlite_db, "kajsa", PW, "t").role is Role.CASEWORKER


def test_change_role_and_unit(qtbot, opened) -> None:  # type: ignore[no-untyped-def]
    window, controller = opened
    _add_kajsa(qtbot, window, controller)
    controller.select_username("kajsa")
    dialog = _dialog(qtbot, controller, window.edit_button)
    assert isinstance(dialog, UserFormDialog)
    assert dialog.full_name.text() == "Kajsa Ödmark"
    dialog.role.setCurrentIndex(dialog.role.findData(Role.TEAM_LEADER.value))
    dialog.unit.setCurrentText("Försörjningsstöd Väst")
    with qtbot.waitSignal(controller.changed, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert _cell(controller, "kajsa", COL_ROLE) == "arbetsledare"
    assert _cell(controller, "kajsa", COL_UNIT) == "Försörjningsstöd Väst"

    controller.select_username("admin")
    dialog = _dialog(qtbot, controller, window.edit_button)
    dialog.role.setCurrentIndex(dialog.role.findData(Role.CASEWORKER.value))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    label = dialog.fields.errors["roll"]
    qtbot.waitUntil(label.isVisible, timeout=5000)
    assert label.text() == "den sista aktiva administratören måste förbli administratör"
    dialog.reject()


def test_deactivate_reactivate_with_confirmation(qtbot, opened, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    window, controller = opened
    _add_kajsa(qtbot, window, controller)
    questions: list[str] = []
    answers = [False, True, True]
    controller._confirm = lambda _w, q: (questions.append(q), answers.pop(0))[1]  # type: ignore[method-assign]
    controller.select_username("kajsa")
    qtbot.mouseClick(window.active_button, Qt.MouseButton.LeftButton)
    assert _cell(controller, "kajsa", COL_ACTIVE) == "ja"  # "Nej" to the question: no change
    with qtbot.waitSignal(controller.changed, timeout=10_000):
        qtbot.mouseClick(window.active_button, Qt.MouseButton.LeftButton)
    assert "finns kvar" in questions[0]
    assert _cell(controller, "kajsa", COL_ACTIVE) == "nej"
    assert window.active_button.text() == "&Återaktivera"
    with pytest.raises(LoginError, match="inaktiverat"):
        authenticate(sqlite_db, "kajsa", PW, "t")
    with qtbot.waitSignal(controller.changed, timeout=10_000):
        qtbot.mouseClick(window.active_button, Qt.MouseButton.LeftButton)
    assert _cell(controller, "kajsa", COL_ACTIVE) == "ja"
    assert window.status.text() == "kajsa är återaktiverad."

    controller.select_username("admin")
    with qtbot.waitSignal(controller.failed, timeout=10_000) as blocker:
        qtbot.mouseClick(window.active_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["aktiv: du kan inte inaktivera ditt eget konto"]
    assert window.status.text() == "aktiv: du kan inte inaktivera ditt eget konto"


def test_reset_password_and_unlock(qtbot, opened, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    window, controller = opened
    _add_kajsa(qtbot, window, controller)
    for _ in range(5):
        with pytest.raises(LoginError):
            authenticate(sqlite_db, "kajsa", "fel-lösenord", "t")
    with qtbot.waitSignal(controller.loaded, timeout=5000):
        window.refresh_button.click()
    controller.select_username("kajsa")
    assert _cell(controller, "kajsa", COL_LOCKED) != ""
    assert window.unlock_button.isEnabled()
    with qtbot.waitSignal(controller.changed, timeout=10_000):
        qtbot.mouseClick(window.unlock_button, Qt.MouseButton.LeftButton)
    assert _cell(controller, "kajsa", COL_LOCKED) == ""
    assert not window.unlock_button.isEnabled()
    assert authenticate(sqlite_db, "kajsa", PW, "t")

    controller.select_username("kajsa")
    dialog = _dialog(qtbot, controller, window.password_button)
    assert isinstance(dialog, PasswordDialog)
    dialog.password.setText("kort")
    dialog.repeat.setText("kort")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    label = dialog.fields.errors["nytt lösenord"]
    qtbot.waitUntil(label.isVisible, timeout=5000)
    assert label.text() == "måste ha minst 8 tecken"
    dialog.password.setText("helt-nytt-lösen")
    dialog.repeat.setText("helt-nytt-lösen")
    with qtbot.waitSignal(controller.changed, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert window.status.text() == "kajsa har fått ett nytt lösenord."
    assert authenticate(sqlite_db, "kajsa", "helt-nytt-lösen", "t")


def test_a_caseworker_is_refused_and_told_so(qtbot, sqlite_db, admin, runner) -> None:  # type: ignore[no-untyped-def]
    UserAdminService(db=sqlite_db, actor=admin.actor).add_user(
        UserInput(
            username="kajsa",
            full_name="Kajsa Ödmark",
            role=Role.CASEWORKER,
            unit_name="Försörjningsstöd Söder",
            password=PW,
        )
    )
    worker = authenticate(sqlite_db, "kajsa", PW, "t")
    window, controller = open_user_admin(
        service=UserAdminService(db=sqlite_db, actor=worker.actor), runner=runner
    )
    qtbot.addWidget(window)
    with qtbot.waitSignal(controller.failed, timeout=5000):
        pass
    assert window.status.text() == "bara en administratör får hantera användare"
    assert controller.model.rowCount() == 0


def test_the_menu_is_there_for_the_administrator_only(qtbot, sqlite_db, admin, runner) -> None:  # type: ignore[no-untyped-def]
    plain = MainWindow(user_label="Kajsa")
    qtbot.addWidget(plain)
    assert not plain.admin_menu.menuAction().isVisible()
    assert not plain.leader_menu.menuAction().isVisible()

    main = MainWindow(user_label="Ada Admin (administratör)")
    qtbot.addWidget(main)
    menu = UserAdminMenu(
        main_window=main,
        service=UserAdminService(db=sqlite_db, actor=admin.actor),
        runner=runner,
    )
    assert main.admin_menu.menuAction().isVisible()
    assert main.admin_menu.title() == "A&dministration"
    with qtbot.waitSignal(menu.opened, timeout=2000):
        main.users_action.trigger()
    first = menu.window
    assert first is not None and first.windowTitle() == "Fokus – användare"
    qtbot.waitUntil(lambda: menu.controller.model.rowCount() == 1, timeout=5000)  # type: ignore[union-attr]
    main.users_action.trigger()
    assert menu.window is first  # one window, raised again
    first.close()
    qtbot.waitUntil(lambda: menu.window is None, timeout=2000)


def test_start_up_shows_each_role_its_menu(qtbot, sqlite_db, admin, runner) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from ui.startup import install_role_menus

    service = UserAdminService(db=sqlite_db, actor=admin.actor)
    for name, role in (("lena", Role.TEAM_LEADER), ("kajsa", Role.CASEWORKER)):
        service.add_user(
            UserInput(
                username=name,
                full_name=name.title(),
                role=role,
                unit_name="Försörjningsstöd Söder",
                password=PW,
            )
        )
    seen = {}
    for name, password in (("admin", ADMIN_PW), ("lena", PW), ("kajsa", PW)):
        user = authenticate(sqlite_db, name, password, "t")
        main = MainWindow(user_label=name)
        qtbot.addWidget(main)
        register = SimpleNamespace(case_activated=SimpleNamespace(emit=lambda _case_id: None))
        parts = SimpleNamespace(window=main, register=register)
        install_role_menus(sqlite_db, user, runner, parts)  # type: ignore[arg-type]
        seen[name] = (
            main.admin_menu.menuAction().isVisible(),
            main.leader_menu.menuAction().isVisible(),
        )
    assert seen == {"admin": (True, False), "lena": (False, True), "kajsa": (False, False)}
