"""How the register's cells are painted: backgrounds in a few calls, one pass for the texts.

Qt's item delegate asks the model for a cell role by role and lays its text out
twice per paint (once to elide it, once to draw it), and every call into
Python costs microseconds per cell. Scrolling 100,000 cases, that paint was
about half of what the user waits for a window of rows (docs/performance.md).
So the register's table paints in two parts:

* :class:`PlainCells` paints, with the styles whose item views it knows
  (Fusion, Windows), the cells that are neither selected nor the focused
  current cell: all the style draws there is the alternate rows' colour, and
  the table draws its grid. That is a fill per row and a line per row and
  column, where Qt asks the model for an index, its flags and its selection
  and calls the delegate, cell by cell (a Python call each);
* :class:`CellBackground`, Qt's own delegate told nothing about the cell's
  data, draws what the style draws for the rest (every cell, with another
  style): the background (alternating rows, selection, hover) and the focus
  frame;
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

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRect,
    Qt,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QPainter,
    QPaintEvent,
    QPalette,
    QRegion,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView

ModelIndex = QModelIndex | QPersistentModelIndex

_FOCUS_MARGIN = QStyle.PixelMetric.PM_FocusFrameHMargin
_TEXT, _HIGHLIGHTED_TEXT = QPalette.ColorRole.Text, QPalette.ColorRole.HighlightedText
_ALTERNATE_BASE = QPalette.ColorRole.AlternateBase
_GRID_COLOUR = QStyle.StyleHint.SH_Table_GridLineColor
# Styles whose item views draw nothing on a cell that is neither selected nor focused
# but the alternate rows' colour (QCommonStyle's PE_PanelItemViewRow and item panel).
PLAIN_STYLES = frozenset({"fusion", "windows"})
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

    def row_colours(self, row: int) -> dict[int, QColor] | None: ...

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


def colour_group(table: QTableView) -> QPalette.ColorGroup:
    """The palette's group Qt's item views paint with: Normal in the active window when
    the view has focus (they clear State_Active otherwise), Disabled when disabled."""
    if not table.isEnabled():
        return _DISABLED
    return _NORMAL if table.isActiveWindow() and table.hasFocus() else _INACTIVE


def selected_rows(table: QTableView) -> tuple[set[int], set[int]]:
    """The rows with every column selected, and the rows with only some, from the
    selection's ranges (one pass, where ``isRowSelected`` asks the model per row)."""
    whole: set[int] = set()
    part: set[int] = set()
    selection = table.selectionModel()
    if selection is None:
        return whole, part
    last_column = table.horizontalHeader().count() - 1
    for span in selection.selection():
        rows = range(span.top(), span.bottom() + 1)
        (whole if span.left() <= 0 and span.right() >= last_column else part).update(rows)
    return whole, part


