"""The register window with real widgets over real databases (offscreen Qt).

One SQLite file with 1,000 demo cases is made per module and only read by
these tests; the PostgreSQL test seeds its own database.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QModelIndex, QObject, QSettings, Qt
from PySide6.QtGui import QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate, QStyleOptionViewItem

from models.codes import CaseStatus, Role
from services.audit import Actor
from services.auth import SessionUser, demo_login
from services.db import Database, open_database
from services.demo import seed_demo
from services.register import WINDOW, RegisterRow, RegisterService, RegisterSort
from services.search import RegisterFilter, search_cases
from ui.i18n import format_count
from ui.register_model import (
    COL_APPLICANT,
    COL_FLAGS,
    COL_HOUSEHOLD,
    COL_MONTHS,
    COL_NUMBER,
    COL_PID,
    PROTECTED_COLOUR,
    ROW_ROLE,
    SCROLL_WINDOW,
    RegisterModel,
)
from ui.register_view import RegisterTable
from ui.startup import MainParts, build_main_window
from ui.view_state import ViewState
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

AS_OF = date(2026, 6, 30)
CASES = 1000
WAIT = 10_000


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("register") / "seeded.db"
    db = open_database(f"sqlite:///{path}")
    try:
        seed_demo(db, Actor.cli(), cases=CASES, seed=7, as_of=AS_OF)
    finally:
        db.dispose()
    return path


@pytest.fixture
def seeded(seeded_file: Path, tmp_path: Path) -> Iterator[Database]:
    """A private copy of the seeded file (tests log in, which writes audit events)."""
    path = tmp_path / "register.db"
    shutil.copy(seeded_file, path)
    db = open_database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def state(tmp_path: Path) -> ViewState:
    return ViewState(QSettings(str(tmp_path / "ui-state.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def runner(qtbot) -> Iterator[BackgroundRunner]:  # type: ignore[no-untyped-def]
    r = BackgroundRunner()
    yield r
    r.wait()
    QCoreApplication.processEvents()  # deliver late results to this test's widgets


def _service(db: Database) -> RegisterService:
    return RegisterService(db=db, today=lambda: AS_OF)


def _open(
    qtbot,  # type: ignore[no-untyped-def]
    db: Database,
    state: ViewState,
    runner: BackgroundRunner,
    user: SessionUser | None = None,
    *,
    source: object | None = None,
) -> MainParts:
    """The main window on ``db`` (or on ``source``, a stand-in for the register service)."""
    parts = build_main_window(
        service=source or _service(db),  # type: ignore[arg-type]
        user=user or demo_login(db, "test"),
        state=state,
        db_label="SQLite – test",
        runner=runner,
    )
    qtbot.addWidget(parts.window)
    _wait_loaded(qtbot, parts)
    return parts


def _wait_loaded(qtbot, parts: MainParts) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: not parts.model.loading and parts.register.last_count is not None, timeout=WAIT
    )


def _rows(model: RegisterModel) -> list[RegisterRow]:
    rows = [model.row_at(i) for i in range(model.rowCount())]
    assert None not in rows, "every row fetched"
    return rows  # type: ignore[return-value]


def _fetch_all(qtbot, model: RegisterModel) -> list[RegisterRow]:  # type: ignore[no-untyped-def]
    """Every row: appended (no count yet) or filled in as a view's paint asks for them."""
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    while not model.exhausted:
        if model.canFetchMore():
            model.fetchMore()
        elif (row := model.first_missing()) is not None:
            model.request_rows(row, row)
        else:
            qtbot.wait(5)  # the count is on its way
        qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    return _rows(model)


def test_model_passes_the_model_testers(qtbot, qtmodeltester, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    model = RegisterModel(source=_service(seeded), runner=runner)
    model.set_filter(RegisterFilter())
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=WAIT)
    qtmodeltester.check(model)  # Qt's own QAbstractItemModelTester; warnings fail the test
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    python_model = RegisterModel(source=_service(seeded), runner=runner)
    python_model.set_filter(RegisterFilter(status=CaseStatus.ONGOING))
    qtbot.waitUntil(lambda: python_model.rowCount() > 0, timeout=WAIT)
    qtmodeltester.check(python_model, force_py=True)
    qtbot.waitUntil(lambda: not python_model.loading, timeout=WAIT)
    for m in (model, python_model):
        keys = [m.row_at(i).key for i in range(m.rowCount())]
        assert len(keys) == len(set(keys))  # the testers' own fetchMore calls duplicated nothing


def test_model_holds_one_window_and_fetches_more(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    model = RegisterModel(source=_service(seeded), runner=runner)
    # A view may ask for more from inside the insert signals; that must not fetch twice.
    model.rowsAboutToBeInserted.connect(lambda *_: model.fetchMore())
    model.rowsInserted.connect(lambda *_: model.canFetchMore() and model.fetchMore())
    model.set_filter(RegisterFilter())
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=WAIT)
    assert model.rowCount() == WINDOW < CASES
    assert model.canFetchMore()
    with qtbot.waitSignal(model.rowsInserted, timeout=WAIT):
        model.fetchMore()
    assert model.rowCount() == 2 * WINDOW
    rows = _fetch_all(qtbot, model)
    assert len(rows) == CASES
    assert not model.canFetchMore()
    keys = [r.key for r in rows]
    assert keys == sorted(keys, reverse=True)  # newest first, no duplicates, nothing skipped
    assert len(set(keys)) == CASES


