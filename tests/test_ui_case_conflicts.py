"""Stale-version conflicts on a note draft and on closing/reopening a case, per field.

Someone else (here: a second service with its own sessions, as a second
Fokus would be) saves while the form is open. The conflict dialog must list
theirs beside yours, let the user keep theirs, take the other's or choose
per field, and nothing may be lost silently. Real widgets, real services, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from PySide6.QtWidgets import QWidget
from sqlalchemy import select

from models import AuditEvent
from models.codes import MemberRole, Outcome
from services.audit import Actor
from services.case_view import CaseViewService
from services.cases import CaseChanges, CaseEditService, CaseRef, CaseService, OutcomeInput
from services.db import Database
from services.drafts import DraftStore
from services.errors import ValidationError
from services.journal import JournalService, NoteInput
from services.targets import TargetService
from tests.factories import KARIN, OSKAR, make_case
from ui.case_controller import CaseController, CaseServices, CaseWindows
from ui.case_dialogs import CloseCaseDialog
from ui.case_forms import find_data
from ui.case_view import CaseView
from ui.conflict_dialog import THEIRS, YOURS, ConflictDialog
from ui.contact_dialog import ContactDialog

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 10_000
TODAY = date.today()


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


def _case(db: Database, actor: Actor, unit_id: uuid.UUID) -> CaseRef:
    return make_case(
        CaseService(db=db, actor=actor),
        unit_id,
        (MemberRole.APPLICANT, KARIN),
        (MemberRole.CHILD, OSKAR),
        opened_on=date(2024, 5, 2),
        address="Storgatan 12",
        postcode="15130",
        town="Södertälje",
    )


def _open(
    qtbot, db: Database, actor: Actor, runner, host, case_id, drafts: DraftStore | None = None
) -> tuple[CaseView, CaseController]:  # type: ignore[no-untyped-def]
    windows = CaseWindows(
        source=CaseViewService(db=db, actor=actor),
        runner=runner,
        parent_window=host,
        services=CaseServices(
            cases=CaseService(db=db, actor=actor),
            edits=CaseEditService(db=db, actor=actor),
            journal=JournalService(db=db, actor=actor),
            targets=TargetService(db=db, actor=actor),
            drafts=drafts,
            draft_interval_ms=50,
        ),
    )
    controller = windows.open(case_id)
    view = controller.parent()
    assert isinstance(view, CaseView)
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    controller.confirm = lambda *_: True
    controller.confirm_discard = lambda: True
    return view, controller


def _conflict(qtbot, controller: CaseController, previous: object = None) -> ConflictDialog:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: (
            controller.conflict_dialog is not None and controller.conflict_dialog is not previous
        ),
        timeout=WAIT,
    )
    dialog = controller.conflict_dialog
    assert isinstance(dialog, ConflictDialog) and dialog.windowTitle().startswith("Fokus – ")
    return dialog


def _rows(dialog: ConflictDialog) -> dict[str, tuple[str | None, str, str]]:
    return {f.label: (f.base, f.theirs, f.yours) for f in dialog.fields}


def _events(db: Database, action: str) -> int:
    with db.begin() as s:
        return len(s.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_a_note_draft_saved_elsewhere_shows_theirs_beside_yours(  # type: ignore[no-untyped-def]
    qtbot, db, actor, unit_id, runner, host
) -> None:
    ref = _case(db, actor, unit_id)
    journal = JournalService(db=db, actor=actor)
    when = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    note = journal.add_note(
        ref.id, NoteInput(when, "fk", "phone", "Samtal om sjukpenning.", counterpart="Handläggare")
    )
    view, controller = _open(qtbot, db, actor, runner, host, ref.id)
    assert controller.select_note(note.id)
    view.edit_note_button.click()
    dialog = controller.dialog
    assert isinstance(dialog, ContactDialog)

    # The author saves the same draft from another computer meanwhile.
    elsewhere = JournalService(db=db, actor=actor)
    elsewhere.update_draft(
        note.id,
        note.version,
        NoteInput(when, "fk", "phone", "Samtal om sjukpenning.", counterpart="Eva Lind, FK"),
    )
    dialog.text.setPlainText("Samtal om sjukpenning och om aktivitetsstöd – åäö.")
    dialog.save_button.click()
    conflict = _conflict(qtbot, controller)
    assert _rows(conflict) == {
        "Kontaktperson": ("Handläggare", "Eva Lind, FK", "Handläggare"),
        "Anteckning": (
            "Samtal om sjukpenning.",
            "Samtal om sjukpenning.",
            "Samtal om sjukpenning och om aktivitetsstöd – åäö.",
        ),
    }
    conflict.choose("Kontaktperson", THEIRS)  # per field: their contact person, my text
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        conflict.ok_button.click()
    saved = next(n for n in controller.detail.notes if n.id == note.id)
    assert saved.counterpart == "Eva Lind, FK"
    assert saved.text == "Samtal om sjukpenning och om aktivitetsstöd – åäö."
    assert not saved.signed
    view.close()


def test_a_draft_signed_elsewhere_keeps_the_text_for_a_correction(  # type: ignore[no-untyped-def]
    qtbot, db, actor, unit_id, runner, host, tmp_path
) -> None:
    ref = _case(db, actor, unit_id)
    journal = JournalService(db=db, actor=actor)
    when = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    note = journal.add_note(ref.id, NoteInput(when, "fk", "phone", "Samtal om sjukpenning."))
    store = DraftStore(directory=tmp_path / "drafts", username=actor.username)
    view, controller = _open(qtbot, db, actor, runner, host, ref.id, store)
    assert controller.select_note(note.id)
    view.edit_note_button.click()
    dialog = controller.dialog
    assert isinstance(dialog, ContactDialog)
    JournalService(db=db, actor=actor).sign(note.id, note.version)  # signed elsewhere
    mine = "Samtal om sjukpenning; FK begär nytt läkarintyg – åäö."
    dialog.text.setPlainText(mine)
    with qtbot.waitSignal(controller.action_failed, timeout=WAIT):
        dialog.save_button.click()
    qtbot.waitUntil(lambda: "signerats under tiden" in dialog.general_error.text(), timeout=WAIT)
    dialog.reject()  # "close anyway": the text stays as a draft
    assert store.load(f"note:edit:{note.id}").payload["text"] == mine

    assert controller.select_note(note.id)
    view.correct_note_button.click()  # Rätta brings the text back in the correction
    correction = controller.dialog
    assert isinstance(correction, ContactDialog) and correction.mode == "correct"
    assert correction.text.toPlainText() == mine and controller.autosaver.restored
    assert store.load(f"note:edit:{note.id}") is None
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        correction.save_button.click()
    assert any(n.corrects_id == note.id and n.text == mine for n in controller.detail.notes)
    assert store.keys([f"note:correct:{note.id}", f"note:edit:{note.id}"]) == []
    view.close()


def test_closing_a_case_someone_changed_lists_their_changes_and_closes_on_keep_mine(  # type: ignore[no-untyped-def]
    qtbot, db, actor, unit_id, runner, host
) -> None:
    ref = _case(db, actor, unit_id)
    view, controller = _open(qtbot, db, actor, runner, host, ref.id)
    view.close_case_button.click()
    dialog = controller.dialog
    assert isinstance(dialog, CloseCaseDialog)
    dialog.outcome.outcome.setCurrentIndex(find_data(dialog.outcome.outcome, Outcome.WORK.value))

    other = CaseService(db=db, actor=Actor("anna", actor.role))
    other.update_case(ref.id, ref.version, CaseChanges(town="Järna"))
    dialog.save_button.click()
    conflict = _conflict(qtbot, controller)
    (status,) = conflict.fields
    assert status.label == "Status" and status.theirs == "aktualisering"
    assert status.yours.startswith(f"avslutad {TODAY.isoformat()}, arbete")
    assert [(f.label, f.base, f.theirs) for f in conflict.others] == [
        ("Ort", "Södertälje", "Järna")
    ]
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        conflict.ok_button.click()  # keep mine (the default): closed on their version
    d = CaseViewService(db=db, actor=actor).refresh(ref.id)
    assert (d.is_closed, d.closed_on, d.outcome_label, d.town) == (True, TODAY, "arbete", "Järna")
    view.close()


def test_two_closings_choose_date_and_outcome_per_field(  # type: ignore[no-untyped-def]
    qtbot, db, actor, unit_id, runner, host
) -> None:
    ref = _case(db, actor, unit_id)
    view, controller = _open(qtbot, db, actor, runner, host, ref.id)
    view.close_case_button.click()
    dialog = controller.dialog
    assert isinstance(dialog, CloseCaseDialog)
    dialog.outcome.outcome.setCurrentIndex(find_data(dialog.outcome.outcome, Outcome.WORK.value))
    theirs_day = TODAY - timedelta(days=3)
    other = CaseService(db=db, actor=Actor("anna", actor.role))
    other.close(ref.id, ref.version, theirs_day, OutcomeInput(Outcome.MOVED))

    dialog.save_button.click()
    conflict = _conflict(qtbot, controller)
    assert _rows(conflict) == {
        "Avslutat": ("", theirs_day.isoformat(), TODAY.isoformat()),
        "Utfall": ("", "flyttat", "arbete"),
    }
    conflict.choose("Avslutat", THEIRS)
    conflict.choose("Utfall", YOURS)
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        conflict.ok_button.click()
    d = CaseViewService(db=db, actor=actor).refresh(ref.id)
    assert (d.closed_on, d.outcome_label) == (theirs_day, "arbete")
    assert _events(db, "case_closing_changed") == 1 and _events(db, "case_closed") == 1

    # Reopening while the other user changed the closed case: Status theirs beside yours.
    other.update_case(ref.id, d.version, CaseChanges(town="Järna"))
    view.reopen_button.click()
    conflict = _conflict(qtbot, controller, previous=conflict)
    (status,) = conflict.fields
    assert status.theirs == f"avslutad {theirs_day.isoformat()}, arbete"
    assert status.yours == "pågående (återöppnat)"
    assert [f.label for f in conflict.others] == ["Ort"]
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        conflict.ok_button.click()
    assert not CaseViewService(db=db, actor=actor).refresh(ref.id).is_closed

    # Taking theirs saves nothing of mine.
    fresh = CaseViewService(db=db, actor=actor).refresh(ref.id)
    other.close(ref.id, fresh.version, TODAY, OutcomeInput(Outcome.STUDIES))
    qtbot.waitUntil(lambda: controller.detail.version == fresh.version, timeout=WAIT)
    view.close_case_button.click()
    dialog = controller.dialog
    assert isinstance(dialog, CloseCaseDialog)
    dialog.save_button.click()
    conflict = _conflict(qtbot, controller, previous=conflict)
    conflict.all_theirs.click()
    conflict.ok_button.click()
    qtbot.waitUntil(lambda: controller.dialog is None, timeout=WAIT)
    d = CaseViewService(db=db, actor=actor).refresh(ref.id)
    assert (d.closed_on, d.outcome_label) == (TODAY, "studier")
    assert _events(db, "case_closing_changed") == 1
    view.close()


def test_change_closing_checks_the_case_and_the_fields(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    ref = _case(db, actor, unit_id)
    cases = CaseService(db=db, actor=actor)
    with pytest.raises(ValidationError) as refused:
        cases.change_closing(ref.id, ref.version, TODAY, None)
    assert refused.value.errors[0].message == "ärendet är inte avslutat"
    closed = cases.close(ref.id, ref.version, TODAY, OutcomeInput(Outcome.WORK))
    with pytest.raises(ValidationError) as bad:
        cases.change_closing(closed.id, closed.version, TODAY + timedelta(days=1), None)
    assert bad.value.errors[0].field == "avslutat"
    changed = cases.change_closing(closed.id, closed.version, None, OutcomeInput(Outcome.MOVED))
    d = CaseViewService(db=db, actor=actor).refresh(ref.id)
    assert (d.closed_on, d.outcome_label, d.version) == (TODAY, "flyttat", changed.version)
