"""Issue 3 item 8 as one story, with real widgets on a real database (SQLite and PostgreSQL).

A caseworker logs in through the login dialog; the main window is wired as
``ui.startup`` wires it (register, case windows, editing services, encrypted
drafts). She creates a case with two adults and two children (an invalid
personnummer first: its message beside the field, nothing saved), writes
contacts with three agencies, signs them and corrects one; finds the case by
personnummer without dash and by a lower-case name with å/ä/ö; opens it again
and sees it all. A second session changes the case while she edits: the
conflict dialog appears. A note typed and autosaved survives closing the
window and comes back in the same form.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

import ui.startup
from models.codes import Role
from services.audit import Actor
from services.auth import authenticate
from services.case_view import CaseViewService
from services.cases import CaseChanges, CaseService
from services.db import Database, open_database
from services.register import RegisterService
from services.users import UserInput, create_user_in
from ui.case_controller import CaseController
from ui.case_view import CaseView
from ui.conflict_dialog import THEIRS, ConflictDialog
from ui.contact_dialog import ContactDialog
from ui.login_dialog import LoginController, LoginDialog
from ui.new_case_dialog import NewCaseDialog
from ui.register_model import COL_NUMBER
from ui.view_state import ViewState

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 15_000
PASSWORD = "rätt-lösenord-9"
ADULTS = (("19650909-5714", "Åsa", "Östlund"), ("19681122-4028", "Jörgen", "Östlund"))
NOTE_TEXT = {
    "fk": "Ringde Försäkringskassan om sjukpenningen – åäö.",
    "af": "Möte på Arbetsförmedlingen om praktik.",
    "psychiatry": "Samordnat med psykiatrin kring vårdplanen.",
}
DRAFT = "Halvskriven anteckning om hyresskulden – får inte försvinna."


def _pid(digits8: str, serial: str) -> str:
    """A personnummer with its Luhn check digit (YYYYMMDD-NNN + check)."""
    body = digits8[2:] + serial
    total = 0
    for i, ch in enumerate(body):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return f"{digits8}-{serial}{(10 - total % 10) % 10}"


CHILDREN = ((_pid("20150312", "238"), "Märta"), (_pid("20190704", "457"), "Love"))


@pytest.fixture(autouse=True)
def _no_blocking_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected question box: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", refuse)


@pytest.fixture
def story_db(db_url: str) -> Iterator[Database]:
    db = open_database(db_url)
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
    yield db
    db.dispose()


def _type(widget: QWidget, text: str) -> None:
    """Type key by key, å/ä/ö included (the workaround from ENVIRONMENT.md)."""
    for ch in text:
        QTest.sendKeyEvent(
            QTest.KeyAction.Click, widget, Qt.Key.Key_unknown, ch, Qt.KeyboardModifier.NoModifier
        )


def _search(qtbot, parts, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Type into the register's search; the case numbers it lists after the debounce."""
    search = parts.window.register.search
    search.clear()
    _type(search, text)
    qtbot.waitUntil(lambda: parts.model.current_filter.text == text, timeout=WAIT)
    qtbot.waitUntil(
        lambda: not parts.model.loading and parts.register.last_count is not None, timeout=WAIT
    )
    model = parts.model
    return [model.row_at(i).case_number for i in range(model.rowCount())]


def _open_from_register(qtbot, parts, case_id: uuid.UUID) -> tuple[CaseView, CaseController]:  # type: ignore[no-untyped-def]
    """Enter on the register's first row opens (or raises) the case window."""
    table = parts.window.register.table
    table.setFocus()
    table.setCurrentIndex(parts.model.index(0, COL_NUMBER))
    QTest.keyClick(table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: parts.cases.controller(case_id) is not None, timeout=WAIT)
    controller = parts.cases.controller(case_id)
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    view = controller.parent()
    assert isinstance(view, CaseView)
    controller.confirm = lambda *_: True
    return view, controller


def _save(qtbot, controller: CaseController, button) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        button.click()


