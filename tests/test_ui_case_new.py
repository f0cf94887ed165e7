"""A new case from the main window (Ctrl+N): personnummer first, then the household.

Real widgets (offscreen), real services, a real SQLite database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QWidget

from models.codes import MemberRole
from services.audit import Actor
from services.case_view import CaseViewService
from services.cases import CaseEditService, CaseService
from services.db import Database, open_database
from services.journal import JournalService
from services.targets import TargetService
from tests.factories import KARIN, make_case
from ui.case_controller import CaseServices, CaseWindows
from ui.new_case_dialog import NewCaseDialog
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 10_000


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
    database = open_database(f"sqlite:///{tmp_path / 'new.db'}")
    yield database
    database.dispose()


def _unit(db: Database, actor: Actor) -> uuid.UUID:
    from services.users import get_or_create_unit

    with db.begin() as s:
        return get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id


def _services(db: Database, actor: Actor) -> CaseServices:
    return CaseServices(
        cases=CaseService(db=db, actor=actor),
        edits=CaseEditService(db=db, actor=actor),
        journal=JournalService(db=db, actor=actor),
        targets=TargetService(db=db, actor=actor),
    )


def _windows(db: Database, actor: Actor, runner: BackgroundRunner, host: QWidget) -> CaseWindows:
    return CaseWindows(
        source=CaseViewService(db=db, actor=actor),
        runner=runner,
        parent_window=host,
        services=_services(db, actor),
    )


def _dialog(qtbot, windows: CaseWindows) -> NewCaseDialog:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: windows.new_case_dialog is not None, timeout=WAIT)
    dialog = windows.new_case_dialog
    assert isinstance(dialog, NewCaseDialog)
    dialog.confirm_discard = lambda: True
    return dialog


def test_a_new_household_with_two_adults_and_two_children(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    unit_id = _unit(sqlite_db, actor)
    windows = _windows(sqlite_db, actor, runner, host)
    windows.new_case(unit_id)
    dialog = _dialog(qtbot, windows)
    assert dialog.windowTitle() == "Fokus – Nytt ärende"
    assert dialog.reason.count() > 5  # the försörjningshinder came from the database

    # The personnummer first, checked as it is typed; saving with a bad one is refused.
    qtbot.keyClicks(dialog.personal_id, "19681122-4029")
    assert dialog.error_text("personnummer") == "kontrollsiffran stämmer inte"
    dialog.save_button.click()
    assert dialog.error_text("personnummer") == "kontrollsiffran stämmer inte"
    dialog.personal_id.clear()
    qtbot.keyClicks(dialog.personal_id, "6811224028")  # no century, no dash
    assert dialog.error_text("personnummer") == ""
    dialog.first_name.setText("Marie")
    dialog.last_name.setText("Åkesson")
    qtbot.keyClicks(dialog.co_personal_id, "19650909-5714")
    dialog.co_first_name.setText("Bengt")
    dialog.co_last_name.setText("Åkesson")
    for pid, first in (("20150303-2383", "Åsa"), ("20120630-2844", "Oskar")):
        child = dialog.add_child()
        qtbot.keyClicks(child.personal_id, pid)
        child.first_name.setText(first)
        child.last_name.setText("Åkesson")
    dialog.address.setText("Storgatan 3")
    qtbot.keyClicks(dialog.postcode, "15130")
    dialog.town.setText("Södertälje")
    qtbot.keyClicks(dialog.housing_cost, "7 950")
    dialog.reason.setCurrentIndex(dialog.reason.findData("unemployed_no_benefit"))
    dialog.assign_to_me.setChecked(False)  # the command line is no caseworker
    with qtbot.waitSignal(windows.case_created, timeout=WAIT) as blocker:
        dialog.save_button.click()
    case_id = blocker.args[0]
    controller = windows.controller(case_id)
    assert controller is not None
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    d = controller.detail
    assert [(m.name, m.role) for m in d.members] == [
        ("Marie Åkesson", "applicant"),
        ("Bengt Åkesson", "co_applicant"),
        ("Åsa Åkesson", "child"),
        ("Oskar Åkesson", "child"),
    ]
    assert d.members[0].personal_id == "19681122-4028"
    assert (d.address, d.postcode, d.housing_cost_ore) == ("Storgatan 3", "151 30", 795_000)
    assert [(r.person_name, r.code) for r in d.reasons] == [
        ("Marie Åkesson", "unemployed_no_benefit")
    ]
    controller.parent().close()


def test_a_person_with_an_open_case_is_named_and_can_be_opened(
    qtbot, sqlite_db, runner, host
) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    unit_id = _unit(sqlite_db, actor)
    ref = make_case(CaseService(db=sqlite_db, actor=actor), unit_id, (MemberRole.APPLICANT, KARIN))
    windows = _windows(sqlite_db, actor, runner, host)
    windows.new_case(unit_id)
    dialog = _dialog(qtbot, windows)
    qtbot.keyClicks(dialog.personal_id, "197802143524")
    qtbot.waitUntil(lambda: dialog.holder_label.isVisibleTo(dialog), timeout=WAIT)
    assert dialog.holder_label.text() == (
        f"Personen har redan ett öppet ärende, {ref.case_number}, hos Försörjningsstöd "
        "Södertälje (ingen handläggare)."
    )
    # Saving anyway is refused by the service, beside the personnummer; nothing is created.
    dialog.first_name.setText("Karin")
    dialog.last_name.setText("Nyström")
    dialog.assign_to_me.setChecked(False)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: bool(dialog.error_text("personnummer")), timeout=WAIT)
    assert "öppet ärende" in dialog.error_text("personnummer")
    assert CaseService(db=sqlite_db, actor=actor).count() == 1
    dialog.open_existing_button.click()
    controller = windows.controller(ref.id)
    assert controller is not None
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    controller.parent().close()


def test_ctrl_n_in_the_main_window_opens_the_form(qtbot, tmp_path, runner) -> None:  # type: ignore[no-untyped-def]
    from services.auth import demo_login
    from services.demo import seed_demo
    from services.register import RegisterService
    from ui.startup import build_main_window, case_services
    from ui.view_state import ViewState

    db = open_database(f"sqlite:///{tmp_path / 'main.db'}")
    try:
        seed_demo(db, Actor.cli(), cases=3, seed=3, as_of=date(2026, 6, 15))
        user = demo_login(db, "test")
        state = ViewState(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
        parts = build_main_window(
            service=RegisterService(db=db),
            user=user,
            state=state,
            db_label="SQLite – test",
            runner=runner,
            case_source=CaseViewService(db=db, actor=user.actor),
            case_services=case_services(db, user.actor),
        )
        qtbot.addWidget(parts.window)
        assert parts.window.new_case_action.isVisible()
        assert parts.window.new_case_action.shortcut().toString() == "Ctrl+N"
        parts.window.new_case_action.trigger()
        qtbot.waitUntil(
            lambda: any(isinstance(w, NewCaseDialog) for w in parts.window.findChildren(QWidget)),
            timeout=WAIT,
        )
        (dialog,) = parts.window.findChildren(NewCaseDialog)
        assert dialog.assign_to_me.isChecked()
        dialog.close()
        parts.window.close()
        runner.wait()
        QCoreApplication.processEvents()
    finally:
        db.dispose()
