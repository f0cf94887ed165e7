"""Mål: setting the focus posts' target (35 = 15 + 20) from the form, and a refused one."""

from __future__ import annotations

import uuid
from datetime import date

from models.codes import Role
from services.audit import Actor
from services.db import Database
from services.targets import FOCUS_TARGET_GROUPS, TargetService
from ui.targets_controller import TargetsController
from ui.targets_view import TargetsWindow

WAIT = 30_000
LEADER = Actor(username="lena", role=Role.TEAM_LEADER, workstation="test")


def test_the_focus_target_is_set_from_the_form(
    qtbot, db: Database, unit_id: uuid.UUID, runner
) -> None:  # type: ignore[no-untyped-def]
    window = TargetsWindow(unit_name="Test", today=date(2026, 11, 20))
    qtbot.addWidget(window)
    controller = TargetsController(
        window=window, service=TargetService(db=db, actor=LEADER), runner=runner, unit_id=unit_id
    )
    with qtbot.waitSignal(controller.loaded, timeout=WAIT) as first:
        controller.load()
    assert first.args == [0]

    window.name_edit.setText("")
    with qtbot.waitSignal(controller.failed, timeout=WAIT) as refused:
        window.save_button.click()
    assert "namn" in refused.args[0]

    window.preset_button.click()
    data = controller.form_input()
    assert data.name == "Fokustjänsterna 2026" and data.focus_only
    assert [(g.label, g.count_target, set(g.rules)) for g in data.groups] == [
        (g.label, g.count_target, set(g.rules)) for g in FOCUS_TARGET_GROUPS
    ]
    assert data.period_from == date(2026, 1, 1) and data.period_to == date(2026, 12, 31)
    with qtbot.waitSignal(controller.loaded, timeout=WAIT):
        window.save_button.click()
    top = window.tree.topLevelItem(0)
    assert top is not None and top.text(2) == "35"
    assert [top.child(i).text(2) for i in range(top.childCount())] == ["15", "20"]
    progress = TargetService(db=db, actor=LEADER).targets(unit_id)
    assert [g.count_target for g in progress[0].groups] == [15, 20]