def test_the_caseworkers_day_in_one_flow(  # type: ignore[no-untyped-def]
    qtbot, story_db, runner, tmp_path: Path
) -> None:
    db = story_db
    state = ViewState(QSettings(str(tmp_path / "ui-state.ini"), QSettings.Format.IniFormat))

    # 1. Log in through the dialog.
    login = LoginDialog(database_label="test")
    qtbot.addWidget(login)
    auth = LoginController(
        dialog=login,
        authenticate=lambda u, p: authenticate(db, u, p, "test"),
        state=state,
        runner=runner,
    )
    _type(login.username, "kajsa")
    _type(login.password, PASSWORD)
    with qtbot.waitSignal(login.accepted, timeout=WAIT):
        login.login_button.click()
    user = auth.user
    assert user is not None and user.full_name == "Kajsa Ödmark"

    parts = ui.startup.build_main_window(
        service=RegisterService(db=db, actor=user.actor),
        user=user,
        state=state,
        db_label="test",
        runner=runner,
        case_source=CaseViewService(db=db, actor=user.actor),
        case_services=ui.startup.case_services(db, user.actor, draft_ms=50),
    )
    qtbot.addWidget(parts.window)
    parts.window.show()
    assert parts.window.windowTitle() == "Fokus – Kajsa Ödmark (handläggare)"
    assert parts.cases is not None
    qtbot.waitUntil(lambda: parts.register.last_count == 0, timeout=WAIT)

    # 2. Ctrl+N: a new case with two adults and two children.
    before = set(QApplication.topLevelWidgets())
    parts.window.new_case_action.trigger()
    qtbot.waitUntil(lambda: isinstance(parts.cases.new_case_dialog, NewCaseDialog), timeout=WAIT)
    new = parts.cases.new_case_dialog
    assert isinstance(new, NewCaseDialog) and new.windowTitle() == "Fokus – Nytt ärende"
    bad = ADULTS[0][0][:-1] + str((int(ADULTS[0][0][-1]) + 1) % 10)  # wrong check digit
    _type(new.personal_id, bad)
    message = new.error_text("personnummer")
    assert "kontrollsiffra" in message.lower()  # the domain's message, beside the field
    _type(new.first_name, ADULTS[0][1])
    _type(new.last_name, ADULTS[0][2])
    new.save_button.click()  # blocked: nothing is created
    qtbot.waitUntil(lambda: new.save_button.isEnabled(), timeout=WAIT)
    assert new.error_text("personnummer") and new.isVisible()
    with db.begin() as s:
        from sqlalchemy import func, select

        from models import Case

        assert s.scalar(select(func.count()).select_from(Case)) == 0
    new.personal_id.clear()
    _type(new.personal_id, ADULTS[0][0])
    assert new.error_text("personnummer") == ""
    _type(new.co_personal_id, ADULTS[1][0])
    _type(new.co_first_name, ADULTS[1][1])
    _type(new.co_last_name, ADULTS[1][2])
    for pid, first in CHILDREN:
        row = new.add_child()
        _type(row.personal_id, pid)
        _type(row.first_name, first)
        _type(row.last_name, "Östlund")
    _type(new.address, "Storgatan 12")
    _type(new.town, "Södertälje")
    with qtbot.waitSignal(parts.cases.case_created, timeout=WAIT) as created:
        new.save_button.click()
    case_id = created.args[0]
    qtbot.waitUntil(lambda: parts.cases.controller(case_id) is not None, timeout=WAIT)
    controller = parts.cases.controller(case_id)
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    view = controller.parent()
    assert isinstance(view, CaseView) and view not in before
    controller.confirm = lambda *_: True
    case_number = controller.detail.case_number
    assert view.windowTitle() == f"Fokus – ärende {case_number}"
    roles = sorted(m.role for m in controller.detail.members)
    assert roles == ["applicant", "child", "child", "co_applicant"]

    # 3. Contacts with three agencies; each signed; one corrected.
    for agency, text in NOTE_TEXT.items():
        view.new_note_action.trigger()  # Ctrl+K
        note = controller.dialog
        assert isinstance(note, ContactDialog)
        note.agency.setCurrentIndex(note.agency.findData(agency))
        applicant = controller.detail.members[0].person_id
        note.member_boxes[applicant].setChecked(True)
        _type(note.text, text)
        _save(qtbot, controller, note.save_button)
    assert sorted(n.agency_code for n in controller.detail.notes) == ["af", "fk", "psychiatry"]
    for n in list(controller.detail.notes):
        assert controller.select_note(n.id)
        _save(qtbot, controller, view.sign_note_button)
    assert all(n.signed for n in controller.detail.notes)
    fk_note = next(n for n in controller.detail.notes if n.agency_code == "fk")
    assert controller.select_note(fk_note.id)
    view.correct_note_button.click()
    correction = controller.dialog
    assert isinstance(correction, ContactDialog)
    _type(correction.text, "Rättelse: det gällde sjukersättning, inte sjukpenning.")
    _save(qtbot, controller, correction.save_button)
    assert len(controller.detail.notes) == 4
    assert view.close()
    qtbot.waitUntil(lambda: parts.cases.controller(case_id) is None, timeout=WAIT)

    # 4. Find it by personnummer without dash and by a lower-case name with å/ä/ö.
    assert _search(qtbot, parts, ADULTS[0][0].replace("-", "")) == [case_number]
    assert _search(qtbot, parts, "östlund") == [case_number]
    assert parts.window.count_label.text() == "1 ärende"

    # 5. Open it again and see it all.
    view, controller = _open_from_register(qtbot, parts, case_id)
    d = controller.detail
    assert {m.name for m in d.members} == {
        "Åsa Östlund",
        "Jörgen Östlund",
        "Märta Östlund",
        "Love Östlund",
    }
    assert view.members_model.rowCount() == 4
    texts = {n.text for n in d.notes}
    assert set(NOTE_TEXT.values()) <= texts
    assert any(n.corrects_id == fk_note.id for n in d.notes)
    assert view.notes_model.rowCount() == 4

    # 6. A second session changes the case while she edits the housing cost.
    other = CaseService(db=db, actor=user.actor)  # her own login on another computer
    other.update_case(case_id, d.version, CaseChanges(town="Järna"))
    view.tabs.setCurrentWidget(view.household_page)
    cost = view.housing_edits["boendekostnad"]
    _type(cost, "7 500")
    view.save_housing_button.click()
    qtbot.waitUntil(lambda: controller.conflict_dialog is not None, timeout=WAIT)
    conflict = controller.conflict_dialog
    assert isinstance(conflict, ConflictDialog)
    assert conflict.windowTitle() == "Fokus – någon annan har ändrat ärendet"
    rows = {f.label: (f.base, f.theirs, f.yours) for f in conflict.fields}
    assert rows == {
        "Ort": ("Södertälje", "Järna", "Södertälje"),
        "Boendekostnad": ("", "", "7 500"),
    }
    conflict.choose("Ort", THEIRS)
    _save(qtbot, controller, conflict.ok_button)
    saved = CaseViewService(db=db, actor=user.actor).refresh(case_id)
    assert (saved.town, saved.housing_cost_ore) == ("Järna", 750_000)

    # 7. An autosaved note survives closing the window.
    view.new_note_action.trigger()
    note = controller.dialog
    assert isinstance(note, ContactDialog)
    _type(note.text, DRAFT)
    qtbot.waitUntil(lambda: controller.autosaver.saves >= 1, timeout=WAIT)
    controller.confirm_discard = lambda: True  # "close anyway": the draft stays
    assert view.close()
    qtbot.waitUntil(lambda: parts.cases.controller(case_id) is None, timeout=WAIT)
    view, controller = _open_from_register(qtbot, parts, case_id)
    assert "1 osparat utkast" in view.message.text()
    view.new_note_action.trigger()
    note = controller.dialog
    assert isinstance(note, ContactDialog)
    assert note.text.toPlainText() == DRAFT and controller.autosaver.restored
    controller.confirm_discard = lambda: True
    assert parts.window.close()  # quitting closes the case window too (asked, yes)
    qtbot.waitUntil(lambda: parts.cases.controller(case_id) is None, timeout=WAIT)