def test_painted_cells_show_what_data_gives(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    """A view paints through ``multiData`` (one call per cell for the 7 roles a delegate
    asks for): the same text, alignment and colour as ``data``; a cell whose row is not
    fetched yet asks for it."""
    model = RegisterModel(source=_service(seeded), runner=runner)
    model.set_filter(RegisterFilter())
    rows = _fetch_all(qtbot, model)
    protected = next(i for i, r in enumerate(rows) if r.protected)
    delegate = QStyledItemDelegate()
    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    for i in (0, protected):
        for col in range(model.columnCount()):
            index = model.index(i, col)
            option = QStyleOptionViewItem()
            delegate.initStyleOption(option, index)
            assert option.text == index.data() and option.text is not None
            alignment = index.data(Qt.ItemDataRole.TextAlignmentRole)
            assert (alignment == right.value) == (col == COL_MONTHS)
            if col == COL_MONTHS:
                assert option.displayAlignment == right
            if i == protected and col == COL_FLAGS:
                assert option.palette.color(QPalette.ColorRole.Text) == PROTECTED_COLOUR
    plain = next(i for i, r in enumerate(rows) if not r.protected)
    option = QStyleOptionViewItem()  # right after the protected row's flags cell
    delegate.initStyleOption(option, model.index(plain, COL_FLAGS))
    assert option.palette.color(QPalette.ColorRole.Text) != PROTECTED_COLOUR
    assert model.data(QModelIndex()) is None
    assert model.flags(QModelIndex()) == Qt.ItemFlag.NoItemFlags
    selectable = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
    assert model.flags(model.index(0, 0)) & selectable == selectable

    # A fresh model with the count: rows past the first window are placeholders until painted.
    fresh = RegisterModel(source=_service(seeded), runner=runner)
    fresh.set_filter(RegisterFilter())
    qtbot.waitUntil(lambda: fresh.rowCount() > 0 and not fresh.loading, timeout=WAIT)
    fresh.set_total(RegisterFilter(), CASES)
    assert not fresh.is_loaded(700)
    option = QStyleOptionViewItem()  # right after a protected row's flags were painted:
    delegate.initStyleOption(option, fresh.index(700, COL_NUMBER))
    assert option.text == ""  # nothing of another row is left in the placeholder
    qtbot.waitUntil(lambda: fresh.is_loaded(700) and not fresh.loading, timeout=WAIT)
    assert fresh.index(700, COL_NUMBER).data() == rows[700].case_number


def test_register_shows_count_columns_and_database(qtbot, seeded, state, runner) -> None:  # type: ignore[no-untyped-def]
    parts = _open(qtbot, seeded, state, runner)
    w = parts.window
    assert w.windowTitle().startswith("Fokus – DEMO")
    assert w.count_label.text() == f"{format_count(CASES)} ärenden"
    assert format_count(CASES) == "1\u00a0000"  # Swedish digit grouping
    assert "SQLite" in w.database_label.text()
    model = parts.model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[:3] == ["Ärendenummer", "Sökande", "Personnummer"]
    row = model.row_at(0)
    assert model.index(0, COL_NUMBER).data() == row.case_number
    assert model.index(0, COL_NUMBER).data(ROW_ROLE) == row
    assert len(row.personal_id) in (0, 13) and (not row.personal_id or row.personal_id[8] == "-")


def test_protected_persons_are_marked_and_no_address_is_held(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    model = RegisterModel(source=_service(seeded), runner=runner)
    model.set_filter(RegisterFilter())
    rows = _fetch_all(qtbot, model)
    protected = [i for i, r in enumerate(rows) if r.protected]
    assert protected, "the demo data has households with skyddade personuppgifter"
    i = protected[0]
    assert "skyddad" in model.index(i, COL_FLAGS).data()
    assert "Skyddade personuppgifter" in model.index(i, 1).data(Qt.ItemDataRole.ToolTipRole)
    assert not any("address" in f or "postcode" in f for f in RegisterRow.__dataclass_fields__)
    with seeded.begin() as s:
        from models import Case

        case = s.get(Case, rows[i].id)
        assert case is not None
        texts = [model.index(i, c).data() or "" for c in range(model.columnCount())]
        for part in (case.address, case.postcode, case.town):
            if part:
                assert all(part not in t for t in texts)


def test_search_filters_after_the_debounce(qtbot, seeded, state, runner) -> None:  # type: ignore[no-untyped-def]
    parts = _open(qtbot, seeded, state, runner)
    search = parts.window.register.search
    target = parts.model.row_at(5)
    # Typing (ASCII only: keyClicks with å/ä/ö crashes the process).
    QTest.keyClicks(search, target.case_number.replace("-", ""))
    assert parts.model.rowCount() > 1  # nothing happens before the debounce
    qtbot.waitUntil(lambda: parts.model.current_filter.text != "", timeout=WAIT)
    _wait_loaded(qtbot, parts)
    assert [r.case_number for r in _rows(parts.model)] == [target.case_number]
    qtbot.waitUntil(lambda: parts.window.count_label.text() == "1 ärende", timeout=WAIT)

    # A lower-case name with å/ä/ö, set directly, finds what the search rules find.
    with seeded.begin() as s:
        everyone = search_cases(s, RegisterFilter())
    name = next(r.applicant_name for r in everyone if any(c in r.applicant_name for c in "ÅÄÖ"))
    name = name.split()[-1].lower()
    search.setText(name)
    qtbot.waitUntil(lambda: parts.model.current_filter.text == name, timeout=WAIT)
    _wait_loaded(qtbot, parts)
    rows = _fetch_all(qtbot, parts.model)
    with seeded.begin() as s:
        expected = {r.id for r in search_cases(s, RegisterFilter(text=name))}
    assert {r.id for r in rows} == expected
    assert len(expected) >= 1
    assert parts.register.last_count == len(expected)

    search.clear()
    qtbot.waitUntil(lambda: parts.model.current_filter.text == "", timeout=WAIT)
    _wait_loaded(qtbot, parts)
    assert parts.register.last_count == CASES


def test_quick_filters_mine_focus_and_status(qtbot, seeded, state, runner) -> None:  # type: ignore[no-untyped-def]
    user = demo_login(seeded, "test")
    parts = _open(qtbot, seeded, state, runner, user)
    everything = _fetch_all(qtbot, parts.model)
    view = parts.window.register
    view.mine.setChecked(True)
    _wait_loaded(qtbot, parts)
    mine = _fetch_all(qtbot, parts.model)
    assert mine and all(r.caseworker_name == user.full_name for r in mine)
    assert parts.register.last_count == len(mine) < CASES

    view.mine.setChecked(False)
    view.focus.setChecked(True)
    _wait_loaded(qtbot, parts)
    focus = _fetch_all(qtbot, parts.model)
    assert focus and all(r.is_focus and "fokus" in r.flags for r in focus)
    assert {r.id for r in focus} == {r.id for r in everything if r.is_focus}

    view.focus.setChecked(False)
    view.status.setCurrentIndex(view.status.findData(CaseStatus.CLOSED.value))
    _wait_loaded(qtbot, parts)
    closed = _fetch_all(qtbot, parts.model)
    assert closed and all(r.status_label == "avslutad" for r in closed)

    view.status.setCurrentIndex(0)
    view.child_family.setChecked(True)
    _wait_loaded(qtbot, parts)
    families = _fetch_all(qtbot, parts.model)
    assert {r.id for r in families} == {r.id for r in everything if r.child_family}
    assert families and "barnfamilj" in families[0].flags
    view.child_family.setChecked(False)
    view.long_term.setChecked(True)
    _wait_loaded(qtbot, parts)
    long_term = _fetch_all(qtbot, parts.model)
    # The filter (in SQL) and the flag (per window) follow the same rule.
    assert {r.id for r in long_term} == {r.id for r in everything if r.long_term}
    assert long_term and "långvarig" in long_term[0].flags
    assert len(long_term) == parts.register.last_count


def test_sorting_by_case_number_runs_in_sql(qtbot, seeded, state, runner) -> None:  # type: ignore[no-untyped-def]
    parts = _open(qtbot, seeded, state, runner)
    newest = parts.model.row_at(0).key
    header = parts.window.register.table.horizontalHeader()
    header.setSortIndicator(COL_NUMBER, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: not parts.model.descending and parts.model.rowCount() > 0, timeout=WAIT)
    assert parts.model.row_at(0).key < newest
    # Every case has a row (the count is kept), one window of them fetched.
    assert parts.model.rowCount() == CASES
    assert parts.model.first_missing() == WINDOW
    # Columns worked out per window do not sort: the indicator stays where it was.
    header.setSortIndicator(COL_HOUSEHOLD, Qt.SortOrder.AscendingOrder)
    assert header.sortIndicatorSection() == COL_NUMBER
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder


def test_sorting_by_applicant_is_swedish_order_in_sql(
    qtbot, qtmodeltester, seeded, state, runner
) -> None:  # type: ignore[no-untyped-def]
    parts = _open(qtbot, seeded, state, runner)
    model = parts.model
    header = parts.window.register.table.horizontalHeader()
    header.setSortIndicator(COL_APPLICANT, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(
        lambda: model.sort is RegisterSort.APPLICANT and not model.loading, timeout=WAIT
    )
    assert model.rowCount() == CASES  # the count is kept
    rows = _fetch_all(qtbot, model)
    keys = [r.key for r in rows]
    assert keys == sorted(keys) and len({r.id for r in rows}) == CASES
    # By last name in Swedish order: Å, Ä, Ö after Z, in that order.
    last = [r.applicant_name.split()[-1][0] for r in rows if r.applicant_name]
    tail = "".join(dict.fromkeys(c for c in last if c in "XYZÅÄÖ"))
    assert tail == "".join(c for c in "XYZÅÄÖ" if c in tail)  # first seen in alphabet order
    assert "Z" in tail and "Å" in tail and "Ö" in tail  # the demo names have them
    qtmodeltester.check(model)
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    # Descending, then a click on a column that does not sort keeps the applicant order.
    header.setSortIndicator(COL_APPLICANT, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: model.descending and not model.loading, timeout=WAIT)
    assert model.row_at(0) == rows[-1]
    header.setSortIndicator(COL_FLAGS, Qt.SortOrder.AscendingOrder)
    assert header.sortIndicatorSection() == COL_APPLICANT
    # Personnummer.
    header.setSortIndicator(COL_PID, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(
        lambda: model.sort is RegisterSort.PERSONAL_ID and not model.loading, timeout=WAIT
    )
    pids = [r.personal_id for r in _fetch_all(qtbot, model)]
    assert pids == sorted(pids)


def test_ctrl_f_focuses_the_search(qtbot, seeded, state, runner) -> None:  # type: ignore[no-untyped-def]
    parts = _open(qtbot, seeded, state, runner)
    w = parts.window
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    w.register.table.setFocus()
    qtbot.waitUntil(lambda: w.register.table.hasFocus(), timeout=WAIT)
    QTest.keyClick(w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.register.search.hasFocus(), timeout=WAIT)


def test_geometry_columns_and_filter_are_remembered(qtbot, seeded, state, runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    parts = _open(qtbot, seeded, state, runner)
    w = parts.window
    view = w.register
    w.resize(780, 450)
    w.show()
    qtbot.waitExposed(w)
    view.table.horizontalHeader().resizeSection(1, 321)
    view.mine.setChecked(True)
    view.status.setCurrentIndex(view.status.findData(CaseStatus.ONGOING.value))
    view.search.setText("andersson")
    _wait_loaded(qtbot, parts)
    w.close()  # saves on close
    settings_file = tmp_path / "ui-state.ini"
    assert settings_file.exists()
    text = settings_file.read_text(encoding="utf-8")
    assert "andersson" not in text  # the search text (names, personnummer) is never kept

    again = _open(
        qtbot, seeded, ViewState(QSettings(str(settings_file), QSettings.Format.IniFormat)), runner
    )
    v2 = again.window.register
    assert v2.mine.isChecked()
    assert v2.status.currentData() == CaseStatus.ONGOING.value
    assert v2.search.text() == ""
    assert v2.table.horizontalHeader().sectionSize(1) == 321
    assert again.model.current_filter.status is CaseStatus.ONGOING
    assert again.model.current_filter.caseworker_id is not None
    again.window.show()
    qtbot.waitExposed(again.window)
    # The offscreen screen is 800×600 and clamps widths; the height shows the restore.
    assert again.window.height() == 450
    assert again.window.width() < 1200  # not the default size


def test_an_expected_error_while_loading_is_shown_not_raised(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    from services.errors import DatabaseUnavailableError

    class Broken:
        def window(self, *args: object, **kwargs: object) -> list[RegisterRow]:
            raise DatabaseUnavailableError("databasen kan inte nås (test)")

    model = RegisterModel(source=Broken(), runner=runner)
    with qtbot.waitSignal(model.load_failed, timeout=WAIT) as blocker:
        model.set_filter(RegisterFilter())
    assert blocker.args == ["databasen kan inte nås (test)"]
    assert model.rowCount() == 0 and not model.canFetchMore()


@pytest.mark.postgres
def test_register_on_postgresql(qtbot, pg_url, state, runner) -> None:  # type: ignore[no-untyped-def]
    db = open_database(pg_url)
    try:
        seed_demo(db, Actor.cli(), cases=450, seed=11, as_of=AS_OF)
        user = demo_login(db, "test")
        assert user.role is Role.CASEWORKER
        parts = _open(qtbot, db, state, runner, user)
        assert parts.register.last_count == 450
        from ui.startup import database_label

        assert database_label(db).startswith("PostgreSQL: postgresql+psycopg://")
        assert parts.model.rowCount() == 450  # a row for every case, the first WINDOW fetched
        assert parts.model.first_missing() == WINDOW
        rows = _fetch_all(qtbot, parts.model)
        assert len({r.key for r in rows}) == 450
        name = next(r for r in rows if any(c in r.applicant_name for c in "ÅÄÖ")).applicant_name
        text = name.split()[-1].lower()
        parts.window.register.search.setText(text)
        qtbot.waitUntil(lambda: parts.model.current_filter.text == text, timeout=WAIT)
        _wait_loaded(qtbot, parts)
        found = _fetch_all(qtbot, parts.model)
        with db.begin() as s:
            expected = {r.id for r in search_cases(s, RegisterFilter(text=text))}
        assert {r.id for r in found} == expected
        parts.window.register.mine.setChecked(True)
        _wait_loaded(qtbot, parts)
        assert all(r.caseworker_name == user.full_name for r in _fetch_all(qtbot, parts.model))
        parts.window.close()
        runner.wait()
    finally:
        db.dispose()


def test_register_service_rows_flags_and_keyset(db, actor, unit_id) -> None:  # type: ignore[no-untyped-def]
    """The service on both backends: household counts, the långvarig and barnfamilj rules."""
    from models.codes import MemberRole, Protection
    from services.cases import CaseService
    from services.persons import PersonInput
    from services.support import SupportService
    from tests.factories import ALI, BENGT, KARIN, MARIE, OSKAR, make_case

    a, c, b = MemberRole.APPLICANT, MemberRole.CO_APPLICANT, MemberRole.CHILD
    cases = CaseService(db=db, actor=actor)
    family = make_case(cases, unit_id, (a, KARIN), (b, OSKAR), opened_on=date(2024, 1, 2))
    couple = make_case(cases, unit_id, (a, BENGT), (c, MARIE), opened_on=date(2024, 1, 3))
    single = make_case(cases, unit_id, (a, ALI), opened_on=date(2024, 1, 4))
    hidden = PersonInput(
        first_name="Sara",
        last_name="Skyddad",
        personal_id="19800101-0001",
        protection=Protection.PROTECTED_REGISTRATION,
    )
    protected = make_case(cases, unit_id, (a, hidden), opened_on=date(2024, 1, 5))
    support = SupportService(db=db, actor=actor)
    today = date(2026, 6, 15)  # reference month: 2026-05
    for m in range(1, 11):  # 10 months of 2025: långvarig
        support.add_month(couple.id, date(2025, m, 1), 800_000)
    for m in range(1, 10):  # 9 months of 2025 …
        support.add_month(single.id, date(2025, m, 1), 500_000)
    for m in range(1, 7):  # … and 6 of 2026 (June not complete): not långvarig
        support.add_month(single.id, date(2026, m, 1), 500_000)
    service = RegisterService(db=db, today=lambda: today)
    rows = {r.case_number: r for r in service.window(RegisterFilter(), None, 10, descending=True)}
    assert list(rows) == [
        protected.case_number,
        single.case_number,
        couple.case_number,
        family.case_number,
    ]
    fam, two, one, prot = (rows[x.case_number] for x in (family, couple, single, protected))
    assert (fam.adults, fam.children, fam.child_family) == (1, 1, True)
    assert (two.adults, two.children, two.child_family) == (2, 0, False)
    assert two.long_term and not one.long_term and not fam.long_term
    assert (one.months_this_year, two.months_this_year) == (6, 0)
    assert one.personal_id == "20010417-8132"
    assert prot.protected and prot.flags == ["skyddad"] and not fam.protected
    assert fam.flags == ["barnfamilj"] and two.flags == ["långvarig"]
    assert service.count(RegisterFilter(long_term=True)) == 1
    assert service.count(RegisterFilter(child_family=True)) == 1
    assert [r.key for r in service.window(RegisterFilter(long_term=True))] == [two.key]
    # Keyset: windows of one, both directions, never repeating or skipping.
    down, key = [], None
    while batch := service.window(RegisterFilter(), key, 1, descending=True):
        down.append(batch[0].case_number)
        key = batch[0].key
    up, key = [], None
    while batch := service.window(RegisterFilter(), key, 1):
        up.append(batch[0].case_number)
        key = batch[0].key
    assert down == list(rows) == up[::-1]
    assert service.backend_label in ("SQLite", "PostgreSQL")


def test_many_qt_calls_do_not_wear_out_none_and_true(qtbot) -> None:  # type: ignore[no-untyped-def]
    """PySide6 6.12.0 on Python 3.11 dropped a reference to None/True per void/bool call
    until the process aborted ("none_dealloc"); pyproject pins 6.11, which does not.
    This guards against a PySide6 upgrade that brings the bug back.
    """
    import sys

    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        changed = Signal(int)

    source = Source()
    got: list[int] = []
    source.changed.connect(got.append)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(20_000):
        source.setObjectName("x")  # returns None
        source.blockSignals(False)  # returns a bool
        source.changed.emit(i)  # returns a bool
    assert len(got) == 20_000
    assert sys.getrefcount(None) >= none_before - 1_000
    assert sys.getrefcount(True) >= true_before - 1_000


def test_a_window_arriving_after_the_model_is_gone_is_dropped(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    """Closing the window while a window of rows is on its way must not touch dead objects."""
    import threading

    import shiboken6

    release = threading.Event()

    class Slow:
        def window(self, *args: object, **kwargs: object) -> list[RegisterRow]:
            release.wait(10)
            return []

    model = RegisterModel(source=Slow(), runner=runner)
    model.set_filter(RegisterFilter())
    assert model.loading
    shiboken6.delete(model)
    release.set()
    runner.wait()
    QCoreApplication.processEvents()  # the late result is dropped, nothing raises
    assert not runner.busy


class _Recording:
    """The register service, with every window call recorded."""

    def __init__(self, service: RegisterService) -> None:
        self.service = service
        self.calls: list[dict[str, object]] = []

    def window(self, flt, after_key=None, limit=WINDOW, *, descending=False, skip=0, sort=None):  # type: ignore[no-untyped-def]
        self.calls.append({"after": after_key, "limit": limit, "desc": descending, "skip": skip})
        return self.service.window(
            flt, after_key, limit, descending=descending, skip=skip, sort=sort
        )

    def count(self, flt: RegisterFilter) -> int:
        return self.service.count(flt)


def _all_in_order(db: Database) -> list[RegisterRow]:
    service, rows, key = _service(db), [], None
    while batch := service.window(RegisterFilter(), key, 500, descending=True):
        rows += batch
        key = batch[-1].key
    return rows


def test_sparse_model_ctrl_end_fetches_only_the_last_window(qtbot, seeded, state, runner) -> None:  # type: ignore[no-untyped-def]
    expected = _all_in_order(seeded)
    source = _Recording(_service(seeded))
    parts = _open(qtbot, seeded, state, runner, source=source)
    model, table = parts.model, parts.window.register.table
    assert parts.register.last_count == CASES == model.rowCount() == model.total
    assert model.first_missing() == WINDOW and model.row_at(WINDOW) is None
    parts.window.resize(900, 600)
    parts.window.show()
    qtbot.waitExposed(parts.window)
    table.setFocus()
    table.setCurrentIndex(model.index(0, 0))
    source.calls.clear()
    # Whoever waits on the signal (the bench) sees the end of loading in it, not later.
    states: list[bool] = []
    model.window_loaded.connect(lambda _n: states.append(model.loading))
    QTest.keyClick(table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    assert table.currentIndex().row() == CASES - 1  # at once: the row exists, unfetched
    qtbot.waitUntil(lambda: model.row_at(CASES - 1) is not None and not model.loading, timeout=WAIT)
    # One window, asked for in the reversed order from the end: not the 900 rows between.
    assert source.calls == [{"after": None, "limit": SCROLL_WINDOW, "desc": False, "skip": 0}]
    assert states and states[-1] is False
    last_window = CASES - SCROLL_WINDOW
    assert [model.row_at(i) for i in range(last_window, CASES)] == expected[last_window:]
    assert model.row_at(last_window - 1) is None and model.row_at(400) is None
    assert table.currentIndex().data(ROW_ROLE) == expected[-1]
    assert [i.row() for i in table.selectionModel().selectedRows()] == [CASES - 1]

    # A jump into the middle: one window around it, found by skipping in the index.
    source.calls.clear()
    table.scrollTo(model.index(500, 0), table.ScrollHint.PositionAtCenter)
    qtbot.waitUntil(lambda: model.row_at(500) is not None and not model.loading, timeout=WAIT)
    assert len(source.calls) == 1 and source.calls[0]["skip"] > 0
    loaded = [i for i in range(CASES) if model.row_at(i) is not None]
    assert all(model.row_at(i) == expected[i] for i in loaded)  # each in its place
    assert WINDOW + 2 * SCROLL_WINDOW <= len(loaded) < CASES

    # The rest, filled in from the neighbours: every case once, in order.
    assert _fetch_all(qtbot, model) == expected
    assert parts.window.count_label.text() == f"{format_count(CASES)} ärenden"


def test_sparse_model_passes_the_model_testers(qtbot, qtmodeltester, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    service = _service(seeded)
    model = RegisterModel(source=service, runner=runner)
    model.set_filter(RegisterFilter())
    qtbot.waitUntil(lambda: model.rowCount() > 0 and not model.loading, timeout=WAIT)
    model.set_total(RegisterFilter(), service.count(RegisterFilter()))
    assert model.rowCount() == CASES
    qtmodeltester.check(model)  # asks for data on unfetched rows too
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    model.request_rows(CASES - 1, CASES - 1)
    qtbot.waitUntil(lambda: model.row_at(CASES - 1) is not None, timeout=WAIT)
    qtmodeltester.check(model, force_py=True)
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    keys = [r.key for r in _fetch_all(qtbot, model)]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == CASES


def test_sparse_model_a_short_window_leaves_rows_empty_and_asks_no_more(
    qtbot, seeded, runner
) -> None:  # type: ignore[no-untyped-def]
    """Cases removed between the count and a window: the rows stay empty, no fetch loop."""
    service = _service(seeded)
    calls = []

    class Shrinking:
        def window(self, flt, after_key=None, limit=WINDOW, *, descending=False, skip=0, sort=None):  # type: ignore[no-untyped-def]
            calls.append(after_key)
            rows = service.window(flt, after_key, limit, descending=descending, skip=skip)
            first_window = after_key is None and descending
            return rows if first_window else rows[: limit // 2]

    model = RegisterModel(source=Shrinking(), runner=runner)
    model.set_filter(RegisterFilter())
    qtbot.waitUntil(lambda: model.rowCount() > 0 and not model.loading, timeout=WAIT)
    model.set_total(RegisterFilter(), CASES)
    model.request_rows(WINDOW, WINDOW)
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    emptied = WINDOW + SCROLL_WINDOW - 1  # the window's last row: the shrunk window left it empty
    assert model.row_at(WINDOW) is not None and model.row_at(emptied) is None
    n = len(calls)
    model.request_rows(emptied, emptied)
    assert model.index(emptied, 0).data() is None
    qtbot.wait(50)
    assert len(calls) == n  # an emptied row is not asked for again


class _PaintLog(QObject):
    """Records, for every paint of the table, whether a shown row was still unfetched."""

    def __init__(self, table: RegisterTable, model: RegisterModel) -> None:
        super().__init__()
        self.table, self.model = table, model
        self.paints: list[bool] = []  # True: the paint showed a row not fetched yet
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            first = self.table.rowAt(0)
            last = self.table.rowAt(self.table.viewport().height() - 1)
            self.paints.append(self.model.has_missing(first, last if last >= 0 else first))
        return False


def test_scrolling_onto_unfetched_rows_paints_them_once_when_they_arrive(
    qtbot, seeded, state, runner
) -> None:  # type: ignore[no-untyped-def]
    """The paint hold: the window is asked for before the table moves, and the table
    keeps its picture until the rows are there, so no empty rows are painted first."""
    parts = _open(qtbot, seeded, state, runner)
    parts.window.resize(900, 600)
    parts.window.show()
    qtbot.waitExposed(parts.window)
    model, table = parts.model, parts.window.register.table
    hold = parts.register.paint_hold
    hold.set_limit(WAIT)  # however slow this machine: the hold ends with the rows, not before
    assert model.total == CASES and model.first_missing() == WINDOW
    log = _PaintLog(table, model)
    for target in (WINDOW, 400, 700):  # scrolled onto, in turn, each an unfetched row
        qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
        log.paints.clear()
        table.scrollTo(model.index(target, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        assert model.loading and hold.held  # asked for at once, nothing painted meanwhile
        assert not table.viewport().updatesEnabled()
        qtbot.waitUntil(lambda t=target: model.is_loaded(t) and not model.loading, timeout=WAIT)
        assert not hold.held and table.viewport().updatesEnabled()
        qtbot.waitUntil(lambda: bool(log.paints), timeout=WAIT)
        assert log.paints and not any(log.paints)  # painted, and only with the rows there
        assert table.rowAt(0) == target
    # Scrolling within fetched rows holds nothing.
    table.scrollTo(model.index(target + 5, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    assert not hold.held and not model.loading


def test_a_slow_window_shows_the_empty_rows_after_the_hold(qtbot, seeded, state, runner) -> None:  # type: ignore[no-untyped-def]
    """A window slower than the hold (a slow server): the empty rows are painted after
    ``HOLD_MS`` and filled when it comes; a new filter ends a hold at once."""
    import threading

    gate = threading.Event()
    service = _service(seeded)

    class Slow:
        def window(self, flt, after_key=None, limit=WINDOW, *, descending=False, skip=0, sort=None):  # type: ignore[no-untyped-def]
            if after_key is not None or skip:
                gate.wait(WAIT / 1000)
            return service.window(
                flt, after_key, limit, descending=descending, skip=skip, sort=sort
            )

        def count(self, flt: RegisterFilter) -> int:
            return service.count(flt)

    parts = _open(qtbot, seeded, state, runner, source=Slow())
    parts.window.resize(900, 600)
    parts.window.show()
    qtbot.waitExposed(parts.window)
    model, table, hold = parts.model, parts.window.register.table, parts.register.paint_hold
    log = _PaintLog(table, model)
    try:
        table.scrollTo(model.index(300, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        assert hold.held
        qtbot.waitUntil(lambda: not hold.held, timeout=WAIT)  # HOLD_MS later, still loading
        assert model.loading and table.viewport().updatesEnabled()
        qtbot.waitUntil(lambda: bool(log.paints), timeout=WAIT)
        assert log.paints[-1] is True  # the empty rows, shown while the window is on its way
    finally:
        gate.set()
    qtbot.waitUntil(lambda: model.is_loaded(300) and not model.loading, timeout=WAIT)
    qtbot.waitUntil(lambda: log.paints[-1] is False, timeout=WAIT)  # and then the rows

    gate.clear()
    table.scrollTo(model.index(700, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    assert hold.held
    parts.window.register.search.setText("a")
    QTest.keyClick(parts.window.register.search, Qt.Key.Key_Return)  # a new filter: a reset
    assert not hold.held and table.viewport().updatesEnabled()
    gate.set()
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    runner.wait()  # no window still on its way when the widgets go


def test_a_jump_in_a_tall_table_fetches_one_window_around_the_rows_shown(
    qtbot, seeded, state, runner
) -> None:  # type: ignore[no-untyped-def]
    """The window for a scroll is planned around the middle of the rows it shows and holds
    two screens of them, so a tall table (many rows on screen) gets them all in one window."""
    source = _Recording(_service(seeded))
    parts = _open(qtbot, seeded, state, runner, source=source)
    parts.window.resize(900, 1900)
    parts.window.show()
    qtbot.waitExposed(parts.window)
    model, table = parts.model, parts.window.register.table
    parts.register.paint_hold.set_limit(WAIT)
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    source.calls.clear()
    table.scrollTo(model.index(600, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    qtbot.waitUntil(lambda: model.is_loaded(600) and not model.loading, timeout=WAIT)
    first, last = table.rowAt(0), table.rowAt(table.viewport().height() - 1)
    assert first == 600 and last - first + 1 > SCROLL_WINDOW // 2  # a tall table
    assert not model.has_missing(first, last)
    assert len(source.calls) == 1  # two screens of this table: more than SCROLL_WINDOW
    assert source.calls[0]["limit"] == 2 * (last - first + 1) > SCROLL_WINDOW


def test_the_count_waits_for_the_first_window_and_a_superseded_filter_is_not_counted(
    qtbot, seeded, state, runner
) -> None:  # type: ignore[no-untyped-def]
    """On two cores the count would compete with the first window the user waits for:
    it starts when that window has arrived, and a filter replaced before its first
    window (a search typed on) is never counted."""
    import threading

    service = _service(seeded)
    gate = threading.Event()
    gate.set()
    events: list[tuple[str, str]] = []

    class Ordered:
        def window(self, flt, after_key=None, limit=WINDOW, *, descending=False, skip=0, sort=None):  # type: ignore[no-untyped-def]
            assert gate.wait(WAIT / 1000), "the test never opened the gate"
            rows = service.window(
                flt, after_key, limit, descending=descending, skip=skip, sort=sort
            )
            events.append(("window", flt.text))
            return rows

        def count(self, flt: RegisterFilter) -> int:
            events.append(("count", flt.text))
            return service.count(flt)

    parts = _open(qtbot, seeded, state, runner, source=Ordered())
    assert events[:2] == [("window", ""), ("count", "")]
    search = parts.window.register.search
    events.clear()
    gate.clear()
    search.setText("a")
    QTest.keyClick(search, Qt.Key.Key_Return)
    qtbot.wait(100)
    assert ("count", "a") not in events  # the first window of "a" is held back
    search.setText("an")
    QTest.keyClick(search, Qt.Key.Key_Return)
    gate.set()
    qtbot.waitUntil(lambda: parts.register.last_count is not None, timeout=WAIT)
    runner.wait()
    QCoreApplication.processEvents()
    assert ("count", "a") not in events
    assert events.index(("count", "an")) > events.index(("window", "an"))
    assert parts.register.last_count == service.count(RegisterFilter(text="an"))


class _FirstPaints(QObject):
    """Records the register's rows at each paint of the table's viewport."""

    def __init__(self, table: RegisterTable) -> None:
        super().__init__()
        self.table = table
        self.rows: list[int] = []
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.rows.append(self.table.model().rowCount())
        return False


class _Gated:
    """The register service with its windows held until ``gate`` is set; counts logged."""

    def __init__(self, service: RegisterService, gate: threading.Event) -> None:
        self.service, self.gate = service, gate
        self.events: list[str] = []

    def window(self, flt, after_key=None, limit=WINDOW, *, descending=False, skip=0, sort=None):  # type: ignore[no-untyped-def]
        assert self.gate.wait(WAIT / 1000), "the test never opened the gate"
        return self.service.window(
            flt, after_key, limit, descending=descending, skip=skip, sort=sort
        )

    def count(self, flt: RegisterFilter) -> int:
        self.events.append("count")
        return self.service.count(flt)


def _built(  # type: ignore[no-untyped-def]
    qtbot, db: Database, state: ViewState, runner: BackgroundRunner, source: _Gated
) -> MainParts:
    """The main window on ``source``, built and not yet shown (nothing waited for)."""
    parts = build_main_window(
        service=source,  # type: ignore[arg-type]
        user=demo_login(db, "test"),
        state=state,
        db_label="SQLite – test",
        runner=runner,
    )
    qtbot.addWidget(parts.window)
    return parts


def test_the_main_window_is_first_painted_with_its_first_rows(qtbot, seeded, state, runner) -> None:  # type: ignore[no-untyped-def]
    """Shown before the first window arrives, the window keeps from painting (an empty
    register and then the same window again with rows) until the rows are in; the count
    starts only once they are painted."""
    source = _Gated(_service(seeded), threading.Event())
    parts = _built(qtbot, seeded, state, runner, source)
    table = parts.window.register.table
    paints = _FirstPaints(table)
    table.painted.connect(lambda: source.events.append("painted"))
    parts.window.show()
    qtbot.wait(30)  # shown, its first window held back: nothing painted
    assert paints.rows == [] and not parts.window.updatesEnabled()
    source.gate.set()
    qtbot.waitUntil(lambda: parts.register.last_count is not None, timeout=WAIT)
    assert paints.rows and paints.rows[0] == WINDOW  # the first paint had the rows
    assert parts.window.updatesEnabled()
    assert source.events.index("painted") < source.events.index("count")
    runner.wait()


def test_a_slow_first_window_shows_the_empty_register_after_the_hold(
    qtbot, seeded, state, runner
) -> None:  # type: ignore[no-untyped-def]
    """A first window slower than ``FIRST_HOLD_MS`` (a slow server): the window is
    painted without rows, and again with them; a hidden register is counted anyway."""
    source = _Gated(_service(seeded), threading.Event())
    parts = _built(qtbot, seeded, state, runner, source)
    paints = _FirstPaints(parts.window.register.table)
    parts.window.show()
    try:
        qtbot.waitUntil(lambda: bool(paints.rows), timeout=WAIT)  # FIRST_HOLD_MS later
        assert paints.rows[0] == 0 and parts.model.loading
    finally:
        source.gate.set()
    qtbot.waitUntil(lambda: paints.rows[-1] > 0, timeout=WAIT)
    parts.window.hide()
    parts.register.refresh()  # not painted while hidden: counted after COUNT_AFTER_MS
    qtbot.waitUntil(
        lambda: not parts.model.loading and parts.register.last_count is not None, timeout=WAIT
    )
    runner.wait()
