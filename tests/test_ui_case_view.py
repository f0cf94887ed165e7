"""The read-only case window with real widgets over real databases (offscreen Qt).

Cases are made through the real services; the window is opened through the
register (a double-click) or through :class:`ui.case_controller.CaseWindows`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableView, QWidget

from models import AuditEvent
from models.codes import MemberRole, Protection
from services.audit import Actor
from services.case_view import CaseDetail, CaseViewService, HistoryDetail, MemberDetail, NoteDetail
from services.cases import CaseRef, CaseService
from services.db import Database, open_database
from services.journal import JournalService, NoteInput
from services.persons import PersonInput
from services.support import SupportService
from tests.factories import KARIN, OSKAR, make_case
from ui.case_controller import CaseWindows
from ui.case_view import CaseView
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    # The offscreen platform has no window stacking; raising a window only warns.
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

WAIT = 10_000
TODAY = date(2026, 6, 15)
NOTE_TEXT = "Besök på kontoret – Karin söker arbete, ärendet följs upp i höst"
HIDDEN = PersonInput(
    first_name="Sara",
    last_name="Skyddad",
    personal_id="19800101-0001",
    protection=Protection.PROTECTED_REGISTRATION,
)


@pytest.fixture
def runner(qtbot) -> Iterator[BackgroundRunner]:  # type: ignore[no-untyped-def]
    r = BackgroundRunner()
    yield r
    r.wait()
    QCoreApplication.processEvents()  # deliver late results to this test's widgets


@pytest.fixture
def host(qtbot) -> QWidget:  # type: ignore[no-untyped-def]
    """The case windows' parent: qtbot closes it, and it deletes the windows still open.

    Case windows delete themselves on close, so qtbot must not hold them directly.
    """
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'case.db'}")
    yield database
    database.dispose()


def _unit(db: Database, actor: Actor) -> uuid.UUID:
    from services.users import get_or_create_unit

    with db.begin() as s:
        return get_or_create_unit(s, actor, "Försörjningsstöd Södertälje").id


def _make(
    db: Database,
    actor: Actor,
    unit_id: uuid.UUID,
    *,
    protected: bool = False,
    caseworker_id: uuid.UUID | None = None,
    people: tuple[PersonInput, PersonInput] = (KARIN, OSKAR),
) -> CaseRef:
    """KARIN and OSKAR (and, if asked, a protected adult), a signed note, a draft, a month."""
    cases = CaseService(db=db, actor=actor)
    members = [(MemberRole.APPLICANT, people[0]), (MemberRole.CHILD, people[1])]
    if protected:
        members.append((MemberRole.OTHER_ADULT, HIDDEN))
    ref = make_case(
        cases,
        unit_id,
        *members,
        opened_on=date(2024, 5, 2),
        address="Storgatan 12",
        postcode="15130",
        town="Södertälje",
        housing_cost_ore=712_000,
        summary="Söker arbete; barnet går i skolan.",
        caseworker_id=caseworker_id,
    )
    journal = JournalService(db=db, actor=actor)
    when = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    journal.add_note(ref.id, NoteInput(when, "psychiatry", "phone", NOTE_TEXT), sign=True)
    journal.add_note(ref.id, NoteInput(when, "psychiatry", "phone", "Mitt eget utkast"))
    other = JournalService(db=db, actor=Actor("anna", actor.role))
    other.add_note(ref.id, NoteInput(when, "psychiatry", "phone", "Annas privata utkast"))
    SupportService(db=db, actor=actor).add_month(ref.id, date(2025, 3, 1), 845_050)
    return ref


def _opened_events(db: Database, case_id: uuid.UUID) -> int:
    from sqlalchemy import func, select

    with db.begin() as s:
        return s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.action == "case_opened")
        )


def _column(table: QTableView, col: int) -> list[str]:
    model = table.model()
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def _all_text(table: QTableView) -> str:
    model = table.model()
    return "\n".join(
        str(model.data(model.index(r, c), Qt.ItemDataRole.ToolTipRole) or "")
        for r in range(model.rowCount())
        for c in range(model.columnCount())
    )


def _open_window(qtbot, windows: CaseWindows, case_id: uuid.UUID) -> CaseView:  # type: ignore[no-untyped-def]
    controller = windows.open(case_id)
    view = controller.parent()
    assert isinstance(view, CaseView)
    qtbot.waitUntil(lambda: controller.detail is not None, timeout=WAIT)
    return view


def _check_tabs(view: CaseView, ref: CaseRef) -> None:
    assert view.windowTitle() == f"Fokus – ärende {ref.case_number}"
    assert ref.case_number.startswith("FS-")
    tabs = [view.tabs.tabText(i) for i in range(view.tabs.count())]
    assert tabs == [
        "Översikt",
        "Hushåll",
        "Kontaktlogg",
        "Ersättning",
        "Planering och utfall",
        "Historik",
    ]
    f = view.fields
    assert f["case_number"].text() == ref.case_number
    assert f["opened"].text() == "2024-05-02"
    assert f["housing_cost"].text() == "7 120 kr"
    assert f["summary"].text() == "Söker arbete; barnet går i skolan."
    assert _column(view.members, 0)[:2] == ["Karin Nyström", "Oskar Nyström"]
    assert _column(view.members, 1)[:2] == ["19780214-3524", "20120630-2844"]
    assert _column(view.members, 3)[:2] == ["sökande", "barn"]
    notes = _all_text(view.notes)
    assert NOTE_TEXT in notes and "Mitt eget utkast" in notes
    assert "Annas privata utkast" not in notes  # someone else's draft is private
    assert "2025-03-04" in _column(view.notes, 0)[0]
    assert set(_column(view.notes, 5)) == {"signerad", "utkast"}
    assert _column(view.months, 0) == ["2025-03"]
    assert _column(view.months, 1) == ["8 450,50 kr"]
    assert "ärende skapat" in _column(view.history, 2)


def test_case_window_shows_the_case_and_audits_the_read(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref = _make(sqlite_db, actor, _unit(sqlite_db, actor))
    windows = CaseWindows(
        source=CaseViewService(db=sqlite_db, actor=actor, today=lambda: TODAY),
        runner=runner,
        parent_window=host,
    )
    view = _open_window(qtbot, windows, ref.id)
    _check_tabs(view, ref)
    assert view.fields["address"].text() == "Storgatan 12, 151 30 Södertälje"
    assert _column(view.members, 2)[:2] == ["48", "13"]
    assert _opened_events(sqlite_db, ref.id) == 1

    # Activating the case again raises the same window; it is not read again.
    again = windows.open(ref.id)
    assert again.parent() is view
    assert _opened_events(sqlite_db, ref.id) == 1

    # Esc closes the window; opening the case afterwards makes (and audits) a new one.
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    qtbot.waitUntil(lambda: view.isActiveWindow(), timeout=WAIT)
    QTest.keyClick(view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: windows.controller(ref.id) is None, timeout=WAIT)
    second = _open_window(qtbot, windows, ref.id)
    assert second is not view
    assert "ärende öppnat" in _column(second.history, 2)  # the first read is in the history
    assert _opened_events(sqlite_db, ref.id) == 2
    second.close()


def test_a_protected_member_hides_the_address(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.cli()
    ref = _make(sqlite_db, actor, _unit(sqlite_db, actor), protected=True)
    windows = CaseWindows(
        source=CaseViewService(db=sqlite_db, actor=actor), runner=runner, parent_window=host
    )
    view = _open_window(qtbot, windows, ref.id)
    assert view.fields["address"].text() == "skyddad"
    shown = "\n".join(label.text() for label in view.fields.values())
    for part in ("Storgatan", "151 30", "Södertälje"):
        assert part not in shown
    assert _column(view.members, 6) == ["", "", "skyddad"]
    view.close()


def test_double_click_in_the_register_opens_the_case(qtbot, tmp_path, runner) -> None:  # type: ignore[no-untyped-def]
    from services.auth import demo_login
    from services.demo import seed_demo
    from services.register import RegisterService
    from ui.startup import build_main_window

    db = open_database(f"sqlite:///{tmp_path / 'register.db'}")
    try:
        seed_demo(db, Actor.cli(), cases=5, seed=3, as_of=TODAY)
        user = demo_login(db, "test")
        ref = _make(db, user.actor, user.unit_id, caseworker_id=user.user_id)
        state = ViewState(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
        parts = build_main_window(
            service=RegisterService(db=db, today=lambda: TODAY),
            user=user,
            state=state,
            db_label="SQLite – test",
            runner=runner,
            case_source=CaseViewService(db=db, actor=user.actor),
        )
        qtbot.addWidget(parts.window)
        parts.window.register.search.setText(ref.case_number)
        qtbot.waitUntil(
            lambda: (
                parts.model.current_filter.text == ref.case_number
                and not parts.model.loading
                and parts.model.rowCount() == 1
            ),
            timeout=WAIT,
        )
        parts.window.show()
        qtbot.waitExposed(parts.window)
        table = parts.window.register.table
        rect = table.visualRect(parts.model.index(0, 1))
        with qtbot.waitSignal(parts.register.case_activated, timeout=WAIT) as blocker:
            QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            QTest.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert blocker.args == [ref.id]
        views = [w for w in parts.window.findChildren(CaseView)]
        assert len(views) == 1
        view = views[0]
        qtbot.waitUntil(lambda: view.windowTitle().endswith(ref.case_number), timeout=WAIT)
        _check_tabs(view, ref)
        assert view.fields["caseworker"].text() == user.full_name
        assert _opened_events(db, ref.id) == 1
        # Enter on the same row raises the open window instead of opening another.
        parts.register.case_activated.emit(ref.id)
        assert parts.window.findChildren(CaseView) == [view]
        parts.window.close()
        runner.wait()
        QCoreApplication.processEvents()
    finally:
        db.dispose()


@pytest.mark.postgres
def test_case_window_on_postgresql(qtbot, pg_url, runner, host) -> None:  # type: ignore[no-untyped-def]
    db = open_database(pg_url)
    try:
        actor = Actor.cli()
        ref = _make(db, actor, _unit(db, actor), protected=True)
        windows = CaseWindows(
            source=CaseViewService(db=db, actor=actor), runner=runner, parent_window=host
        )
        view = _open_window(qtbot, windows, ref.id)
        _check_tabs(view, ref)
        assert view.fields["address"].text() == "skyddad"
        assert _opened_events(db, ref.id) == 1
        view.close()
        runner.wait()
        QCoreApplication.processEvents()
    finally:
        db.dispose()


def test_case_detail_on_both_backends(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    ref = _make(db, actor, unit_id)
    service = CaseViewService(db=db, actor=actor, today=lambda: TODAY)
    d = service.load(ref.id)
    assert isinstance(d, CaseDetail)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.summary = "x"  # type: ignore[misc]
    assert (d.case_number, d.status_label, d.opened_on) == (
        ref.case_number,
        "aktualisering",
        date(2024, 5, 2),
    )
    assert d.direction_label == "ej bestämd" and d.caseworker_name == ""
    assert (d.address, d.postcode, d.town) == ("Storgatan 12", "151 30", "Södertälje")
    assert not d.protected and d.housing_cost_ore == 712_000
    assert [(m.name, m.personal_id, m.age, m.role_label) for m in d.members] == [
        ("Karin Nyström", "19780214-3524", 48, "sökande"),
        ("Oskar Nyström", "20120630-2844", 13, "barn"),
    ]
    assert [(n.text, n.signed) for n in d.notes] == [(NOTE_TEXT, True), ("Mitt eget utkast", False)]
    assert d.notes[0].agency_label and d.notes[0].method_label
    assert d.notes[0].occurred_at.utcoffset() is not None
    assert [(m.month, m.amount_ore) for m in d.months] == [(date(2025, 3, 1), 845_050)]
    actions = [h.action_label for h in d.history]
    assert actions[0] == "ärende skapat" and "stödmånad registrerad" in actions
    # Health data never reaches this DTO, nor does anything called address per member.
    for cls in (CaseDetail, MemberDetail, NoteDetail, HistoryDetail):
        fields = set(cls.__dataclass_fields__)
        assert not any("mental" in f or "health" in f for f in fields)
    assert _opened_events(db, ref.id) == 1
    service.load(ref.id)
    assert _opened_events(db, ref.id) == 2

    from tests.factories import BENGT

    child = PersonInput(first_name="Åsa", last_name="Åkesson", personal_id="20150303-2383")
    hidden = _make(db, actor, unit_id, protected=True, people=(BENGT, child))
    h = service.load(hidden.id)
    assert h.protected and (h.address, h.postcode, h.town) == (None, None, None)
    assert [m.protected for m in h.members] == [False, False, True]

    from services.errors import NotFoundError

    with pytest.raises(NotFoundError):
        service.load(uuid.uuid4())


def test_a_missing_case_is_shown_not_raised(qtbot, sqlite_db, runner, host) -> None:  # type: ignore[no-untyped-def]
    windows = CaseWindows(
        source=CaseViewService(db=sqlite_db, actor=Actor.cli()), runner=runner, parent_window=host
    )
    missing = uuid.uuid4()
    controller = windows.open(missing)
    view = controller.parent()
    assert isinstance(view, CaseView)
    with qtbot.waitSignal(controller.load_failed, timeout=WAIT) as blocker:
        pass
    assert blocker.args == ["ärendet finns inte"]
    assert view.loading.text() == "Ärendet kunde inte hämtas: ärendet finns inte"
    assert view.members.model().rowCount() == 0
    assert _opened_events(sqlite_db, missing) == 0  # a failed read leaves no event
    view.close()
