"""Never lose a note: autosaved, encrypted drafts that survive a closed window.

The store is tested on the file level (nothing readable on disk, bound to its
user, atomic); the autosave with real widgets on a real SQLite database and
a short interval, so the test does not wait 5 s.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from models.codes import MemberRole
from services.audit import Actor
from services.case_view import CaseViewService
from services.cases import CaseEditService, CaseService
from services.db import Database, open_database
from services.drafts import DraftStore
from services.journal import JournalService
from services.targets import TargetService
from tests.factories import KARIN, OSKAR, make_case
from ui.case_controller import CaseServices, CaseWindows
from ui.contact_dialog import ContactDialog

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 10_000
SECRET = "Karin berättar om skulder hos Kronofogden – åäö"


def test_drafts_are_encrypted_bound_to_their_user_and_deleted(tmp_path: Path) -> None:
    root = tmp_path / "drafts"
    store = DraftStore(directory=root, username="karin.h")
    case_id = uuid.uuid4()
    key = f"note:new:{case_id}"
    assert store.load(key) is None
    store.save(key, {"text": SECRET, "members": [str(case_id)]})
    draft = store.load(key)
    assert draft is not None and draft.payload["text"] == SECRET and draft.key == key

    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) == 2  # the key and one draft; no temporary file left behind
    for p in files:
        raw = p.read_bytes()
        assert b"Kronofogden" not in raw and SECRET.encode() not in raw
        assert str(case_id).encode() not in raw and str(case_id) not in p.name
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    draft_file = next(p for p in files if p.suffix == ".draft")

    # Another user neither finds it nor can read it when the file is copied to them.
    other = DraftStore(directory=root, username="anna.s")
    assert other.load(key) is None and other.keys([key]) == []
    other_dir = next(p for p in root.iterdir() if p != draft_file.parent)
    (other_dir / draft_file.name).write_bytes(draft_file.read_bytes())
    assert other.load(key) is None
    # A tampered file does not decrypt (and is not mistaken for a draft).
    blob = bytearray(draft_file.read_bytes())
    blob[-1] ^= 1
    draft_file.write_bytes(bytes(blob))
    assert store.load(key) is None

    store.save(key, {"text": "ny version"})
    assert store.keys([key, "note:new:x"]) == [key]
    store.delete(key)
    assert store.load(key) is None and store.keys([key]) == []
    with pytest.raises(ValueError):
        store.save("../../etc/passwd", {})


@pytest.fixture(autouse=True)
def _no_blocking_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected question box: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", refuse)


@pytest.fixture
def host(qtbot) -> QWidget:  # type: ignore[no-untyped-def]
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'drafts.db'}")
    yield database
    database.dispose()


def _windows(db: Database, actor: Actor, runner, host, store: DraftStore) -> CaseWindows:  # type: ignore[no-untyped-def]
    return CaseWindows(
        source=CaseViewService(db=db, actor=actor),
        runner=runner,
        parent_window=host,
        services=CaseServices(
            cases=CaseService(db=db, actor=actor),
            edits=CaseEditService(db=db, actor=actor),
            journal=JournalService(db=db, actor=actor),
            targets=TargetService(db=db, actor=actor),
            drafts=store,
            draft_interval_ms=50,
        ),
    )


def test_an_autosaved_draft_survives_closing_the_window(
    qtbot, sqlite_db, runner, host, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from services.users import get_or_create_unit

    actor = Actor.cli()
    with sqlite_db.begin() as s:
        unit_id = get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id
    ref = make_case(
        CaseService(db=sqlite_db, actor=actor),
        unit_id,
        (MemberRole.APPLICANT, KARIN),
        (MemberRole.CHILD, OSKAR),
        opened_on=date(2024, 5, 2),
    )
    store = DraftStore(directory=tmp_path / "drafts", username=actor.username)
    windows = _windows(sqlite_db, actor, runner, host, store)
    controller = windows.open(ref.id)
    view = controller.parent()
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    view.new_note_action.trigger()
    dialog = controller.dialog
    assert isinstance(dialog, ContactDialog)
    karin = controller.detail.members[0]
    dialog.member_boxes[karin.person_id].setChecked(True)
    dialog.agency.setCurrentIndex(dialog.agency.findData("kronofogden"))
    for ch in SECRET:
        QTest.sendKeyEvent(
            QTest.KeyAction.Click,
            dialog.text,
            Qt.Key.Key_unknown,
            ch,
            Qt.KeyboardModifier.NoModifier,
        )
    qtbot.waitUntil(lambda: controller.autosaver.saves >= 1, timeout=WAIT)
    assert store.load(f"note:new:{ref.id}").payload["text"] == SECRET

    # The window is closed (the user says yes to losing the form): the draft stays.
    controller.confirm_discard = lambda: True
    view.close()
    qtbot.waitUntil(lambda: windows.controller(ref.id) is None, timeout=WAIT)
    assert store.load(f"note:new:{ref.id}") is not None

    # Opening the case again says there is a draft; Ny kontakt brings it back.
    controller = windows.open(ref.id)
    view = controller.parent()
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    assert "1 osparat utkast" in view.message.text()
    controller.confirm_discard = lambda: True
    view.new_note_action.trigger()
    dialog = controller.dialog
    assert isinstance(dialog, ContactDialog)
    assert controller.autosaver.restored
    assert dialog.text.toPlainText() == SECRET
    assert dialog.agency.currentData() == "kronofogden"
    assert dialog.selected_members() == (karin.person_id,)
    assert controller.autosaver.notice.text().startswith("Återställt osparat utkast från ")

    # Saving the note to the database removes the draft.
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        dialog.save_button.click()
    assert [n.text for n in controller.detail.notes] == [SECRET]
    assert store.load(f"note:new:{ref.id}") is None
    view.close()


def test_discarding_a_note_on_purpose_deletes_its_draft(
    qtbot, sqlite_db, runner, host, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from services.users import get_or_create_unit

    actor = Actor.cli()
    with sqlite_db.begin() as s:
        unit_id = get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id
    ref = make_case(CaseService(db=sqlite_db, actor=actor), unit_id, (MemberRole.APPLICANT, KARIN))
    store = DraftStore(directory=tmp_path / "drafts", username=actor.username)
    windows = _windows(sqlite_db, actor, runner, host, store)
    controller = windows.open(ref.id)
    view = controller.parent()
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    controller.confirm_discard = lambda: True
    view.new_note_action.trigger()
    dialog = controller.dialog
    dialog.text.setPlainText("Fel ärende, ska kastas")
    qtbot.waitUntil(lambda: controller.autosaver.saves >= 1, timeout=WAIT)
    dialog.reject()  # Avbryt, and yes to throwing it away
    assert store.load(f"note:new:{ref.id}") is None
    view.close()
