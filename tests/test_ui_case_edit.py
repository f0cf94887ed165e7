"""Editing in the case window: real widgets (offscreen Qt), real services, real databases.

Each test opens a case window with the editing services, drives the forms as
a caseworker would (typing, ticking, clicking Spara) and checks both the
window and the database. Non-ASCII text is set directly or sent one key at a
time (``qtbot.keyClicks`` with å/ä/ö crashes Qt, see ENVIRONMENT.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableView, QWidget

from models.codes import MemberRole
from services.audit import Actor
from services.case_view import CaseViewService
from services.cases import (
    CaseChanges,
    CaseEditService,
    CaseRef,
    CaseService,
    MemberPersonInput,
)
from services.db import Database, open_database
from services.errors import ValidationError
from services.journal import JournalService
from services.support import SupportService
from services.targets import TargetService
from tests.factories import KARIN, OSKAR, make_case
from ui.case_controller import CaseController, CaseServices, CaseWindows
from ui.case_dialogs import (
    CloseCaseDialog,
    DirectionDialog,
    GoalDialog,
    MonthDialog,
    PersonOutcomeDialog,
)
from ui.case_forms import find_data
from ui.case_models import COL_CONSENT, COL_STATUS, COL_TEXT, NoteTableModel, RowsModel
from ui.case_view import SUPPORT_CELL, CaseView
from ui.conflict_dialog import THEIRS, ConflictDialog
from ui.contact_dialog import ContactDialog
from ui.household_dialogs import ConsentDialog, EndMemberDialog, MemberDialog, ReasonDialog
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 10_000


@pytest.fixture(autouse=True)
def _no_blocking_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A question box nobody answers would hang the test: fail instead."""
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
    database = open_database(f"sqlite:///{tmp_path / 'edit.db'}")
    yield database
    database.dispose()


def _unit(db: Database, actor: Actor) -> uuid.UUID:
    from services.users import get_or_create_unit

    with db.begin() as s:
        return get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id


def _case(db: Database, actor: Actor) -> CaseRef:
    ref = make_case(
        CaseService(db=db, actor=actor),
        _unit(db, actor),
        (MemberRole.APPLICANT, KARIN),
        (MemberRole.CHILD, OSKAR),
        opened_on=date(2024, 5, 2),
        address="Storgatan 12",
        postcode="15130",
        town="Södertälje",
        housing_cost_ore=712_000,
    )
    SupportService(db=db, actor=actor).add_month(ref.id, date(2025, 3, 1), 845_050)
    SupportService(db=db, actor=actor).add_month(ref.id, date(2025, 4, 1), 1_234_500)
    return ref


def _windows(db: Database, actor: Actor, runner: BackgroundRunner, host: QWidget) -> CaseWindows:
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
        ),
    )


def _open(qtbot, windows: CaseWindows, case_id: uuid.UUID) -> tuple[CaseView, CaseController]:  # type: ignore[no-untyped-def]
    controller = windows.open(case_id)
    view = controller.parent()
    assert isinstance(view, CaseView)
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    controller.confirm = lambda *_: True
    controller.confirm_discard = lambda: True
    return view, controller


def _column(table: QTableView, col: int) -> list[str]:
    model = table.model()
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def _select(table: QTableView, row: int) -> None:
    table.selectRow(row)
    QCoreApplication.processEvents()


def _save(qtbot, controller: CaseController, dialog) -> None:  # type: ignore[no-untyped-def]
    """Click Spara and wait until the change is saved and the window refreshed."""
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        dialog.save_button.click()


def _save_fails(qtbot, controller: CaseController, dialog) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(controller.action_failed, timeout=WAIT):
        dialog.save_button.click()


def _type(widget: QWidget, text: str) -> None:
    """Type text key by key, å/ä/ö included (the workaround from ENVIRONMENT.md)."""
    for ch in text:
        QTest.sendKeyEvent(
            QTest.KeyAction.Click, widget, Qt.Key.Key_unknown, ch, Qt.KeyboardModifier.NoModifier
        )


