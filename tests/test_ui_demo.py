"""``python main.py demo``: a separate demo file, seeded once with progress, a DEMO marker."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QTimer
from PySide6.QtWidgets import QApplication, QProgressDialog
from sqlalchemy import func, select

import main
import ui.startup
from models import AuditEvent, Case, User
from models.codes import Role
from services.access import case_scope_condition
from services.audit import Actor
from services.auth import demo_login
from services.db import open_database
from services.register import RegisterService
from services.search import RegisterFilter
from services.settings import data_dir
from ui.main_window import MainWindow
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]


@pytest.fixture
def runner(qtbot) -> Iterator[BackgroundRunner]:  # type: ignore[no-untyped-def]
    r = BackgroundRunner()
    yield r
    r.wait()
    QCoreApplication.processEvents()  # deliver late results to this test's widgets


@pytest.fixture
def quiet_start(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No process-wide side effects from start-up, and no modal message box to hang on."""
    shown: list[str] = []
    monkeypatch.setattr(ui.startup, "install_swedish", lambda app: [])
    monkeypatch.setattr(ui.startup, "show_fatal", shown.append)
    monkeypatch.setattr("ui.crash.install_crash_handler", lambda: None)
    return shown


class RecordingProgress(QProgressDialog):
    """The real progress dialog, remembering what it was told."""

    values: list[int] = []
    titles: list[str] = []

    def setValue(self, value: int) -> None:  # noqa: N802
        RecordingProgress.values.append(value)
        super().setValue(value)

    def setWindowTitle(self, title: str) -> None:  # noqa: N802
        RecordingProgress.titles.append(title)
        super().setWindowTitle(title)


def test_demo_is_a_subcommand() -> None:
    args = main.build_parser().parse_args(["demo"])
    assert args.func is main.cmd_demo


def test_demo_database_is_seeded_once_with_progress(qtbot, runner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    RecordingProgress.values, RecordingProgress.titles = [], []
    monkeypatch.setattr(ui.startup, "QProgressDialog", RecordingProgress)
    db = ui.startup.open_demo(runner, cases=120)
    try:
        assert db.url == f"sqlite:///{data_dir() / 'demo.db'}"
        assert (data_dir() / "demo.db").exists()
        assert RegisterService(db=db).count(RegisterFilter()) == 120
        assert RecordingProgress.values[0] == 0 and RecordingProgress.values[-1] == 120
        assert RecordingProgress.titles == ["Fokus – DEMO"]
    finally:
        db.dispose()
    again = ui.startup.open_demo(runner, cases=120)
    try:
        assert RegisterService(db=again).count(RegisterFilter()) == 120
        with again.begin() as s:
            seeds = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "seed_demo")))
        assert len(seeds) == 1
        assert json.loads(seeds[0].detail)["cases"] == 120
    finally:
        again.dispose()


def test_demo_window_has_the_marker(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    db = ui.startup.open_demo(runner, cases=40)
    try:
        user = demo_login(db, "test")
        from ui.view_state import ViewState

        parts = ui.startup.build_main_window(
            service=RegisterService(db=db),
            user=user,
            state=ViewState.open("ui-state-demo"),
            db_label=ui.startup.database_label(db),
            runner=runner,
        )
        qtbot.addWidget(parts.window)
        w = parts.window
        assert w.windowTitle() == f"Fokus – DEMO – {user.full_name} (handläggare)"
        assert w.demo_banner is not None and "DEMO" in w.demo_banner.text()
        w.show()
        qtbot.waitExposed(w)
        assert w.demo_banner.isVisible()
        qtbot.waitUntil(lambda: parts.register.last_count == 40, timeout=10_000)
        assert w.database_label.text() == f"SQLite: {data_dir() / 'demo.db'}"
        w.close()
        runner.wait()
    finally:
        db.dispose()


def test_python_main_demo_end_to_end(qtbot, quiet_start, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``main.main(["demo"])`` up to the main window, which a timer then closes."""
    monkeypatch.setattr(ui.startup, "DEMO_CASES", 30)
    seen: dict[str, object] = {}
    deadline = QDeadlineTimer(20_000)
    # Windows another test in this process left behind are not the demo's; hidden,
    # they cannot veto the quit that closing the demo's main window starts (Qt 6
    # asks every visible window to close first).
    before = set(QApplication.topLevelWidgets())
    for leftover in before:
        leftover.hide()

    def close_when_shown() -> None:
        windows = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, MainWindow) and w.isVisible() and w not in before
        ]
        if not windows:
            if deadline.hasExpired():  # fail, never hang
                seen["problem"] = "no main window"
                QApplication.instance().exit(99)  # type: ignore[union-attr]
                return
            QTimer.singleShot(50, close_when_shown)
            return
        w = windows[0]
        model = w.register.table.model()
        busy = w.count_label.text() in ("", "Räknar …") or model.loading or model.rowCount() == 0
        if busy and not deadline.hasExpired():
            QTimer.singleShot(50, close_when_shown)
            return
        seen["title"] = w.windowTitle()
        seen["count"] = w.count_label.text()
        seen["rows"] = w.register.table.model().rowCount()
        w.close()

    QTimer.singleShot(0, close_when_shown)
    assert main.main(["demo"]) == 0, seen
    assert quiet_start == []
    assert str(seen["title"]).startswith("Fokus – DEMO – ")
    # The demo user is a caseworker: the register lists what the access matrix lets
    # them open (their own cases), not all 30.
    full_name = str(seen["title"]).removeprefix("Fokus – DEMO – ").removesuffix(" (handläggare)")
    db = open_database(f"sqlite:///{data_dir() / 'demo.db'}")
    try:
        with db.begin() as s:
            user = s.scalars(select(User).where(User.full_name == full_name)).one()
            who = Actor(username=user.username, role=Role(user.role), user_id=user.id)
            mine = s.scalar(
                select(func.count()).select_from(Case).where(case_scope_condition(who, None))
            )
            assigned = s.scalar(
                select(func.count()).select_from(Case).where(Case.caseworker_id == user.id)
            )
            total = s.scalar(select(func.count()).select_from(Case))
    finally:
        db.dispose()
    assert total == 30
    assert mine is not None and assigned is not None and 0 < mine <= assigned < 30
    assert seen["count"] == f"{mine} ärenden"
    assert seen["rows"] == mine
