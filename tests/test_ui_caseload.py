"""Ärendefördelning on a real seeded SQLite register: the table, and a move past the cap."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from models import AuditEvent, Case, Unit, User
from models.codes import CaseStatus, Role
from services.audit import Actor
from services.caseload import CaseloadService, caseload
from services.db import Database, open_database
from services.demo import seed_demo
from ui.caseload_controller import CaseloadController
from ui.caseload_view import OPEN, CaseloadWindow

AS_OF = date(2026, 11, 20)
WAIT = 30_000
LEADER = Actor(username="lena", role=Role.TEAM_LEADER, workstation="test")


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("caseload") / "seeded.db"
    db = open_database(f"sqlite:///{path}")
    try:
        seed_demo(db, Actor.cli(), cases=120, seed=9, as_of=AS_OF)
    finally:
        db.dispose()
    return path


@pytest.fixture
def seeded(seeded_file: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "caseload.db"
    shutil.copy(seeded_file, path)
    db = open_database(f"sqlite:///{path}")
    yield db
    db.dispose()


def test_moving_a_case_past_the_cap_asks_first(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    with seeded.begin() as s:
        unit_id = s.scalars(select(Unit.id)).one()
        rows = caseload(s, unit_id)
        target = next(r for r in rows if not r.is_focus and r.open_cases > 0)
        # The caseworker is exactly at the cap: one more case goes past it.
        s.get(User, target.user_id).caseload_cap = target.open_cases  # type: ignore[union-attr]
        case = s.execute(
            select(Case.id, Case.case_number).where(
                Case.status == CaseStatus.ONGOING.value,
                Case.is_focus.is_(False),
                Case.caseworker_id != target.user_id,
            )
        ).first()
        assert case is not None
    asked: list[str] = []
    answer = [False]

    def confirm(_parent, message: str) -> bool:  # type: ignore[no-untyped-def]
        asked.append(message)
        return answer[0]

    window = CaseloadWindow(unit_name="Test")
    qtbot.addWidget(window)
    controller = CaseloadController(
        window=window,
        service=CaseloadService(db=seeded, actor=LEADER),
        runner=runner,
        unit_id=unit_id,
        confirm=confirm,
    )
    window.show()
    with qtbot.waitSignal(controller.loaded, timeout=WAIT):
        controller.load()
    assert window.model.rowCount() == len(rows)
    row = next(i for i, r in enumerate(window.model.rows()) if r.user_id == target.user_id)
    assert window.model.index(row, OPEN).data() == target.open_cases
    assert window.select_worker(target.user_id)

    window.case_edit.setText(case.case_number)
    with qtbot.waitSignal(controller.declined, timeout=WAIT):
        window.move_button.click()
    assert len(asked) == 1 and f"tak {target.open_cases}" in asked[0] and "Flytta ändå?" in asked[0]
    with seeded.begin() as s:
        assert s.get(Case, case.id).caseworker_id != target.user_id  # type: ignore[union-attr]

    answer[0] = True
    with qtbot.waitSignal(controller.moved, timeout=WAIT):
        window.move_button.click()
    with qtbot.waitSignal(controller.loaded, timeout=WAIT):
        pass
    assert len(asked) == 2
    with seeded.begin() as s:
        assert s.get(Case, case.id).caseworker_id == target.user_id  # type: ignore[union-attr]
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.case_id == case.id)).all()
    assert "case_assigned_past_cap" in events
    assert window.model.index(row, OPEN).data() == target.open_cases + 1
    assert "över taket" in window.status_label.text()


def test_an_unknown_case_number_is_a_clear_message(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    with seeded.begin() as s:
        unit_id = s.scalars(select(Unit.id)).one()
    window = CaseloadWindow(unit_name="Test")
    qtbot.addWidget(window)
    controller = CaseloadController(
        window=window,
        service=CaseloadService(db=seeded, actor=LEADER),
        runner=runner,
        unit_id=unit_id,
        confirm=lambda *_: pytest.fail("nothing to confirm"),  # type: ignore[arg-type]
    )
    with qtbot.waitSignal(controller.loaded, timeout=WAIT):
        controller.load()
    window.case_edit.setText("FS-1999-00001")
    with qtbot.waitSignal(controller.failed, timeout=WAIT) as blocker:
        window.move_button.click()
    assert blocker.args == ["ärendet FS-1999-00001 finns inte"]
    assert window.move_button.isEnabled()