def _set_combo(combo, data: object) -> None:  # type: ignore[no-untyped-def]
    index = find_data(combo, data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def test_contact_log_draft_sign_refuse_edit_correct_and_consent_warning(  # type: ignore[no-untyped-def]
    qtbot, sqlite_db, runner, host
) -> None:
    actor = Actor.cli()
    ref = _case(sqlite_db, actor)
    view, controller = _open(qtbot, _windows(sqlite_db, actor, runner, host), ref.id)
    karin, oskar = controller.detail.members

    # Ctrl+K opens "Ny kontakt"; an empty text is refused beside the field, nothing saved.
    view.new_note_action.trigger()
    dialog = controller.dialog
    assert isinstance(dialog, ContactDialog) and dialog.windowTitle() == "Fokus – Ny kontakt"
    _set_combo(dialog.agency, "psychiatry")
    _set_combo(dialog.method, "phone")
    qtbot.keyClicks(dialog.counterpart, "Dr Lind")
    assert not dialog.child_perspective.isEnabled()  # no child ticked yet
    dialog.member_boxes[oskar.person_id].setChecked(True)
    assert dialog.child_perspective.isEnabled()
    dialog.child_perspective.setChecked(True)
    dialog.follow_up.setText("2026-13-01")
    dialog.save_button.click()
    assert dialog.error_text("uppföljning") == "datumet 2026-13-01 finns inte"
    dialog.follow_up.setText("2026-12-01")
    _save_fails(qtbot, controller, dialog)
    assert dialog.error_text("text") == "måste fyllas i"
    assert controller.detail.notes == ()
    dialog.text.setFocus()
    _type(dialog.text, "Samtal om Oskars mående – skolan oroar sig")
    _save(qtbot, controller, dialog)
    assert controller.dialog is None

    (note,) = controller.detail.notes
    assert note.text == "Samtal om Oskars mående – skolan oroar sig"
    assert (note.counterpart, note.follow_up_on, note.child_perspective) == (
        "Dr Lind",
        date(2026, 12, 1),
        True,
    )
    assert _column(view.notes, COL_STATUS) == ["utkast"]
    # The agency has no consent from Oskar: said beside the note, in red.
    assert _column(view.notes, COL_CONSENT) == ["⚠ inget giltigt samtycke: Oskar Nyström"]
    index = view.notes_model.index(0, COL_CONSENT)
    assert view.notes_model.data(index, Qt.ItemDataRole.ForegroundRole) is not None

    # Sign: the draft is locked.
    _select(view.notes, 0)
    assert view.edit_note_button.isEnabled() and view.sign_note_button.isEnabled()
    assert "⚠ Inget giltigt samtycke till psykiatri från: Oskar Nyström" in (
        view.note_detail.toPlainText()
    )
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        view.sign_note_button.click()
    assert _column(view.notes, COL_STATUS) == ["signerad"]
    _select(view.notes, 0)
    assert not view.edit_note_button.isEnabled() and view.correct_note_button.isEnabled()
    controller._on_edit_note()  # even if asked, the window refuses to edit a signed note
    assert "signerad och låst" in view.message.text() and controller.dialog is None
    signed = controller.detail.notes[0]
    with pytest.raises(ValidationError, match="signerad och låst"):  # so does the service
        JournalService(db=sqlite_db, actor=actor).update_draft(
            signed.id, signed.version, dialog_value_of(signed)
        )

    # Rätta writes a new signed note linked to the original, which stays as it was.
    view.correct_note_button.click()
    fix = controller.dialog
    assert isinstance(fix, ContactDialog) and fix.windowTitle() == "Fokus – Rätta anteckning"
    assert fix.text.toPlainText() == ""
    fix.text.setPlainText("Rättelse: samtalet var med skolkuratorn, inte psykiatrin")
    _save(qtbot, controller, fix)
    original, correction = controller.detail.notes
    assert original.text == "Samtal om Oskars mående – skolan oroar sig"
    assert correction.corrects_id == original.id and correction.signed
    assert original.corrected_by == (correction.id,)
    assert _column(view.notes, COL_STATUS) == ["signerad (rättad)", "signerad (rättelse)"]

    # Notes about a child are listed under the child.
    assert view.child_combo.currentText() == "Oskar Nyström"
    assert view.child_notes_model.rowCount() == 2
    assert view.child_notes_model.column_texts(2) == ["ja", "ja"]

    # Filters: agency, counterpart, dates; a bad date says so beside the filter.
    _set_combo(view.agency_filter, "fk")
    assert view.notes_model.rowCount() == 0 and view.note_count.text() == "0 av 2 anteckningar"
    _set_combo(view.agency_filter, "")
    qtbot.keyClicks(view.counterpart_filter, "lind")
    assert view.notes_model.rowCount() == 2
    view.counterpart_filter.clear()
    view.date_from_filter.setText("2099-01-01")
    assert view.notes_model.rowCount() == 0
    view.date_from_filter.setText("2099-13")
    assert view.filter_error.isVisibleTo(view) and "ÅÅÅÅ-MM-DD" in view.filter_error.text()
    view.date_from_filter.clear()
    assert view.notes_model.rowCount() == 2

    # A consent from Oskar to psychiatry, given through the Hushåll tab, removes the warning.
    view.add_consent_button.click()
    consent = controller.dialog
    assert isinstance(consent, ConsentDialog)
    _set_combo(consent.person, oskar.person_id)
    _set_combo(consent.agency, "psychiatry")
    consent.valid_from.setText("2026-01-01")
    _save_fails(qtbot, controller, consent)
    assert consent.error_text("omfattning") == "måste fyllas i"
    consent.scope.setPlainText("Skolsituation och mående")
    _save(qtbot, controller, consent)
    assert _column(view.notes, COL_CONSENT) == ["", ""]
    assert view.consents_model.column_texts(5) == ["giltigt"]
    assert karin.person_id not in {c.person_id for c in controller.detail.consents}

    # Withdrawing it brings the warning back only for contacts after the withdrawal.
    _select(view.consents, 0)
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        view.withdraw_consent_button.click()
    assert view.consents_model.column_texts(5)[0].startswith("återkallat ")
    view.close()


def dialog_value_of(note):  # type: ignore[no-untyped-def]
    from services.journal import NoteInput

    return NoteInput(note.occurred_at, note.agency_code, note.method_code, "ändrad text")


def test_household_members_personnummer_housing_reasons(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref = _case(sqlite_db, actor)
    view, controller = _open(qtbot, _windows(sqlite_db, actor, runner, host), ref.id)
    view.tabs.setCurrentIndex(1)

    # A new member: the personnummer is checked as it is typed, the message beside it.
    view.add_member_button.click()
    member = controller.dialog
    assert isinstance(member, MemberDialog)
    _set_combo(member.role, MemberRole.CHILD.value)
    qtbot.keyClicks(member.personal_id, "20150303-2384")
    assert member.error_text("personnummer") == "kontrollsiffran stämmer inte"
    member.first_name.setText("Åsa")
    member.last_name.setText("Åkesson")
    member.save_button.click()  # refused by the form: nothing reaches the service
    assert controller.dialog is member and member.error_text("personnummer")
    member.personal_id.clear()
    qtbot.keyClicks(member.personal_id, "150303-238")
    assert member.error_text("personnummer") == "ange 10 eller 12 siffror, t.ex. ÅÅÅÅMMDD-NNNN"
    qtbot.keyClicks(member.personal_id, "3")
    assert member.error_text("personnummer") == ""
    member.valid_from.setText("2024-06-01")
    _save(qtbot, controller, member)
    assert view.members_model.column_texts(0) == ["Karin Nyström", "Oskar Nyström", "Åsa Åkesson"]
    assert view.members_model.column_texts(1)[2] == "20150303-2383"

    # A service error names its field and lands beside it (a second sökande).
    view.add_member_button.click()
    second = controller.dialog
    assert isinstance(second, MemberDialog)
    _set_combo(second.role, MemberRole.APPLICANT.value)
    qtbot.keyClicks(second.personal_id, "19650909-5714")
    second.first_name.setText("Bengt")
    second.last_name.setText("Åkesson")
    _save_fails(qtbot, controller, second)
    assert second.error_text("roll") == "hushållet har redan en sökande under samma period"
    assert len(controller.detail.members) == 3  # nothing half-saved: no person, no member
    second.reject()

    # Edit a member's person data.
    _select(view.members, 2)
    view.edit_member_button.click()
    edit = controller.dialog
    assert isinstance(edit, MemberDialog) and edit.role.isEnabled()
    edit.phone.setText("070-123 45 67")
    edit.valid_from.setText("2024-07-01")
    _save(qtbot, controller, edit)
    asa = controller.detail.members[2]
    assert (asa.phone, asa.valid_from) == ("070-123 45 67", date(2024, 7, 1))
    _select(view.members, 0)
    view.edit_member_button.click()
    applicant = controller.dialog
    assert isinstance(applicant, MemberDialog) and not applicant.role.isEnabled()
    applicant.reject()

    # End the membership.
    _select(view.members, 2)
    view.end_member_button.click()
    end = controller.dialog
    assert isinstance(end, EndMemberDialog)
    end.valid_to.setText("2024-05-01")
    _save_fails(qtbot, controller, end)
    assert end.error_text("till") == "kan inte ligga före från-datumet"
    end.valid_to.setText("2025-01-31")
    _save(qtbot, controller, end)
    assert view.members_model.column_texts(5)[2] == "2025-01-31"
    _select(view.members, 0)
    assert not view.end_member_button.isEnabled()  # the sökande is not removed this way

    # Housing: a bad amount and a bad postcode, each beside its field; nothing saved.
    cost = view.housing_edits["boendekostnad"]
    assert cost.text() == "7 120"
    cost.clear()
    qtbot.keyClicks(cost, "sju tusen")
    view.save_housing_button.click()
    assert view.housing_errors["boendekostnad"].text().startswith("ogiltigt belopp")
    cost.clear()
    qtbot.keyClicks(cost, "8 450")
    view.housing_edits["postnummer"].clear()
    qtbot.keyClicks(view.housing_edits["postnummer"], "1513")
    with qtbot.waitSignal(controller.action_failed, timeout=WAIT):
        view.save_housing_button.click()
    assert view.housing_errors["postnummer"].text().startswith("ska vara fem siffror")
    assert controller.detail.housing_cost_ore == 712_000
    assert controller.has_unsaved_changes()
    view.housing_edits["postnummer"].clear()
    qtbot.keyClicks(view.housing_edits["postnummer"], "15132")
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=WAIT)
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        QTest.keySequence(view, "Ctrl+S")  # Ctrl+S saves the form being edited
    assert controller.detail.housing_cost_ore == 845_000
    assert view.fields["housing_cost"].text() == "8 450 kr"
    assert view.fields["address"].text() == "Storgatan 12, 151 32 Södertälje"
    assert not controller.has_unsaved_changes()

    # Support reasons are per adult.
    view.add_reason_button.click()
    reason = controller.dialog
    assert isinstance(reason, ReasonDialog)
    assert [reason.person.itemText(i) for i in range(reason.person.count())] == ["Karin Nyström"]
    _set_combo(reason.kind, "sick_with_benefit")
    reason.valid_from.setText("2025-02-01")
    _save(qtbot, controller, reason)
    assert view.reasons_model.column_texts(1) == ["sjukskriven med sjukpenning"]
    view.close()


def test_close_with_outcome_reopen_plan_and_months(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref = _case(sqlite_db, actor)
    windows = _windows(sqlite_db, actor, runner, host)
    view, controller = _open(qtbot, windows, ref.id)
    karin = controller.detail.members[0]
    assert view.reopen_button.isEnabled() is False

    # Month strip: twelve cells per year, coloured where there was support.
    assert view.month_strip.cells[(2025, 3)].text() == "8 450,50 kr"
    assert view.month_strip.cells[(2025, 4)].text() == "12 345 kr"
    assert view.month_strip.cells[(2025, 3)].styleSheet() == SUPPORT_CELL
    assert view.month_strip.cells[(2025, 5)].text() == ""
    assert len([k for k in view.month_strip.cells if k[0] == 2025]) == 12
    # A month entered by hand; a bad month is refused beside its field; Ctrl+S saves the form.
    view.tabs.setCurrentIndex(3)
    view.add_month_button.click()
    month = controller.dialog
    assert isinstance(month, MonthDialog)
    qtbot.keyClicks(month.month, "2025-13")
    qtbot.keyClicks(month.amount, "9 100")
    month.save_button.click()
    assert month.error_text("månad") == "ogiltig månad '2025-13', ange ÅÅÅÅ-MM"
    month.month.clear()
    qtbot.keyClicks(month.month, "2025-05")
    month.activateWindow()
    qtbot.waitUntil(month.isActiveWindow, timeout=WAIT)
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        QTest.keySequence(month, "Ctrl+S")
    assert view.month_strip.cells[(2025, 5)].text() == "9 100 kr"
    assert view.month_strip.cells[(2025, 5)].styleSheet() == SUPPORT_CELL

    # Plan: a goal for Karin, reached; an outcome for her.
    view.add_goal_button.click()
    goal = controller.dialog
    assert isinstance(goal, GoalDialog)
    _set_combo(goal.person, karin.person_id)
    goal.text.setPlainText("Praktik på lager, sedan anställning")
    goal.target_date.setText("2026-09-01")
    _save(qtbot, controller, goal)
    assert view.goals_model.column_texts(0) == ["Karin Nyström"]
    _select(view.goals, 0)
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        view.achieve_goal_button.click()
    assert view.goals_model.column_texts(4) == [date.today().isoformat()]
    view.add_direction_button.click()
    direction = controller.dialog
    assert isinstance(direction, DirectionDialog)
    assert [direction.person.itemText(i) for i in range(direction.person.count())] == [
        "Karin Nyström"
    ]  # adults only
    _set_combo(direction.direction, "sickness_compensation")
    direction.goal.setPlainText("Ansökan om sjukersättning hos Försäkringskassan")
    direction.goal_date.setText("2020-01-01")
    _save_fails(qtbot, controller, direction)
    assert direction.error_text("måldatum") == "kan inte ligga före startdatumet"
    direction.goal_date.setText("")
    _save(qtbot, controller, direction)
    assert view.directions_model.column_texts(1) == ["sjukersättning/aktivitetsersättning"]
    view.add_outcome_button.click()
    outcome = controller.dialog
    assert isinstance(outcome, PersonOutcomeDialog)
    _set_combo(outcome.outcome.outcome, "work")
    _save(qtbot, controller, outcome)
    assert view.outcomes_model.column_texts(2) == ["arbete"]

    # Close: sjukersättning needs its grade and whether it is varaktig.
    view.close_case_button.click()
    close = controller.dialog
    assert isinstance(close, CloseCaseDialog)
    _set_combo(close.outcome.outcome, "sickness_compensation")
    _save_fails(qtbot, controller, close)
    assert close.error_text("omfattning").startswith("ange omfattning")
    assert close.error_text("varaktig").startswith("ange om")
    _set_combo(close.outcome.grade, "1/1")
    _set_combo(close.outcome.permanent, "yes")
    with qtbot.waitSignal(windows.case_changed, timeout=WAIT) as changed:
        _save(qtbot, controller, close)
    assert changed.args == [ref.id]  # the register lists the new status
    assert view.fields["status"].text() == "avslutad"
    assert view.fields["outcome"].text() == "sjukersättning hel, varaktig"
    assert view.reopen_button.isEnabled() and not view.close_case_button.isEnabled()

    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        view.reopen_button.click()
    assert view.fields["status"].text() == "pågående" and view.fields["closed"].text() == ""
    history = view.history_model.column_texts(2)
    assert "ärende avslutat" in history and "ärende återöppnat" in history
    assert history.count("ärende öppnat") == 1  # refreshes after edits are not new openings

    # Ctrl+P asks for the printed summary of this case.
    with qtbot.waitSignal(view.print_requested, timeout=WAIT) as blocker:
        view.print_action.trigger()
    assert blocker.args == [ref.id]
    view.close()


def test_a_conflict_shows_theirs_beside_yours(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref = _case(sqlite_db, actor)
    view, controller = _open(qtbot, _windows(sqlite_db, actor, runner, host), ref.id)
    # Someone else moves the household to Järna while we edit the housing cost.
    other = CaseService(db=sqlite_db, actor=Actor("anna", actor.role))
    other.update_case(ref.id, ref.version, CaseChanges(town="Järna"))
    cost = view.housing_edits["boendekostnad"]
    cost.clear()
    qtbot.keyClicks(cost, "9000")
    view.save_housing_button.click()
    qtbot.waitUntil(lambda: controller.conflict_dialog is not None, timeout=WAIT)
    dialog = controller.conflict_dialog
    assert isinstance(dialog, ConflictDialog)
    assert dialog.windowTitle() == "Fokus – någon annan har ändrat ärendet"
    rows = {f.label: (f.base, f.theirs, f.yours) for f in dialog.fields}
    assert rows == {
        "Ort": ("Södertälje", "Järna", "Södertälje"),
        "Boendekostnad": ("7 120", "7 120", "9000"),
    }
    assert controller.detail.town == "Järna"  # the window shows what is saved now
    dialog.choose("Ort", THEIRS)
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        dialog.ok_button.click()
    d = CaseViewService(db=sqlite_db, actor=actor).refresh(ref.id)
    assert (d.town, d.housing_cost_ore) == ("Järna", 900_000)
    assert view.fields["address"].text() == "Storgatan 12, 151 30 Järna"

    # Two people edit the same member: theirs beside yours per field, chosen per field.
    _select(view.members, 1)
    view.edit_member_button.click()
    edit = controller.dialog
    assert isinstance(edit, MemberDialog)
    oskar = controller.detail.members[1]
    other_edits = CaseEditService(db=sqlite_db, actor=Actor("anna", actor.role))
    other_edits.update_member_person(
        oskar.person_id,
        oskar.person_version,
        MemberPersonInput("Oskar", "Nyström", "20120630-2844", phone="08-55 00 11"),
    )
    edit.last_name.setText("Berg")
    edit.save_button.click()
    qtbot.waitUntil(lambda: controller.conflict_dialog is not dialog, timeout=WAIT)
    member_conflict = controller.conflict_dialog
    assert isinstance(member_conflict, ConflictDialog)
    rows = {f.label: (f.base, f.theirs, f.yours) for f in member_conflict.fields}
    assert rows == {
        "Efternamn": ("Nyström", "Nyström", "Berg"),
        "Telefon": ("", "08-55 00 11", ""),
    }
    member_conflict.choose("Telefon", THEIRS)
    with qtbot.waitSignal(controller.action_done, timeout=WAIT):
        member_conflict.ok_button.click()
    oskar = controller.detail.members[1]
    assert (oskar.last_name, oskar.phone) == ("Berg", "08-55 00 11")

    # A stale member version without field data: the window says so and reloads.
    karin_version = controller.detail.members[1].version
    with sqlite_db.begin() as s:
        from models import HouseholdMember

        row = s.get(HouseholdMember, controller.detail.members[1].id)
        assert row is not None
        row.studying = True  # bumps the membership's version behind the window's back
    _select(view.members, 1)
    view.end_member_button.click()
    end = controller.dialog
    assert isinstance(end, EndMemberDialog)
    _save_fails(qtbot, controller, end)
    assert "har ändrats av någon annan" in end.general_error.text()
    qtbot.waitUntil(lambda: controller.detail.members[1].version == karin_version + 1, timeout=WAIT)
    assert controller.conflict_dialog is not None and controller.conflict_dialog.fields == []
    controller.conflict_dialog.close()
    end.reject()
    view.close()


def test_unsaved_changes_guard_on_close(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref = _case(sqlite_db, actor)
    windows = _windows(sqlite_db, actor, runner, host)
    view, controller = _open(qtbot, windows, ref.id)
    asked: list[bool] = []

    def refuse() -> bool:
        asked.append(True)
        return False

    controller.confirm_discard = refuse
    view.new_note_action.trigger()
    dialog = controller.dialog
    assert isinstance(dialog, ContactDialog)
    _type(dialog.text, "Halvskriven anteckning om hyran")
    assert dialog.dirty
    assert not view.close() and asked == [True]  # the guard kept the window open
    assert windows.controller(ref.id) is controller
    dialog.reject()  # Esc/Avbryt asks too
    assert asked == [True, True] and dialog.isVisible()
    controller.confirm_discard = lambda: True
    assert view.close()
    qtbot.waitUntil(lambda: windows.controller(ref.id) is None, timeout=WAIT)


def test_a_read_only_window_has_no_edit_buttons_enabled(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref = _case(sqlite_db, actor)
    windows = CaseWindows(
        source=CaseViewService(db=sqlite_db, actor=actor), runner=runner, parent_window=host
    )
    view, controller = _open(qtbot, windows, ref.id)
    for button in (
        view.new_note_button,
        view.add_member_button,
        view.close_case_button,
        view.save_housing_button,
        view.add_goal_button,
    ):
        assert not button.isEnabled()
    view.new_note_action.trigger()
    assert controller.dialog is None
    view.close()


def test_the_models_pass_the_model_testers(qtmodeltester, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref = _case(sqlite_db, actor)
    from datetime import UTC, datetime

    from services.journal import NoteInput

    journal = JournalService(db=sqlite_db, actor=actor)
    for i in range(3):
        journal.add_note(
            ref.id,
            NoteInput(datetime(2025, 3, 4 + i, tzinfo=UTC), "fk", "phone", f"Anteckning {i}"),
        )
    d = CaseViewService(db=sqlite_db, actor=actor).load(ref.id)
    notes = NoteTableModel()
    notes.set_notes(d.notes, {m.person_id: m.name for m in d.members})
    qtmodeltester.check(notes, force_py=True)
    assert notes.data(notes.index(0, COL_TEXT)) == "Anteckning 0"
    rows = RowsModel(["a", "b"])
    rows.set_rows([("1", "2"), ("3", "4")], ["x", "y"])
    qtmodeltester.check(rows, force_py=True)


@pytest.mark.postgres
def test_editing_on_postgresql(qtbot, pg_url, runner, host) -> None:  # type: ignore[no-untyped-def]
    db = open_database(pg_url)
    try:
        actor = Actor.cli()
        ref = _case(db, actor)
        view, controller = _open(qtbot, _windows(db, actor, runner, host), ref.id)
        view.new_note_action.trigger()
        dialog = controller.dialog
        assert isinstance(dialog, ContactDialog)
        _set_combo(dialog.agency, "fk")
        dialog.member_boxes[controller.detail.members[0].person_id].setChecked(True)
        dialog.text.setPlainText("Ansökan om sjukersättning skickad – Försäkringskassan")
        _save(qtbot, controller, dialog)
        _select(view.notes, 0)
        with qtbot.waitSignal(controller.action_done, timeout=WAIT):
            view.sign_note_button.click()
        assert _column(view.notes, COL_STATUS) == ["signerad"]
        assert _column(view.notes, COL_CONSENT) == ["⚠ inget giltigt samtycke: Karin Nyström"]
        view.close()
        runner.wait()
        QCoreApplication.processEvents()
    finally:
        db.dispose()
