"""Visa → Långvariga: the long-term households as a list window, on a real seeded register.

The window shows :meth:`services.longterm.LongTermService.long_term_list`: open
households with the Långvarig flag among the cases the user may open (so the
mental ill-health flag is shown only to those who may see the case), households
with children and persons flagged for mental ill-health first; sortable; a
double-click opens the case.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget
from sqlalchemy import func, select

from models import AuditEvent, Case, HouseholdMember, Person, User
from models.codes import CaseStatus, Role
from services import longterm as lt
from services.access import case_scope_condition
from services.audit import Actor
from services.db import Database, open_database
from services.demo import seed_demo
from services.longterm import LongTermService
from ui.longterm_controller import LongTermController, LongTermMenu
from ui.longterm_view import CASE, MENTAL, PRIORITY, THIS_YEAR, LongTermWindow

AS_OF = date(2026, 11, 20)
WAIT = 30_000


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("longterm") / "seeded.db"
    db = open_database(f"sqlite:///{path}")
    try:
        seed_demo(db, Actor.cli(), cases=200, seed=5, as_of=AS_OF)
    finally:
        db.dispose()
    return path


@pytest.fixture
def seeded(seeded_file: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "longterm.db"
    shutil.copy(seeded_file, path)
    db = open_database(f"sqlite:///{path}")
    yield db
    db.dispose()


def _actor(db: Database, role: Role) -> tuple[Actor, uuid.UUID]:
    """A seeded user of ``role`` (the caseworker with the most open cases), and the unit."""
    with db.begin() as s:
        query = select(User.id, User.username, User.unit_id).where(User.role == role.value)
        if role is Role.CASEWORKER:
            query = (
                query.join(Case, Case.caseworker_id == User.id)
                .group_by(User.id, User.username, User.unit_id)
                .order_by(func.count().desc())
            )
        uid, username, unit_id = s.execute(query.limit(1)).one()
    return Actor(username=username, role=role, user_id=uid, workstation="test"), unit_id


def _expected(db: Database, actor: Actor, **scope: uuid.UUID) -> list[uuid.UUID]:
    """The flagged open households in scope, from the raw months, that ``actor`` may open."""
    dates = lt.reference_dates(AS_OF)
    with db.begin() as s:
        stmt = select(Case.id).where(
            Case.id.in_(lt.long_term_case_ids_from_months(dates)),
            Case.status != CaseStatus.CLOSED.value,
            case_scope_condition(actor, AS_OF),
        )
        for column, value in scope.items():
            stmt = stmt.where(getattr(Case, column) == value)
        return list(s.scalars(stmt))


def _open(qtbot, service, runner, actor, unit_id, *, leader):  # type: ignore[no-untyped-def]
    window = LongTermWindow(leader=leader)
    qtbot.addWidget(window)
    controller = LongTermController(
        window=window,
        service=service,
        runner=runner,
        user_id=actor.user_id,
        unit_id=unit_id,
        as_of=AS_OF,
    )
    window.show()
    return window, controller


def _column(window: LongTermWindow, col: int) -> list[object]:
    return [window.proxy.index(r, col).data() for r in range(window.proxy.rowCount())]


def test_the_unit_list_is_prioritised_sortable_and_opens_a_case(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    leader, unit_id = _actor(seeded, Role.TEAM_LEADER)
    service = LongTermService(db=seeded, actor=leader)
    window, controller = _open(qtbot, service, runner, leader, unit_id, leader=True)
    with qtbot.waitSignal(controller.loaded, timeout=WAIT):
        window.scope_combo.setCurrentIndex(1)  # Hela enheten
    expected = _expected(seeded, leader, unit_id=unit_id)
    assert window.proxy.rowCount() == len(expected) > 10
    rows = [window.row_at(r) for r in range(window.proxy.rowCount())]
    assert {r.case_id for r in rows if r} == set(expected)
    # Children and mental ill-health first: priorities never decrease down the list.
    priorities = [r.priority for r in rows if r]
    assert priorities == sorted(priorities)
    assert priorities[0] < 4 and priorities[-1] == 4
    assert {1, 2}.issubset(set(priorities))
    # The flag column shows the flag for the rows that have it, and nothing else.
    mental = _column(window, MENTAL)
    assert mental.count("ja") == sum(1 for r in rows if r and r.mental_ill_health) > 0
    # Sort by months this year, descending; then back to the priority order.
    window.table.sortByColumn(THIS_YEAR, Qt.SortOrder.DescendingOrder)
    months = _column(window, THIS_YEAR)
    assert months == sorted(months, reverse=True)
    window.table.sortByColumn(PRIORITY, Qt.SortOrder.AscendingOrder)
    assert [window.row_at(r).priority for r in range(len(rows))] == priorities  # type: ignore[union-attr]
    assert _column(window, CASE)[0] == rows[0].case_number  # type: ignore[union-attr]
    # Double-click opens the case.
    with qtbot.waitSignal(controller.case_activated, timeout=WAIT) as blocker:
        controller._on_double_clicked(window.proxy.index(0, CASE))
    assert blocker.args == [rows[0].case_id]  # type: ignore[union-attr]
    assert "långvariga hushåll" in window.status_label.text()
    # Past the limit the window shows the most urgent rows and says how many there are.
    short = service.long_term_list(unit_id=unit_id, as_of=AS_OF, limit=5)
    assert [r.case_id for r in short.rows] == [r.case_id for r in rows[:5]]  # type: ignore[union-attr]
    assert short.total == len(expected)
    controller._on_loaded(short)
    assert window.proxy.rowCount() == 5
    assert f"av {len(expected)} långvariga hushåll" in window.status_label.text()
    with seeded.begin() as s:
        audited = s.scalar(
            select(func.count()).where(
                AuditEvent.action == "long_term_list", AuditEvent.actor == leader.username
            )
        )
    assert audited == 2


def test_a_caseworker_sees_only_own_cases_and_protected_ones_stay_out(  # type: ignore[no-untyped-def]
    qtbot, seeded, runner
) -> None:
    worker, unit_id = _actor(seeded, Role.CASEWORKER)
    service = LongTermService(db=seeded, actor=worker)
    window, controller = _open(qtbot, service, runner, worker, unit_id, leader=False)
    assert not window.scope_combo.isVisibleTo(window)  # no unit choice for a caseworker
    with qtbot.waitSignal(controller.loaded, timeout=WAIT):
        controller.load()
    expected = _expected(seeded, worker, caseworker_id=worker.user_id)  # type: ignore[arg-type]
    listed = {window.row_at(r).case_id for r in range(window.proxy.rowCount())}  # type: ignore[union-attr]
    assert listed == set(expected) and listed
    with seeded.begin() as s:
        workers = set(s.scalars(select(Case.caseworker_id).where(Case.id.in_(listed))))
        # A protected household of this caseworker in which they are not named staff is
        # neither listed nor counted (its flags would tell what the register hides).
        protected = set(
            s.scalars(
                select(HouseholdMember.case_id)
                .join(Person, Person.id == HouseholdMember.person_id)
                .where(Person.protection.is_not(None))
            )
        )
    assert workers == {worker.user_id}
    hidden = {c for c in protected if c not in set(_expected(seeded, worker))}
    assert not (listed & hidden)


class _MineHeldBack:
    """The real service, but "Mina ärenden" answers only after the unit list was shown."""

    def __init__(self, service: LongTermService, shown: threading.Event) -> None:
        self._service = service
        self._shown = shown

    @property
    def window_months(self) -> int:
        return self._service.window_months

    def long_term_list(self, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("caseworker_id") is not None:
            assert self._shown.wait(WAIT / 1000), "the unit list was never shown"
        return self._service.long_term_list(**kwargs)


def test_a_scope_change_is_not_overwritten_by_the_earlier_load(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    # The menu loads "Mina ärenden"; the leader switches to the unit before it answers.
    # The runner has two threads, so the older answer may arrive last: it must be dropped.
    leader, unit_id = _actor(seeded, Role.TEAM_LEADER)
    shown = threading.Event()
    service = _MineHeldBack(LongTermService(db=seeded, actor=leader), shown)
    window, controller = _open(qtbot, service, runner, leader, unit_id, leader=True)
    controller.loaded.connect(lambda _n: shown.set())
    controller.load()  # Mina ärenden, held back
    window.scope_combo.setCurrentIndex(1)  # Hela enheten
    qtbot.waitUntil(lambda: shown.is_set() and not runner.busy, timeout=WAIT)
    expected = _expected(seeded, leader, unit_id=unit_id)
    mine = _expected(seeded, leader, caseworker_id=leader.user_id)  # type: ignore[arg-type]
    assert len(expected) != len(mine)
    assert window.proxy.rowCount() == len(expected)
    assert window.scope_combo.currentData() == "unit"


def test_the_menu_opens_one_window_and_raises_it(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    leader, unit_id = _actor(seeded, Role.TEAM_LEADER)
    main = QWidget()
    qtbot.addWidget(main)
    main.long_term_action = QAction("Långvariga", main)  # type: ignore[attr-defined]
    main.long_term_action.setVisible(False)  # type: ignore[attr-defined]
    opened: list[uuid.UUID] = []
    menu = LongTermMenu(
        main_window=main,
        service=LongTermService(db=seeded, actor=leader),
        runner=runner,
        user_id=leader.user_id,
        unit_id=unit_id,
        leader=True,
        open_case=opened.append,
    )
    assert main.long_term_action.isVisible()  # type: ignore[attr-defined]
    main.long_term_action.trigger()  # type: ignore[attr-defined]
    first = menu.window
    assert first is not None and first.windowTitle() == "Fokus – långvariga"
    first.scope_combo.setCurrentIndex(1)  # the unit (the window first loads "Mina ärenden")
    qtbot.waitUntil(lambda: first.proxy.rowCount() > 0, timeout=WAIT)
    main.long_term_action.trigger()  # type: ignore[attr-defined]
    assert menu.window is first
    menu.controller._on_double_clicked(first.proxy.index(0, 0))
    assert opened == [first.row_at(0).case_id]
    first.close()
    qtbot.waitUntil(lambda: menu.window is None, timeout=WAIT)


def test_closing_the_main_window_closes_the_list_window(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    """A list window left open must not keep Fokus running after its main window closed
    (Qt quits only when the last window has closed)."""
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow

    leader, unit_id = _actor(seeded, Role.TEAM_LEADER)
    main = MainWindow(user_label="Test")
    qtbot.addWidget(main)
    menu = LongTermMenu(
        main_window=main,
        service=LongTermService(db=seeded, actor=leader),
        runner=runner,
        user_id=leader.user_id,
        unit_id=unit_id,
        leader=True,
    )
    main.show()
    main.long_term_action.trigger()
    window = menu.window
    assert window is not None and window.isVisible() and window.isWindow()
    qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT)
    main.close()
    assert not main.isVisible()
    qtbot.waitUntil(lambda: menu.window is None, timeout=WAIT)  # closed, and deleted on close
    assert [w for w in QApplication.topLevelWidgets() if w.isVisible()] == []
