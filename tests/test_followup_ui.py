"""The follow-up list window on a real seeded SQLite register."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from sqlalchemy import select

from models import Unit
from models.codes import Role
from services.audit import Actor
from services.db import Database, open_database
from services.demo import seed_demo
from services.followup import FollowUpScope, FollowUpService
from ui.followup_controller import FollowUpController
from ui.followup_view import CASE, DUE, FollowUpWindow

AS_OF = date(2026, 11, 20)
WAIT = 30_000
LEADER = Actor(username="lena", role=Role.TEAM_LEADER, workstation="test")


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("followup") / "seeded.db"
    db = open_database(f"sqlite:///{path}")
    try:
        seed_demo(db, Actor.cli(), cases=150, seed=4, as_of=AS_OF)
    finally:
        db.dispose()
    return path


@pytest.fixture
def seeded(seeded_file: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "followup.db"
    shutil.copy(seeded_file, path)
    db = open_database(f"sqlite:///{path}")
    yield db
    db.dispose()


def test_the_list_loads_sorts_and_opens_a_case(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    with seeded.begin() as s:
        unit_id = s.scalars(select(Unit.id)).one()
    service = FollowUpService(db=seeded, actor=LEADER)
    expected = service.items(FollowUpScope(unit_id=unit_id), as_of=AS_OF, horizon_days=7)
    assert expected
    window = FollowUpWindow(leader=True)
    qtbot.addWidget(window)
    controller = FollowUpController(
        window=window, service=service, runner=runner, unit_id=unit_id, as_of=AS_OF
    )
    window.show()
    with qtbot.waitSignal(controller.loaded, timeout=WAIT):
        window.scope_combo.setCurrentIndex(1)  # Hela enheten
    assert window.proxy.rowCount() == len(expected)
    dues = [window.proxy.index(r, DUE).data() for r in range(window.proxy.rowCount())]
    assert dues == sorted(dues)
    window.table.sortByColumn(CASE, Qt.SortOrder.DescendingOrder)
    numbers = [window.proxy.index(r, CASE).data() for r in range(window.proxy.rowCount())]
    assert numbers == sorted(numbers, reverse=True)
    first = window.item_at(0)
    assert first is not None
    colour = window.proxy.index(0, DUE).data(Qt.ItemDataRole.ForegroundRole)
    assert isinstance(colour, QBrush) == first.overdue(AS_OF)
    with qtbot.waitSignal(controller.case_activated, timeout=WAIT) as blocker:
        controller._on_double_clicked(window.proxy.index(0, 0))
    assert blocker.args == [first.case_id]
    assert "bevakningar" in window.status_label.text()
    with qtbot.waitSignal(controller.loaded, timeout=WAIT) as shorter:
        window.horizon_combo.setCurrentIndex(0)
    assert shorter.args[0] <= len(expected)
