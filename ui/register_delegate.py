"""How the register's cells are painted: Qt draws the cells, one pass draws their texts.

Qt's item delegate asks the model for a cell role by role and lays its text out
twice per paint (once to elide it, once to draw it), and every call into
Python costs microseconds per cell. Scrolling 100,000 cases, that paint was
about half of what the user waits for a window of rows (docs/performance.md).
So the register's table paints in two parts:

* :class:`CellBackground`, Qt's own delegate told nothing about the cell's
  data, draws what the style draws for an item: the background (alternating
  rows, selection, hover) and the focus frame;
* :class:`RegisterTexts` then draws the texts of the cells being painted, in
  one pass over them (``RegisterTable.paintEvent``), from the texts the worker
  made with the window (:meth:`RegisterModel.cell_texts
  <ui.register_model.RegisterModel.cell_texts>`), each elided once if it must
  be and kept (:class:`TextCache`).

What it shows is what Qt's item delegate shows for these cells, pixel for pixel
where the text fits (tested): the text in the Text or HighlightedText colour of
the view's colour group (red in a protected person's flags cell), vertically
centred in the cell, the style's text margin, the months right-aligned, a text
too wide elided at the right. The model still answers ``data`` and
``multiData`` for everyone else (accessibility, tests).

Texts are drawn with ``QPainter.drawText``. Kept ``QStaticText`` layouts for the
repeated texts drew about 2 µs a cell faster, but two of seven test runs
crashed in ``drawStaticText`` (a segmentation fault whose cause was not found).
"""

from __future__ import annotations

import math
from typing import Protocol

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView

ModelIndex = QModelIndex | QPersistentModelIndex

_FOCUS_MARGIN = QStyle.PixelMetric.PM_FocusFrameHMargin
_TEXT, _HIGHLIGHTED_TEXT = QPalette.ColorRole.Text, QPalette.ColorRole.HighlightedText
_NORMAL, _INACTIVE, _DISABLED = (
    QPalette.ColorGroup.Normal,
    QPalette.ColorGroup.Inactive,
    QPalette.ColorGroup.Disabled,
)
_ELIDE = Qt.TextElideMode.ElideRight
_FORGETTING = (QEvent.Type.FontChange, QEvent.Type.StyleChange, QEvent.Type.PaletteChange)

# Texts kept as shown (elided): a few screens of them. When the newer generation is
# full the older is dropped (TextCache).
CACHE_TEXTS = 2000


class CellTexts(Protocol):
    """What the texts' pass needs from :class:`ui.register_model.RegisterModel`."""

    def cell_texts(self, row: int) -> tuple[str, ...] | None: ...

    def cell_colour(self, row: int, column: int) -> QColor | None: ...

    def right_aligned(self, column: int) -> bool: ...


_Key = tuple[str, int]  # a text and the width it is shown in


class TextCache:
    """Texts as shown (elided to fit) by (text, width), in two generations of at most
    ``limit``.

    A lookup that finds the older generation moves the entry into the newer;
    when the newer is full it becomes the older. Memory stays bounded, and a
    lookup needs no bookkeeping.
    """

    def __init__(self, limit: int = CACHE_TEXTS) -> None:
        self._limit = max(limit, 1)
        self._new: dict[_Key, str] = {}
        self._old: dict[_Key, str] = {}

    def __len__(self) -> int:
        return len(self._new) + len(self._old)

    def clear(self) -> None:
        self._new.clear()
        self._old.clear()

    def get(self, key: _Key) -> str | None:
        """The text as shown, or None if unseen."""
        found = self._new.get(key)
        if found is None:
            found = self._old.pop(key, None)
            if found is not None:
                self._put(key, found)
        return found

    def put(self, key: _Key, value: str) -> None:
        self._put(key, value)

    def _put(self, key: _Key, value: str) -> None:
        if len(self._new) >= self._limit:
            self._old, self._new = self._new, {}
        self._new[key] = value


class CellBackground(QStyledItemDelegate):
    """Qt's item delegate without the cell's data: the style's background and focus frame.

    ``initStyleOption`` leaves the option as the view made it (state, rectangle,
    palette, alternate row), so Qt draws no text and asks the model nothing.
    """

    def initStyleOption(self, option: QStyleOptionViewItem, index: ModelIndex) -> None:  # noqa: N802
        return


