"""Logguppföljning for the arbetsledare with real widgets on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from PySide6.QtCore import QDate, Qt
from sqlalchemy import select

from models import AuditEvent
from models.codes import MemberRole, Role
from services.access import AccessService
from services.audit import Actor, local_today
from services.audit_review import AuditReviewService
from services.auth import SessionUser, authenticate
from services.case_view import CaseViewService
from services.cases import CaseRef, CaseService
from services.db import Database, open_database
from services.users import UserInput, create_user_in
from tests.factories import KARIN, OSKAR, make_case
from ui.audit_review_controller import AuditReviewController, AuditReviewMenu, previous_month
from ui.audit_review_view import AuditReviewWindow
from ui.main_window import MainWindow
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

PW = "ett-bra-lösenord"
UNIT = "Försörjningsstöd Söder"


@dataclass
class World:
    db: Database
    leader: SessionUser
    worker: SessionUser
    outsider: SessionUser
    case: CaseRef


@pytest.fixture
def runner() -> Iterator[BackgroundRunner]:
    r = BackgroundRunner()
    yield r
    r.wait()


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    db = open_database(sqlite_url)
    cli = Actor.cli()
    with db.begin() as s:
        for username, role, unit in (
            ("lena", Role.TEAM_LEADER, UNIT),
            ("kajsa", Role.CASEWORKER, UNIT),
            ("otto", Role.CASEWORKER, "Försörjningsstöd Norr"),
        ):
            create_user_in(
                s,
                cli,
                UserInput(
                    username=username,
                    full_name=username.title(),
                    role=role,
                    unit_name=unit,
                    password=PW,
                ),
            )
    leader = authenticate(db, "lena", PW, "ws-lena")
    case = make_case(
        CaseService(db=db, actor=cli),
        leader.unit_id,
        (MemberRole.APPLICANT, KARIN),
        (MemberRole.CHILD, OSKAR),
    )
    CaseViewService(db=db, actor=leader.actor).load(case.id)
    yield World(
        db,
        leader,
        authenticate(db, "kajsa", PW, "ws-kajsa"),
        authenticate(db, "otto", PW, "ws-otto"),
        case,
    )
    db.dispose()


def _window(qtbot, world: World, runner, user: SessionUser | None = None, **kwargs):  # type: ignore[no-untyped-def]
    start, end = previous_month(date.today())
    window = AuditReviewWindow(start=start, end=end)
    qtbot.addWidget(window)
    service = AuditReviewService(db=world.db, actor=(user or world.leader).actor)
    controller = AuditReviewController(window=window, service=service, runner=runner, **kwargs)
    window.show()
    return window, controller


def test_a_case_log_for_the_arbetsledare(qtbot, world, runner) -> None:  # type: ignore[no-untyped-def]
    window, controller = _window(qtbot, world, runner)
    assert window.windowTitle() == "Fokus – logguppföljning"
    window.case_number.setText(f"  {world.case.case_number} ")
    with qtbot.waitSignal(controller.done, timeout=5000) as blocker:
        qtbot.mouseClick(window.case_button, Qt.MouseButton.LeftButton)
    m = window.case_model
    actions = [m.data(m.index(r, 4)) for r in range(m.rowCount())]
    assert actions[0] == "ärende skapat" and "ärende öppnat" in actions
    users = {m.data(m.index(r, 2)) for r in range(m.rowCount())}
    assert "lena" in users
    assert blocker.args[0] == f"Ärende {world.case.case_number}: {m.rowCount()} händelser"
    assert "Karin" not in str([m.data(m.index(r, 5)) for r in range(m.rowCount())])
    with world.db.begin() as s:
        reviewed = s.scalars(
            select(AuditEvent.case_id).where(AuditEvent.action == "audit_case_reviewed")
        ).all()
    assert reviewed == [world.case.id]

    window.case_number.setText("FS-1999-00001")
    with qtbot.waitSignal(controller.failed, timeout=5000) as blocker:
        window.case_button.click()
    assert blocker.args == ["ärendet FS-1999-00001 finns inte"]
    assert window.case_status.text() == "ärendet FS-1999-00001 finns inte"
    window.case_number.setText(" ")
    with qtbot.waitSignal(controller.failed, timeout=5000) as blocker:
        window.case_button.click()
    assert blocker.args == ["ärendenummer: måste fyllas i"]


def test_export_a_period_to_csv(qtbot, world, runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    asked: list[str] = []

    def choose(_parent, suggested: str) -> str:  # type: ignore[no-untyped-def]
        asked.append(suggested)
        return str(tmp_path / "granskning")

    window, controller = _window(qtbot, world, runner, choose_file=choose)
    today = date.today()
    window.export_from.setDate(QDate(today.year, today.month, today.day).addDays(-1))
    window.export_to.setDate(QDate(today.year, today.month, today.day).addDays(1))
    with qtbot.waitSignal(controller.done, timeout=10_000) as blocker:
        qtbot.mouseClick(window.export_button, Qt.MouseButton.LeftButton)
    target = tmp_path / "granskning.csv"
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "löpnummer;tid;användare;arbetsstation;åtgärd;ärende;detaljer"
    assert any(world.case.case_number in line for line in lines[1:])
    assert "Nyström" not in raw.decode("utf-8-sig") and "19780214" not in raw.decode("utf-8-sig")
    n = len(lines) - 1
    assert blocker.args == [f"{n} händelser exporterade till {target}"]
    start = (today - timedelta(days=1)).isoformat()
    assert asked == [f"logguppfoljning-{start}-{(today + timedelta(days=1)).isoformat()}.csv"]

    window.export_from.setDate(QDate(today.year, today.month, today.day).addDays(2))
    with qtbot.waitSignal(controller.failed, timeout=5000) as blocker:
        window.export_button.click()
    assert blocker.args == ["period: slutdatum före startdatum"]
    assert len(asked) == 1  # no file dialog for a period that cannot be exported


def test_cancelled_file_dialog_exports_nothing(qtbot, world, runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    window, controller = _window(qtbot, world, runner, choose_file=lambda _p, _s: None)
    seen: list[str] = []
    controller.done.connect(seen.append)
    window.export_button.click()
    qtbot.wait(100)
    assert seen == [] and window.export_button.isEnabled()
    assert list(tmp_path.glob("*.csv")) == []


def test_nodatkomster_are_listed(qtbot, world, runner) -> None:  # type: ignore[no-untyped-def]
    AccessService(db=world.db, actor=world.outsider.actor).request_emergency_access(
        world.case.id, "Sökande ringde akut, handläggaren är sjuk"
    )
    window, controller = _window(qtbot, world, runner)
    assert window.tabs.count() == 3 and window.tabs.tabText(2) == "Nödåtkomster"
    # The period is counted in Swedish days (the grant is stored in UTC): between 23:00 and
    # 24:00 UTC the machine's date is the day before Sweden's.
    today = local_today()
    window.emergency_from.setDate(QDate(today.year, today.month, today.day).addDays(-1))
    window.emergency_to.setDate(QDate(today.year, today.month, today.day))
    with qtbot.waitSignal(controller.done, timeout=5000) as blocker:
        qtbot.mouseClick(window.emergency_button, Qt.MouseButton.LeftButton)
    m = window.emergency_model
    assert m.rowCount() == 1
    row = [m.data(m.index(0, c)) for c in range(m.columnCount())]
    assert row[1] == "otto" and row[4] == world.case.case_number
    assert row[6] == "Sökande ringde akut, handläggaren är sjuk"
    assert blocker.args == ["1 nödåtkomster, varav 0 i ärenden med skyddade personuppgifter"]


def test_a_caseworker_cannot_review(qtbot, world, runner) -> None:  # type: ignore[no-untyped-def]
    window, controller = _window(qtbot, world, runner, user=world.worker)
    window.case_number.setText(world.case.case_number)
    with qtbot.waitSignal(controller.failed, timeout=5000) as blocker:
        window.case_button.click()
    assert blocker.args == ["bara en arbetsledare får granska och exportera loggen"]
    with qtbot.waitSignal(controller.failed, timeout=5000) as blocker:
        window.emergency_button.click()
    assert blocker.args == ["bara en arbetsledare får granska nödåtkomster"]


def test_the_menu_for_the_arbetsledare(qtbot, world, runner) -> None:  # type: ignore[no-untyped-def]
    main = MainWindow(user_label="Lena (arbetsledare)")
    qtbot.addWidget(main)
    assert not main.leader_menu.menuAction().isVisible()
    menu = AuditReviewMenu(
        main_window=main,
        service=AuditReviewService(db=world.db, actor=world.leader.actor),
        runner=runner,
        today=lambda: date(2026, 3, 15),
    )
    assert main.leader_menu.menuAction().isVisible()
    assert main.audit_review_action.text() == "&Logguppföljning …"
    with qtbot.waitSignal(menu.opened, timeout=2000):
        main.audit_review_action.trigger()
    window = menu.window
    assert window is not None
    assert window.export_from.date() == QDate(2026, 2, 1)
    assert window.export_to.date() == QDate(2026, 2, 28)
    main.audit_review_action.trigger()
    assert menu.window is window
