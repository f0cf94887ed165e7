"""The nödåtkomst dialog, driven with qtbot on a real SQLite database.

Two caseworkers of one unit: anna's case is outside erik's scope. Erik finds it
by number, is refused without a proper reason (beside the Skäl field, nothing
granted), then opens it with a reason: the grant is stored, audited, and the
case window's service now lets him read the case. His own case opens without a
reason, and an unknown number is named beside the case-number field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import AuditEvent, EmergencyAccess
from models.codes import MemberRole, Role
from services.access import AccessService, OutsideScopeError
from services.audit import Actor
from services.case_view import CaseViewService
from services.cases import CaseService
from services.db import Database, open_database
from services.users import UserInput, create_user_in
from tests.factories import BENGT, KARIN, make_case
from ui.emergency_access import EmergencyController, EmergencyDialog
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

REASON = "Klienten är på plats i receptionen och ordinarie handläggare är sjuk"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'emergency.db'}")
    yield database
    database.dispose()


def _user(db: Database, name: str) -> Actor:
    with db.begin() as s:
        user = create_user_in(
            s,
            Actor.cli(),
            UserInput(
                username=name, full_name=name.title(), role=Role.CASEWORKER, unit_name="Södertälje"
            ),
        )
        return Actor(username=name, role=Role.CASEWORKER, user_id=user.id, workstation="ws-1")


@pytest.fixture
def world(db: Database) -> tuple[Actor, dict[str, tuple[uuid.UUID, str]]]:
    anna, erik = _user(db, "anna"), _user(db, "erik")
    unit_id = _unit_of(db, anna)
    cases = CaseService(db=db, actor=Actor.cli())
    a = MemberRole.APPLICANT
    annas = make_case(cases, unit_id, (a, KARIN), caseworker_id=anna.user_id)
    eriks = make_case(cases, unit_id, (a, BENGT), caseworker_id=erik.user_id)
    return erik, {"anna": (annas.id, annas.case_number), "erik": (eriks.id, eriks.case_number)}


def _unit_of(db: Database, who: Actor) -> uuid.UUID:
    from models import User

    with db.begin() as s:
        unit = s.scalar(select(User.unit_id).where(User.id == who.user_id))
    assert unit is not None
    return unit


def _dialog(qtbot, db: Database, erik: Actor, runner: BackgroundRunner):  # type: ignore[no-untyped-def]
    dialog = EmergencyDialog()
    qtbot.addWidget(dialog)
    controller = EmergencyController(
        dialog=dialog, service=AccessService(db=db, actor=erik), runner=runner
    )
    opened: list[uuid.UUID] = []
    controller.opened.connect(opened.append)
    dialog.show()
    return dialog, controller, opened


def _find(qtbot, dialog: EmergencyDialog, number: str) -> None:  # type: ignore[no-untyped-def]
    dialog.case_number.setText(number)
    dialog.case_number.textEdited.emit(number)
    dialog.find_button.click()
    qtbot.waitUntil(lambda: dialog.find_button.isEnabled(), timeout=5_000)


def test_outside_scope_needs_a_reason_then_opens_and_is_audited(
    qtbot,  # type: ignore[no-untyped-def]
    runner: BackgroundRunner,
    db: Database,
    world: tuple[Actor, dict[str, tuple[uuid.UUID, str]]],
) -> None:
    erik, cases = world
    case_id, number = cases["anna"]
    with pytest.raises(OutsideScopeError):
        CaseViewService(db=db, actor=erik).load(case_id)

    dialog, controller, opened = _dialog(qtbot, db, erik, runner)
    _find(qtbot, dialog, "FS-1999-99999")
    assert dialog.case_error.isVisible() and "finns inte" in dialog.case_error.text()
    assert not dialog.open_button.isEnabled()

    _find(qtbot, dialog, number)
    assert number in dialog.brief.text()
    assert dialog.open_button.isEnabled()
    assert dialog.open_button.text() == "Öppna med nödåtkomst"

    dialog.reason.setPlainText("akut")
    dialog.open_button.click()
    qtbot.waitUntil(lambda: dialog.reason_error.isVisible(), timeout=5_000)
    assert dialog.reason_error.text().startswith("Skäl:")
    assert opened == []
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(EmergencyAccess)) == 0

    dialog.reason.setPlainText(REASON)
    dialog.open_button.click()
    qtbot.waitUntil(lambda: opened == [case_id], timeout=5_000)
    with db.begin() as s:
        grant = s.scalars(select(EmergencyAccess)).one()
        assert grant.case_id == case_id and grant.user_id == erik.user_id
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "emergency_access")).all()
        assert len(events) == 1 and events[0].case_id == case_id
    # The case window's service now lets erik read anna's case.
    assert CaseViewService(db=db, actor=erik).load(case_id).case_number == number


def test_own_case_opens_without_a_reason(
    qtbot,  # type: ignore[no-untyped-def]
    runner: BackgroundRunner,
    db: Database,
    world: tuple[Actor, dict[str, tuple[uuid.UUID, str]]],
) -> None:
    erik, cases = world
    case_id, number = cases["erik"]
    dialog, controller, opened = _dialog(qtbot, db, erik, runner)
    _find(qtbot, dialog, number)
    assert "redan tillgång" in dialog.brief.text()
    assert dialog.open_button.text() == "Öppna"
    dialog.open_button.click()
    assert opened == [case_id]
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(EmergencyAccess)) == 0
