"""The desktop as ``ui.startup`` wires it: pieces built separately meet in one window.

A seeded demo database, its caseworker logged in, the main window built by
:func:`ui.startup.build_main_window` with the same services the app passes. A
case opened from the register shows its time-on-support clocks in Översikt
(counted from the raw support months here), and Ctrl+P in the case window
opens the summary print dialog for that case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from sqlalchemy import extract, func, select

import ui.startup
from models import Case, SupportMonth
from services.audit import Actor
from services.auth import demo_login
from services.case_view import CaseViewService
from services.db import Database, open_database
from services.demo import seed_demo
from services.register import RegisterService
from services.summary import SummaryService
from ui.case_view import CaseView
from ui.clock_panel import ClockPanel
from ui.summary_dialog import SummaryDialog
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

AS_OF = date(2026, 11, 20)


@pytest.fixture
def demo_db(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'wiring.db'}")
    seed_demo(db, Actor.cli(), cases=40, seed=7, as_of=AS_OF)
    yield db
    db.dispose()


def _busiest_own_case(db: Database, user_id: uuid.UUID) -> tuple[uuid.UUID, int, int]:
    """The user's case with the most support months: (id, year, months that year)."""
    year = extract("year", SupportMonth.month)
    with db.begin() as s:
        row = s.execute(
            select(SupportMonth.case_id, year.label("y"), func.count().label("n"))
            .join(Case, Case.id == SupportMonth.case_id)
            .where(Case.caseworker_id == user_id)
            .group_by(SupportMonth.case_id, year)
            .order_by(func.count().desc(), year.desc())
            .limit(1)
        ).one()
    return row.case_id, int(row.y), int(row.n)


def test_case_window_shows_clocks_and_ctrl_p_opens_the_print_dialog(
    qtbot,  # type: ignore[no-untyped-def]
    runner: BackgroundRunner,
    demo_db: Database,
) -> None:
    user = demo_login(demo_db, "test")
    parts = ui.startup.build_main_window(
        service=RegisterService(db=demo_db, actor=user.actor),
        user=user,
        state=ViewState.open("ui-state-wiring"),
        db_label="SQLite",
        runner=runner,
        case_source=CaseViewService(db=demo_db, actor=user.actor),
        case_services=ui.startup.case_services(demo_db, user.actor),
        summary_service=SummaryService(db=demo_db, actor=user.actor),
    )
    qtbot.addWidget(parts.window)
    assert user.user_id is not None
    case_id, year, months = _busiest_own_case(demo_db, user.user_id)

    before = set(QApplication.topLevelWidgets())  # windows earlier tests left are not ours
    parts.register.case_activated.emit(case_id)
    views = [
        w for w in QApplication.topLevelWidgets() if isinstance(w, CaseView) and w not in before
    ]
    assert len(views) == 1
    view = views[0]
    panel = view.findChild(ClockPanel, "clockPanel")
    assert panel is not None
    qtbot.waitUntil(lambda: panel.data is not None, timeout=10_000)
    assert panel.data is not None and panel.data.case_id == case_id

    # The household's row: months in ``year`` as counted from the raw months.
    household = next(i for i, r in enumerate(panel.data.rows, start=1) if r.person_id is None)
    if year in panel.data.years:
        column = 1 + panel.data.years.index(year)
        assert panel.cell(0, column) == str(year)
        assert panel.cell(household, column) == str(months)
    assert panel.data.rows[household - 1].clock.months_by_year.get(year, 0) == months

    view.activateWindow()
    QTest.keyClick(view, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)

    def new_dialogs() -> list[SummaryDialog]:
        return [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, SummaryDialog) and w not in before
        ]

    qtbot.waitUntil(lambda: len(new_dialogs()) == 1, timeout=5_000)
    dialog = new_dialogs()[0]
    assert dialog.windowTitle().startswith("Fokus")
    dialog.close()
    view.close()
    runner.wait()
