"""The register's painting (ui.register_delegate) against Qt's own delegate, pixel by pixel.

The table is the real register table over a real seeded SQLite file; each cell
is painted once with Qt's QStyledItemDelegate (which reads the model's
``multiData``) and then as the register paints it (Qt's delegate without the
data, then one pass for the texts), first with texts never seen and again
(from the kept texts).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QImage, QPainter
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate, QStyleFactory

from services.db import Database
from services.register import RegisterService
from services.search import RegisterFilter
from tests.factories import seeded_sqlite
from ui.register_delegate import (
    PLAIN_STYLES,
    CellBackground,
    PlainCells,
    RegisterTexts,
    TextCache,
)
from ui.register_model import COL_FLAGS, COL_MONTHS, RegisterModel
from ui.register_view import RegisterView
from ui.worker import BackgroundRunner

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

AS_OF = date(2026, 6, 30)
WAIT = 10_000


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Database]:
    with seeded_sqlite(tmp_path / "delegate.db", cases=300, seed=7, as_of=AS_OF) as db:
        yield db


def _ours(view: RegisterView, model: RegisterModel) -> RegisterTexts:
    """The table painted as the register controller sets it up."""
    table = view.table
    table.setItemDelegate(CellBackground(table))
    table.paint_plain = PlainCells(table)
    texts = RegisterTexts(model, table)
    table.paint_texts = texts.paint
    return texts


def _table(qtbot, db: Database, runner: BackgroundRunner) -> tuple[RegisterView, RegisterModel]:  # type: ignore[no-untyped-def]
    view = RegisterView()
    qtbot.addWidget(view)
    model = RegisterModel(source=RegisterService(db=db, today=lambda: AS_OF), runner=runner)
    view.table.setModel(model)
    view.resize(1400, 700)
    view.show()
    qtbot.waitExposed(view)
    model.set_filter(RegisterFilter())
    qtbot.waitUntil(lambda: model.rowCount() > 0 and not model.loading, timeout=WAIT)
    return view, model


def _cells(view: RegisterView, model: RegisterModel) -> list[QModelIndex]:
    table = view.table
    first, last = table.rowAt(0), table.rowAt(table.viewport().height() - 1)
    return [model.index(r, c) for r in range(first, last + 1) for c in range(model.columnCount())]


def _same(a: QImage, b: QImage, view: RegisterView, index: QModelIndex) -> bool:
    rect = view.table.visualRect(index)
    return a.copy(rect) == b.copy(rect)


def _fits(view: RegisterView, index: QModelIndex) -> bool:
    width = view.table.visualRect(index).width() - 6  # the style's text margins
    return QFontMetricsF(view.table.font()).horizontalAdvance(index.data()) <= width


def _masked(image: QImage, rects: list[QRect]) -> QImage:
    """``image`` with ``rects`` painted over in one colour."""
    copy = image.copy()
    painter = QPainter(copy)
    for rect in rects:
        painter.fillRect(rect, Qt.GlobalColor.magenta)
    painter.end()
    return copy


@pytest.mark.parametrize(
    ("style", "grid"),
    [
        ("Fusion", Qt.PenStyle.SolidLine),  # the grid filled as one-pixel rectangles
        ("Windows", Qt.PenStyle.SolidLine),
        ("Fusion", Qt.PenStyle.DashLine),  # left to Qt
    ],
)
def test_cells_look_as_qts_own_delegate_paints_them(qtbot, seeded, runner, style, grid) -> None:  # type: ignore[no-untyped-def]
    view, model = _table(qtbot, seeded, runner)
    table = view.table
    chosen = QStyleFactory.create(style)
    assert chosen is not None and chosen.name().lower() in PLAIN_STYLES
    table.setStyle(chosen)
    table.setGridStyle(grid)
    while not any(model.row_at(r).protected for r in range(model.rowCount())):  # type: ignore[union-attr]
        assert model.canFetchMore()
        model.fetchMore()
        qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    model.fetchMore()  # rows after it to fill the screen
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT)
    protected = next(r for r in range(model.rowCount()) if model.row_at(r).protected)  # type: ignore[union-attr]
    assert protected + 30 < model.rowCount()
    table.scrollTo(model.index(protected, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    table.selectRow(protected + 1)  # the selection's colours too
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=WAIT)
    table.setItemDelegate(QStyledItemDelegate(table))
    table.paint_plain = None
    table.paint_texts = None
    theirs = table.viewport().grab().toImage()
    ours = _ours(view, model)
    first = table.viewport().grab().toImage()  # texts never seen: elided, kept
    again = table.viewport().grab().toImage()  # the same texts: as kept
    assert len(ours.texts) > 0
    cells = _cells(view, model)
    fitting = [i for i in cells if _fits(view, i)]
    assert len(fitting) > 100 and any(i.column() == COL_MONTHS for i in fitting)
    assert any(i.row() == protected and i.column() == COL_FLAGS for i in fitting)
    # The current cell of the focused table: Qt draws its text under the style's focus
    # frame (Fusion's tints it), the register's pass over it. Every other cell:
    current = table.currentIndex()
    assert current.isValid() and any(i == current for i in fitting)
    for index in fitting:
        if index == current:
            continue
        assert _same(theirs, first, view, index), (index.row(), index.column(), index.data())
        assert _same(theirs, again, view, index), (index.row(), index.column(), index.data())
    # The whole picture (backgrounds, grid, the selected row, the empty space below the
    # last column), but for the texts that do not fit and the focused cell:
    others = [table.visualRect(i).adjusted(0, 0, 1, 1) for i in cells if i not in fitting]
    others.append(table.visualRect(current).adjusted(0, 0, 1, 1))
    assert _masked(theirs, others) == _masked(first, others)
    assert _masked(theirs, others) == _masked(again, others)
    # The comparison can fail: a cell of the same column with another text differs.
    one = fitting[0]
    other = next(i for i in fitting if i.column() == one.column() and i.data() != one.data())
    assert theirs.copy(table.visualRect(one)) != first.copy(table.visualRect(other))


def test_a_text_too_wide_is_elided_to_fit(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    view, model = _table(qtbot, seeded, runner)
    table = view.table
    delegate = _ours(view, model)
    table.horizontalHeader().resizeSection(1, 60)  # the applicant's name
    table.viewport().grab()
    name = model.index(table.rowAt(0), 1).data()
    width = table.visualRect(model.index(table.rowAt(0), 1)).width() - 6
    shown = delegate.texts.get((name, width))
    assert shown is not None
    text = shown
    assert text.endswith("…") and name.startswith(text[:-1]) and len(text) < len(name)
    assert QFontMetricsF(table.font()).horizontalAdvance(text) <= width


def test_a_new_font_forgets_the_laid_out_texts(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    view, model = _table(qtbot, seeded, runner)
    table = view.table
    delegate = _ours(view, model)
    table.viewport().grab()
    assert len(delegate.texts) > 0
    font = QFont(table.font())
    font.setPointSize(font.pointSize() + 4)
    table.setFont(font)
    assert len(delegate.texts) == 0


def test_painting_an_unfetched_row_asks_for_it(qtbot, seeded, runner) -> None:  # type: ignore[no-untyped-def]
    view, model = _table(qtbot, seeded, runner)
    table = view.table
    _ours(view, model)
    model.set_total(RegisterFilter(), 300)
    qtbot.wait(1)  # the view lays its 300 rows out
    table.scrollToBottom()
    qtbot.wait(1)
    row = table.rowAt(table.viewport().height() - 1)
    assert row == 299
    assert row > model.first_missing() and not model.is_loaded(row)  # type: ignore[operator]

    def painted_and_loaded() -> bool:
        table.viewport().grab()  # the texts' pass paints the rows shown: they are asked for
        return model.is_loaded(row) and not model.loading

    qtbot.waitUntil(painted_and_loaded, timeout=WAIT)
    assert model.index(row, 0).data() == model.row_at(row).case_number  # type: ignore[union-attr]


def test_the_text_cache_keeps_two_generations() -> None:
    cache = TextCache(limit=3)
    for i in range(10):
        cache.put((f"t{i}", 100), f"t{i}")
    assert len(cache) <= 6
    assert cache.get(("t9", 100)) == "t9" and cache.get(("t0", 100)) is None
    found = cache.get(("t7", 100))  # in the older generation: moved to the newer
    assert found == "t7"
    for i in range(10, 13):
        cache.put((f"t{i}", 100), f"t{i}")
    assert cache.get(("t7", 100)) == "t7"  # kept, having been used
    assert Qt.TextElideMode.ElideRight  # the mode the delegate elides with
