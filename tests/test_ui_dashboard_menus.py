"""The issue-5 menu entries open their windows (once) from a real main window."""

from __future__ import annotations

import uuid
from datetime import date

from models.codes import Role
from services.audit import Actor
from services.caseload import CaseloadService
from services.dashboard import DashboardService
from services.db import Database
from services.followup import FollowUpService
from services.targets import TargetService
from ui.caseload_controller import CaseloadMenu
from ui.dashboard_controller import DashboardMenu
from ui.followup_controller import FollowUpMenu
from ui.main_window import MainWindow
from ui.targets_controller import TargetsMenu

LEADER = Actor(username="lena", role=Role.TEAM_LEADER, workstation="test")
WAIT = 30_000


def test_menus_show_and_open_each_window_once(  # type: ignore[no-untyped-def]
    qtbot, db: Database, unit_id: uuid.UUID, runner
) -> None:
    main = MainWindow(user_label="Lena")
    qtbot.addWidget(main)
    actions = (main.dashboard_action, main.followup_action, main.caseload_action,
               main.targets_action)  # fmt: skip
    assert not any(a.isVisible() for a in actions)
    opened: list[uuid.UUID] = []
    unit = {"unit_id": unit_id, "unit_name": "Test"}
    dashboard = DashboardMenu(main_window=main, service=DashboardService(db=db, actor=LEADER),
                              runner=runner, **unit)  # type: ignore[arg-type]  # fmt: skip
    follow = FollowUpMenu(main_window=main, service=FollowUpService(db=db, actor=LEADER),
                          runner=runner, unit_id=unit_id, leader=True,
                          open_case=opened.append)  # fmt: skip
    caseload = CaseloadMenu(main_window=main, service=CaseloadService(db=db, actor=LEADER),
                            runner=runner, **unit)  # type: ignore[arg-type]  # fmt: skip
    targets = TargetsMenu(main_window=main, service=TargetService(db=db, actor=LEADER),
                          runner=runner, today=lambda: date(2026, 11, 20),
                          **unit)  # type: ignore[arg-type]  # fmt: skip
    assert all(a.isVisible() for a in actions)
    assert main.leader_menu.menuAction().isVisible()
    pairs = [
        (main.dashboard_action, dashboard),
        (main.followup_action, follow),
        (main.caseload_action, caseload),
        (main.targets_action, targets),
    ]
    for action, menu in pairs:
        action.trigger()
        first = menu.window
        assert first is not None and first.windowTitle().startswith("Fokus")
        action.trigger()
        assert menu.window is first  # raised, not a second window
    assert dashboard.controller is not None
    qtbot.waitUntil(lambda: dashboard.controller.data is not None, timeout=WAIT)
    assert dashboard.controller.data.long_term_households == 0
    for menu in (dashboard, follow, caseload, targets):
        menu.window.close()
