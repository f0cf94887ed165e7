"""The unsaved-changes guard and the encrypted autosave of every case-window form.

Real widgets (offscreen Qt), real services on a real SQLite file, a real
encrypted :class:`services.drafts.DraftStore` with a short interval. The
guard: leaving the Hushåll tab with unsaved housing changes (stay, discard,
save), quitting the main window with a dirty form in a case window, and the
logout that cannot ask (drafts are written first). The autosave: the
consent, member, close-case and new-case forms and the inline housing form
survive a closed window and come back in the same form, for their author only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from models.codes import MemberRole, Outcome
from services.audit import Actor
from services.case_view import CaseViewService
from services.cases import CaseEditService, CaseRef, CaseService
from services.db import Database, open_database
from services.drafts import DraftStore
from services.journal import JournalService
from services.support import SupportService
from services.targets import TargetService
from tests.factories import KARIN, OSKAR, make_case
from ui.case_controller import CaseController, CaseServices, CaseWindows
from ui.case_dialogs import CloseCaseDialog
from ui.case_forms import find_data
from ui.case_view import CaseView
from ui.household_dialogs import ConsentDialog, MemberDialog
from ui.main_window import MainWindow
from ui.new_case_dialog import NewCaseDialog
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 10_000
SCOPE = "Uppgifter om vårdplanering på Södertälje sjukhus – åäö"


@pytest.fixture(autouse=True)
def _no_blocking_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A question box nobody answers would hang the test: fail instead."""
    from PySide6.QtWidgets import QMessageBox

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected question box: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", refuse)
    monkeypatch.setattr(QMessageBox, "exec", refuse)


@pytest.fixture
def host(qtbot) -> QWidget:  # type: ignore[no-untyped-def]
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'guard.db'}")
    yield database
    database.dispose()


def _case(db: Database, actor: Actor) -> tuple[CaseRef, uuid.UUID]:
    from services.users import get_or_create_unit

    with db.begin() as s:
        unit_id = get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id
    ref = make_case(
        CaseService(db=db, actor=actor),
        unit_id,
        (MemberRole.APPLICANT, KARIN),
        (MemberRole.CHILD, OSKAR),
        opened_on=date(2024, 5, 2),
        address="Storgatan 12",
        postcode="15130",
        town="Södertälje",
        housing_cost_ore=712_000,
    )
    return ref, unit_id


def _windows(
    db: Database, actor: Actor, runner: BackgroundRunner, host: QWidget, store: DraftStore | None
) -> CaseWindows:
    return CaseWindows(
        source=CaseViewService(db=db, actor=actor),
        runner=runner,
        parent_window=host,
        services=CaseServices(
            cases=CaseService(db=db, actor=actor),
            edits=CaseEditService(db=db, actor=actor),
            journal=JournalService(db=db, actor=actor),
            targets=TargetService(db=db, actor=actor),
            support=SupportService(db=db, actor=actor),
            drafts=store,
            draft_interval_ms=50,
        ),
    )


def _open(qtbot, windows: CaseWindows, case_id: uuid.UUID) -> tuple[CaseView, CaseController]:  # type: ignore[no-untyped-def]
    controller = windows.open(case_id)
    view = controller.parent()
    assert isinstance(view, CaseView)
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    controller.confirm = lambda *_: True
    return view, controller


def _type(widget: QWidget, text: str) -> None:
    """Type key by key, å/ä/ö included (the workaround from ENVIRONMENT.md)."""
    for ch in text:
        QTest.sendKeyEvent(
            QTest.KeyAction.Click, widget, Qt.Key.Key_unknown, ch, Qt.KeyboardModifier.NoModifier
        )