class PlainCells:
    """Paints a table's plain cells: alternate rows' colour and grid, as Qt would.

    Called with the table's paint event; returns the part of it still to be
    painted by Qt (the selected rows and the focused current cell, or all of it
    with a style not in :data:`PLAIN_STYLES`, right to left, hidden rows or
    a translucent or dashed grid). What it paints is what ``QTableView.paintEvent`` and
    the style paint there, pixel for pixel (tested).
    """

    def __init__(self, table: QTableView) -> None:
        self._table = table

    def __call__(self, event: QPaintEvent) -> QRegion:
        table = self._table
        region = event.region()
        vertical, header = table.verticalHeader(), table.horizontalHeader()
        if (
            table.style().name().lower() not in PLAIN_STYLES
            or table.isRightToLeft()
            or vertical.sectionsHidden()
            or header.sectionsHidden()
            or header.count() == 0
            or vertical.count() == 0
        ):
            return region
        option = QStyleOptionViewItem()
        option.initFrom(table)
        grid = QColor.fromRgba(table.style().styleHint(_GRID_COLOUR, option, table) & 0xFFFFFFFF)
        if grid.alpha() != 255 or table.gridStyle() != Qt.PenStyle.SolidLine:
            # Lines over a filled row would blend; a dashed line's dashes start where Qt
            # starts the line (the whole dirty area), not where a plain part starts.
            return region
        viewport = table.viewport()
        special = QRegion()
        whole, part = selected_rows(table)
        for row in whole | part:  # any selected cell: Qt paints the row
            special += QRect(
                0, table.rowViewportPosition(row), viewport.width(), table.rowHeight(row)
            )
        current = table.currentIndex()
        if current.isValid() and (table.hasFocus() or viewport.hasFocus()):
            special += table.visualRect(current).adjusted(0, 0, 1, 1)  # with its grid
        plain = region - special
        if plain.isEmpty():
            return special & region
        self._paint(plain, grid)
        return special & region

    def _paint(self, plain: QRegion, grid: QColor) -> None:
        table = self._table
        vertical, header = table.verticalHeader(), table.horizontalHeader()
        show_grid = table.showGrid()
        gap = 1 if show_grid else 0
        # Where Qt stops painting: the last row's and column's far edges.
        right = header.length() - header.offset() - 1
        bottom = vertical.length() - vertical.offset() - 1
        alternate = table.alternatingRowColors()
        brush = table.palette().brush(colour_group(table), _ALTERNATE_BASE)
        fill = brush if alternate else None
        lines = grid if show_grid else None
        painter = QPainter(table.viewport())
        if not painter.isActive():
            return
        try:
            painter.setClipRegion(plain)
            for area in plain:
                area.setBottom(min(area.bottom(), bottom))
                area.setRight(min(area.right(), right))
                if area.isValid():
                    self._paint_area(painter, area, gap, fill, lines)
        finally:
            painter.end()

    def _paint_area(
        self, painter: QPainter, area: QRect, gap: int, brush: QBrush | None, colour: QColor | None
    ) -> None:
        """One rectangle of the plain region: the odd rows' fill (``brush``), then the grid
        (in ``colour``), both as ``QTableView.paintEvent`` draws them."""
        table = self._table
        vertical, header = table.verticalHeader(), table.horizontalHeader()
        top, last = vertical.visualIndexAt(area.top()), vertical.visualIndexAt(area.bottom())
        if last == -1:
            last = vertical.count() - 1
        if top == -1 or top > last:
            return
        rows = range(top, last + 1)  # no hidden rows: visual and logical are the same
        spans = [(table.rowViewportPosition(r), table.rowHeight(r) - gap) for r in rows]
        if brush is not None:
            for row, (y, height) in zip(rows, spans, strict=True):
                if row & 1:
                    painter.fillRect(QRect(area.left(), y, area.width(), height), brush)
        if colour is None:
            return
        left, right = header.visualIndexAt(area.left()), header.visualIndexAt(area.right())
        left = 0 if left == -1 else left
        right = header.count() - 1 if right == -1 else right
        # The solid one-pixel lines Qt strokes, as one-pixel rectangles: the same pixels,
        # filled in a sixth of the time (36 lines of a 1200 x 720 view: 37 vs 245 us).
        for y, h in spans:
            painter.fillRect(QRect(area.left(), y + h, area.width(), 1), colour)
        for visual in range(left, right + 1):
            column = header.logicalIndex(visual)
            x = table.columnViewportPosition(column) + table.columnWidth(column) - gap
            painter.fillRect(QRect(x, area.top(), 1, area.height()), colour)


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
        group = colour_group(table)
        palette = table.palette()
        plain, selected = palette.color(group, _TEXT), palette.color(group, _HIGHLIGHTED_TEXT)
        selection, root = table.selectionModel(), table.rootIndex()
        # The selected rows once, not isRowSelected a row (which asks the model's counts).
        whole, part = selected_rows(table)
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
                chosen = row in whole or (
                    row in part and selection is not None and selection.isRowSelected(row, root)
                )
                pen = selected if chosen else plain
                painter.setPen(pen)
                colours = None if chosen else model.row_colours(row)
                for column, x, width in columns:
                    text = cells[column]
                    if not text:
                        continue
                    colour = None if colours is None else colours.get(column)
                    if colour is not None:
                        painter.setPen(colour)
                    key = (text, width)
                    shown = texts.get(key)
                    if shown is None:  # never seen: elided if it must be, and kept
                        # Measuring is half the cost of eliding, and most texts fit.
                        fits = metrics.horizontalAdvance(text) <= width
                        shown = text if fits else metrics.elidedText(text, _ELIDE, width)
                        texts.put(key, shown)
                    left = x
                    if column in right:
                        left += width - metrics.horizontalAdvance(shown)
                    painter.drawText(QPointF(left, top + ascent), shown)
                    if colour is not None:
                        painter.setPen(pen)
        finally:
            painter.end()
