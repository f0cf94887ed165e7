"""Issue 3 item 6 by the keyboard: Ctrl+N, Ctrl+K, Ctrl+S, Esc, tab order, accessible names.

Real key presses (``QTest.keyClick``) on the main window and a case window
wired as ``ui.startup`` wires them, on a real SQLite file. Every input in the
case window and its forms must carry an accessible name (what a screen reader
says), every window title begins with "Fokus", and Tab walks a form's fields
in the order they are laid out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

import ui.startup
from models.codes import MemberRole, Role
from services.audit import Actor
from services.auth import authenticate
from services.case_view import CaseViewService
from services.cases import CaseService
from services.db import Database, open_database
from services.register import RegisterService
from services.users import UserInput, create_user_in, get_or_create_unit
from tests.factories import KARIN, OSKAR, make_case
from ui.case_forms import FormDialog
from ui.case_view import CaseView
from ui.contact_dialog import ContactDialog
from ui.household_dialogs import MemberDialog
from ui.new_case_dialog import NewCaseDialog
from ui.view_state import ViewState

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 10_000
INPUTS = (QLineEdit, QComboBox, QPlainTextEdit, QCheckBox, QAbstractItemView)


@pytest.fixture(autouse=True)
def _no_blocking_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected question box: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", refuse)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'keys.db'}")
    yield database
    database.dispose()


def _inside_input(w: QWidget) -> bool:
    parent = w.parentWidget()
    while parent is not None:
        if isinstance(parent, INPUTS):
            return True
        parent = parent.parentWidget()
    return False


def _unnamed(root: QWidget) -> list[str]:
    """Inputs under ``root`` that a screen reader could not name."""
    missing = []
    for w in root.findChildren(QWidget):
        if isinstance(w, INPUTS) and not w.accessibleName().strip():
            if _inside_input(w):
                continue  # a part of a combo or table (its popup, an editor): that one is named
            if isinstance(w, QCheckBox) and w.text().strip():
                continue  # Qt reads a check box's own text as its name
            missing.append(f"{type(w).__name__} {w.objectName()!r} in {type(w.parent()).__name__}")
    return missing


def _tab_order(dialog: FormDialog, start: QWidget) -> list[QWidget]:
    """The widgets Tab visits from ``start``, until it comes round again."""
    seen: list[QWidget] = []
    w = start
    for _ in range(200):
        if w.focusPolicy() & Qt.FocusPolicy.TabFocus and w.isEnabled() and w.isVisibleTo(dialog):
            if w in seen:
                break
            seen.append(w)
        w = w.nextInFocusChain()
    return seen


def _assert_fields_in_layout_order(dialog: FormDialog, first: QWidget) -> None:
    order = _tab_order(dialog, first)
    fields = [
        f
        for f in dialog.fields.values()
        if f.focusPolicy() & Qt.FocusPolicy.TabFocus and f.isEnabled() and f.isVisibleTo(dialog)
    ]
    positions = [order.index(f) for f in fields]
    assert positions == sorted(positions), [type(f).__name__ for f in fields]
    assert isinstance(order[len(order) - 1], QAbstractButton)  # the buttons come last


def test_keyboard_shortcuts_tab_order_names_and_titles(qtbot, db, runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with db.begin() as s:
        create_user_in(
            s,
            Actor.cli(),
            UserInput(
                username="kajsa",
                full_name="Kajsa Ödmark",
                role=Role.CASEWORKER,
                unit_name="Försörjningsstöd Södertälje",
                password="rätt-lösenord-9",
            ),
        )
        unit_id = get_or_create_unit(s, Actor.cli(), "Försörjningsstöd Södertälje").id
    user = authenticate(db, "kajsa", "rätt-lösenord-9", "test")
    ref = make_case(
        CaseService(db=db, actor=user.actor),
        unit_id,
        (MemberRole.APPLICANT, KARIN),
        (MemberRole.CHILD, OSKAR),
        opened_on=date(2024, 5, 2),
        caseworker_id=user.user_id,
    )
    state = ViewState(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    parts = ui.startup.build_main_window(
        service=RegisterService(db=db, actor=user.actor),
        user=user,
        state=state,
        db_label="test",
        runner=runner,
        case_source=CaseViewService(db=db, actor=user.actor),
        case_services=ui.startup.case_services(db, user.actor, draft_ms=60_000),
    )
    qtbot.addWidget(parts.window)
    window = parts.window
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: parts.register.last_count == 1, timeout=WAIT)
    assert _unnamed(window) == []

    # Ctrl+N: the new-case form, personnummer first; Tab goes down the form; Esc closes it.
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert parts.cases is not None
    qtbot.waitUntil(lambda: isinstance(parts.cases.new_case_dialog, NewCaseDialog), timeout=WAIT)
    new = parts.cases.new_case_dialog
    assert isinstance(new, NewCaseDialog)
    qtbot.waitUntil(lambda: new.isVisible(), timeout=WAIT)
    assert new.windowTitle().startswith("Fokus")
    assert _unnamed(new) == []
    _assert_fields_in_layout_order(new, new.personal_id)
    QTest.keyClick(new, Qt.Key.Key_Escape)  # nothing typed: closes without asking
    qtbot.waitUntil(lambda: not new.isVisible(), timeout=WAIT)

    # Enter on the register row opens the case window.
    table = window.register.table
    window.activateWindow()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=WAIT)
    table.setCurrentIndex(parts.model.index(0, 0))
    QTest.keyClick(table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: parts.cases.controller(ref.id) is not None, timeout=WAIT)
    controller = parts.cases.controller(ref.id)
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    view = controller.parent()
    assert isinstance(view, CaseView) and view.windowTitle().startswith("Fokus – ärende ")
    assert _unnamed(view) == []

    # Ctrl+K: a new contact; Tab order; Ctrl+S saves it; Esc closes the window.
    view.activateWindow()
    QTest.keyClick(view, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(controller.dialog, ContactDialog), timeout=WAIT)
    note = controller.dialog
    assert isinstance(note, ContactDialog) and note.windowTitle() == "Fokus – Ny kontakt"
    assert _unnamed(note) == []
    _assert_fields_in_layout_order(note, note.when)
    note.text.setPlainText("Kort samtal om hyran.")
    note.activateWindow()
    qtbot.waitUntil(note.isActiveWindow, timeout=WAIT)
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        QTest.keyClick(note, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert [n.text for n in controller.detail.notes] == ["Kort samtal om hyran."]

    # The member form: named inputs, Tab in layout order, Esc with nothing typed closes.
    view.members.selectRow(1)
    QCoreApplication.processEvents()
    view.edit_member_button.click()
    member = controller.dialog
    assert isinstance(member, MemberDialog) and member.windowTitle().startswith("Fokus")
    assert _unnamed(member) == []
    _assert_fields_in_layout_order(member, member.role)
    QTest.keyClick(member, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: controller.dialog is None, timeout=WAIT)

    # Ctrl+S in the window saves the edited housing form (no dialog open).
    view.tabs.setCurrentWidget(view.household_page)
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=WAIT)
    cost = view.housing_edits["boendekostnad"]
    cost.setFocus()
    QTest.keyClicks(cost, "6500")
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        QTest.keyClick(cost, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert CaseViewService(db=db, actor=user.actor).refresh(ref.id).housing_cost_ore == 650_000
    assert view.fields["housing_cost"].text() == "6 500 kr"  # amounts as "12 345 kr"
    assert view.fields["opened"].text() == "2024-05-02"  # dates as YYYY-MM-DD

    view.activateWindow()
    QTest.keyClick(view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: parts.cases.controller(ref.id) is None, timeout=WAIT)
    for w in QApplication.topLevelWidgets():
        if w.isVisible() and w.windowTitle():
            assert w.windowTitle().startswith("Fokus"), w.windowTitle()