class RegisterTexts(QObject):
    """Draws the texts of a table's cells (see the module's text) after Qt has drawn them.

    Texts are kept for the table's font, style and palette: a ``FontChange``,
    ``StyleChange`` or ``PaletteChange`` of the table forgets them.
    """

    def __init__(self, model: CellTexts, table: QTableView) -> None:
        super().__init__(table)
        self._model = model
        self._table = table
        self.texts = TextCache()
        self._ready = False
        self._metrics = QFontMetricsF(table.font())
        self._margin = 0
        self._ascent = 0.0
        self._height = 0
        self._right: frozenset[int] = frozenset()  # the right-aligned columns
        table.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # Qt may ask before __init__ has set _table (QObject's own events): nothing to forget.
        if watched is getattr(self, "_table", None) and event.type() in _FORGETTING:
            self.texts.clear()
            self._ready = False
        return False

    def _setup(self) -> None:
        """Once per font and style: where every cell's text goes (as Qt's delegate puts it)."""
        table = self._table
        option = QStyleOptionViewItem()
        option.initFrom(table)
        self._margin = table.style().pixelMetric(_FOCUS_MARGIN, option, table) + 1
        self._metrics = QFontMetricsF(table.font())
        self._ascent = self._metrics.ascent()
        self._height = math.ceil(self._ascent + self._metrics.descent())  # as QTextLine's
        model = table.model()
        columns = model.columnCount() if model is not None else 0
        self._right = frozenset(c for c in range(columns) if self._model.right_aligned(c))
        self._ready = True

    def paint(self, area: QRect) -> None:
        """Draw the texts of the cells in ``area`` of the table's viewport (in its paint)."""
        table, model = self._table, self._model
        if not self._ready:
            self._setup()
        first, last = table.rowAt(area.top()), table.rowAt(area.bottom())
        if first < 0:
            return
        if last < 0:
            last = table.model().rowCount() - 1
        grid = 1 if table.showGrid() else 0
        header = table.horizontalHeader()
        margin = self._margin
        columns = []  # (column, text's x, text's width) of the columns in the area
        for visual in range(header.count()):
            column = header.logicalIndex(visual)
            if header.isSectionHidden(column):
                continue
            x, size = header.sectionViewportPosition(column), header.sectionSize(column)
            if x + size > area.left() and x <= area.right():
                columns.append((column, x + margin, size - grid - 2 * margin))
        if not columns:
            return
        # As Qt's item views set State_Active: an active window, and the view has focus.
        group = _NORMAL if table.isActiveWindow() and table.hasFocus() else _INACTIVE
        palette = table.palette()
        if not table.isEnabled():
            group = _DISABLED
        plain, selected = palette.color(group, _TEXT), palette.color(group, _HIGHLIGHTED_TEXT)
        selection, root = table.selectionModel(), table.rootIndex()
        vertical = table.verticalHeader()
        texts, metrics, right = self.texts, self._metrics, self._right
        ascent = self._ascent
        painter = QPainter(table.viewport())
        if not painter.isActive():  # not in a paint of the viewport: nothing to draw on
            return
        try:
            for row in range(first, last + 1):
                cells = model.cell_texts(row)  # a row not fetched yet is asked for
                if cells is None:
                    continue
                height = vertical.sectionSize(row) - grid
                top = vertical.sectionViewportPosition(row) + (height - self._height) // 2
                chosen = selection is not None and selection.isRowSelected(row, root)
                pen = selected if chosen else plain
                painter.setPen(pen)
                for column, x, width in columns:
                    text = cells[column]
                    if not text:
                        continue
                    colour = None if chosen else model.cell_colour(row, column)
                    if colour is not None:
                        painter.setPen(colour)
                    key = (text, width)
                    shown = texts.get(key)
                    if shown is None:  # never seen: elided if it must be, and kept
                        shown = metrics.elidedText(text, _ELIDE, width)
                        texts.put(key, shown)
                    left = x
                    if column in right:
                        left += width - metrics.horizontalAdvance(shown)
                    painter.drawText(QPointF(left, top + ascent), shown)
                    if colour is not None:
                        painter.setPen(pen)
        finally:
            painter.end()