def _close(qtbot, windows: CaseWindows, view: CaseView, case_id: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
    assert view.close()
    qtbot.waitUntil(lambda: windows.controller(case_id) is None, timeout=WAIT)


def test_leaving_the_household_tab_with_unsaved_housing_asks(qtbot, db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref, _unit = _case(db, actor)
    windows = _windows(db, actor, runner, host, None)
    view, controller = _open(qtbot, windows, ref.id)
    household = view.tabs.indexOf(view.household_page)
    view.tabs.setCurrentIndex(household)
    town = view.housing_edits["ort"]
    town.clear()
    _type(town, "Järna")
    assert controller.housing_dirty

    answers = ["stay"]
    asked: list[str] = []

    def leave() -> str:
        asked.append("asked")
        return answers.pop(0)

    controller.confirm_leave = leave
    view.tabs.setCurrentIndex(2)  # Kontaktlogg: "stay" keeps the Hushåll tab and the text
    assert asked == ["asked"]
    assert view.tabs.currentIndex() == household
    assert town.text() == "Järna"

    answers.append("discard")  # the form goes back to what is saved
    view.tabs.setCurrentIndex(0)
    assert view.tabs.currentIndex() == 0
    assert town.text() == "Södertälje" and not controller.housing_dirty

    view.tabs.setCurrentIndex(household)
    town.clear()
    _type(town, "Järna")
    answers.append("save")  # saved on the way out
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        view.tabs.setCurrentIndex(2)
    assert CaseViewService(db=db, actor=actor).refresh(ref.id).town == "Järna"
    assert len(asked) == 3

    view.tabs.setCurrentIndex(household)  # nothing unsaved: no question
    view.tabs.setCurrentIndex(0)
    assert len(asked) == 3
    _close(qtbot, windows, view, ref.id)


def test_quitting_the_main_window_asks_about_a_dirty_case_form(qtbot, db, runner) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref, _unit = _case(db, actor)
    main = MainWindow(user_label="Test")
    qtbot.addWidget(main)
    windows = _windows(db, actor, runner, main, None)
    main.close_guard = windows.close_all  # as MainWindowController wires it
    main.show()
    view, controller = _open(qtbot, windows, ref.id)
    view.new_note_action.trigger()
    dialog = controller.dialog
    assert dialog is not None
    _type(dialog.text, "Halvskriven anteckning")  # type: ignore[attr-defined]

    asked: list[bool] = []
    controller.confirm_discard = lambda: asked.append(True) or False  # type: ignore[func-returns-value]
    closing: list[bool] = []
    main.closing.connect(lambda: closing.append(True))
    assert not main.close()  # Avsluta / Ctrl+Q: the user chose to stay
    assert asked == [True] and closing == []
    assert main.isVisible() and view.isVisible() and dialog.isVisible()
    assert windows.controller(ref.id) is controller

    controller.confirm_discard = lambda: True
    assert main.close()
    assert closing == [True]
    qtbot.waitUntil(lambda: windows.controller(ref.id) is None, timeout=WAIT)


def test_every_form_is_autosaved_and_offered_back_after_a_closed_window(  # type: ignore[no-untyped-def]
    qtbot, db, runner, host, tmp_path
) -> None:
    actor = Actor.cli()
    ref, _unit = _case(db, actor)
    store = DraftStore(directory=tmp_path / "drafts", username=actor.username)
    windows = _windows(db, actor, runner, host, store)
    view, controller = _open(qtbot, windows, ref.id)
    controller.confirm_discard = lambda: True

    # A consent form with its free text; the window is closed with it open.
    view.add_consent_button.click()
    consent = controller.dialog
    assert isinstance(consent, ConsentDialog)
    oskar = controller.detail.members[1]
    consent.person.setCurrentIndex(find_data(consent.person, oskar.person_id))
    consent.agency.setCurrentIndex(find_data(consent.agency, "psychiatry"))
    _type(consent.scope, SCOPE)
    consent.valid_to.setText("2026-12-31")
    qtbot.waitUntil(lambda: controller.autosaver.saves >= 1, timeout=WAIT)
    key = f"consent:new:{ref.id}"
    assert store.load(key).payload["omfattning"] == SCOPE
    raw = b"".join(p.read_bytes() for p in (tmp_path / "drafts").rglob("*.draft"))
    assert "vårdplanering".encode() not in raw  # encrypted on disk
    _close(qtbot, windows, view, ref.id)
    assert store.load(key) is not None

    # Opening the case again says so; the same form gets everything back.
    view, controller = _open(qtbot, windows, ref.id)
    controller.confirm_discard = lambda: True
    assert "1 osparat utkast" in view.message.text()
    view.add_consent_button.click()
    consent = controller.dialog
    assert isinstance(consent, ConsentDialog)
    assert controller.autosaver.restored and consent.dirty
    assert consent.scope.toPlainText() == SCOPE
    assert consent.person.currentData() == oskar.person_id
    assert consent.agency.currentData() == "psychiatry"
    assert consent.valid_to.text() == "2026-12-31"
    assert controller.autosaver.notice.text().startswith("Återställt osparat utkast från ")
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        consent.save_button.click()
    assert store.load(key) is None  # saved: the draft is gone
    assert [c.scope for c in controller.detail.consents] == [SCOPE]

    # Editing a member, and the inline housing form, both left unsaved.
    view.members.selectRow(1)
    QCoreApplication.processEvents()
    view.edit_member_button.click()
    member = controller.dialog
    assert isinstance(member, MemberDialog)
    member.phone.clear()
    _type(member.phone, "08-55 00 11")
    qtbot.waitUntil(lambda: controller.autosaver.saves >= 1, timeout=WAIT)
    member.reject()  # Avbryt + "kasta": thrown away on purpose, the draft too
    assert store.load(f"member:edit:{oskar.id}") is None
    view.edit_member_button.click()
    member = controller.dialog
    assert isinstance(member, MemberDialog) and member.phone.text() == ""
    _type(member.phone, "08-55 00 22")
    cost = view.housing_edits["boendekostnad"]
    cost.clear()
    _type(cost, "8 100")
    qtbot.waitUntil(
        lambda: (
            store.load(f"housing:{ref.id}") is not None
            and store.load(f"member:edit:{oskar.id}") is not None
        ),
        timeout=WAIT,
    )
    _close(qtbot, windows, view, ref.id)

    view, controller = _open(qtbot, windows, ref.id)
    controller.confirm_discard = lambda: True
    assert "2 osparat utkast" in view.message.text()
    assert view.housing_edits["boendekostnad"].text() == "8 100" and controller.housing_dirty
    assert view.housing_note.text().startswith("Återställt osparat utkast")
    view.members.selectRow(1)
    QCoreApplication.processEvents()
    view.edit_member_button.click()
    member = controller.dialog
    assert isinstance(member, MemberDialog) and member.phone.text() == "08-55 00 22"
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        member.save_button.click()
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        view.save_housing_button.click()
    saved = CaseViewService(db=db, actor=actor).refresh(ref.id)
    assert saved.housing_cost_ore == 810_000 and saved.members[1].phone == "08-55 00 22"
    assert store.keys([f"housing:{ref.id}", f"member:edit:{oskar.id}"]) == []

    # Closing the case: the outcome chosen survives a logout that cannot ask.
    view.close_case_button.click()
    close = controller.dialog
    assert isinstance(close, CloseCaseDialog)
    close.outcome.outcome.setCurrentIndex(find_data(close.outcome.outcome, Outcome.WORK.value))
    close.outcome.outcome.activated.emit(close.outcome.outcome.currentIndex())
    windows.save_drafts()  # what ui.startup's logout does before it exits
    assert store.load(f"case:close:{ref.id}").payload["utfall"] == Outcome.WORK.value

    # The drafts are the author's: another user's store does not see them.
    other = DraftStore(directory=tmp_path / "drafts", username="anna")
    assert other.load(f"case:close:{ref.id}") is None
    _close(qtbot, windows, view, ref.id)


def test_a_new_case_form_survives_quitting(qtbot, db, runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    _ref, unit_id = _case(db, actor)
    store = DraftStore(directory=tmp_path / "drafts", username=actor.username)
    main = MainWindow(user_label="Test")
    qtbot.addWidget(main)
    windows = _windows(db, actor, runner, main, store)
    main.close_guard = windows.close_all

    windows.new_case(unit_id)
    qtbot.waitUntil(lambda: windows.new_case_dialog is not None, timeout=WAIT)
    dialog = windows.new_case_dialog
    assert isinstance(dialog, NewCaseDialog)
    dialog.confirm_discard = lambda: True
    _type(dialog.first_name, "Åsa")
    child = dialog.add_child()
    _type(child.first_name, "Örjan")
    qtbot.waitUntil(lambda: windows.new_case_autosaver.saves >= 1, timeout=WAIT)
    assert main.close()  # quitting: the form is closed, its draft kept
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT)
    assert store.load(f"case:new:{unit_id}") is not None

    windows.new_case(unit_id)
    qtbot.waitUntil(
        lambda: windows.new_case_dialog is not None and windows.new_case_dialog is not dialog,
        timeout=WAIT,
    )
    again = windows.new_case_dialog
    assert isinstance(again, NewCaseDialog)
    assert again.first_name.text() == "Åsa"
    assert [c.first_name.text() for c in again.child_rows] == ["Örjan"]
    again.confirm_discard = lambda: True
    again.reject()  # Avbryt on purpose: the draft goes
    assert store.load(f"case:new:{unit_id}") is None


CRASHING_FOKUS = """
import os, signal, sys, uuid
from PySide6.QtWidgets import QApplication, QWidget
from PySide6.QtCore import QCoreApplication, QElapsedTimer
from services.audit import Actor
from services.db import open_database
from services.drafts import DraftStore
from ui.worker import BackgroundRunner
from tests.test_ui_case_guard import _windows

url, drafts, case_id, text = sys.argv[1:5]
app = QApplication([])
db = open_database(url)
actor = Actor.cli()
host = QWidget()
runner = BackgroundRunner()
store = DraftStore(directory=__import__("pathlib").Path(drafts), username=actor.username)
windows = _windows(db, actor, runner, host, store)
controller = windows.open(uuid.UUID(case_id))
clock = QElapsedTimer()
clock.start()
while controller.detail is None and clock.elapsed() < 20000:
    QCoreApplication.processEvents()
controller.parent().new_note_action.trigger()
controller.dialog.text.setPlainText(text)
while controller.autosaver.saves < 1 and clock.elapsed() < 20000:
    QCoreApplication.processEvents()
print("autosaved", controller.autosaver.saves, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the crash: no close event, no clean-up
"""


def test_an_autosaved_note_is_offered_back_after_a_crash(  # type: ignore[no-untyped-def]
    qtbot, db, runner, host, tmp_path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    actor = Actor.cli()
    ref, _unit = _case(db, actor)
    text = "Skrevs precis innan datorn kraschade – åäö."
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    root = Path(__file__).resolve().parent.parent
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_FOKUS,
            str(db.url),
            str(tmp_path / "drafts"),
            str(ref.id),
            text,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert "autosaved 1" in crashed.stdout

    store = DraftStore(directory=tmp_path / "drafts", username=actor.username)
    windows = _windows(db, actor, runner, host, store)
    view, controller = _open(qtbot, windows, ref.id)
    controller.confirm_discard = lambda: True
    assert "1 osparat utkast" in view.message.text()
    view.new_note_action.trigger()
    assert controller.dialog.text.toPlainText() == text  # type: ignore[union-attr]
    assert controller.autosaver.restored
    _close(qtbot, windows, view, ref.id)
