"""How the register's cells are painted: the style's background, the texts made once.

Qt's own delegate asks the model for a cell role by role and lays its text out
twice per paint (once to elide it, once to draw it). Scrolling 100,000 cases,
that paint was about half of what the user waits for a window of rows
(docs/performance.md). This delegate takes a cell's text straight from the
texts the worker made with the window (:meth:`RegisterModel.cell_texts
<ui.register_model.RegisterModel.cell_texts>`), and:

* a text only ever seen in one row (a name, a personnummer, a case number) is
  elided once if it must be and drawn directly, however often it is painted;
* a text seen in a second row (a status, a household, the months, the flags, a
  caseworker) is drawn from then on from a :class:`QStaticText` laid out once
  and kept (:class:`TextCache`).

Laying a text out costs more than drawing it once, so only texts that repeat
across rows are laid out: painting a screen of search results again (as a
search's first rows, then its count, arrive) lays out nothing new.

What it draws is what Qt's item delegate draws for these cells, pixel for pixel
where the text fits (tested): the style's item background (alternating rows,
selection, hover), the text in the Text or HighlightedText colour of the
state's colour group (red in a protected person's flags cell), vertically
centred, the style's text margin, the months right-aligned, a text too wide
elided at the right, and the focus frame.
"""

from __future__ import annotations

import math
from typing import Protocol

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QPointF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPalette, QStaticText, QTransform
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionFocusRect,
    QStyleOptionViewItem,
)

ModelIndex = QModelIndex | QPersistentModelIndex

# State flags as plain ints: enum arithmetic in Python costs microseconds per cell.
_SELECTED = QStyle.StateFlag.State_Selected.value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_ACTIVE = QStyle.StateFlag.State_Active.value
_HAS_FOCUS = QStyle.StateFlag.State_HasFocus.value
_FOCUS_STATE = QStyle.StateFlag.State_KeyboardFocusChange | QStyle.StateFlag.State_Item
_PEN_STATE = _SELECTED | _ENABLED | _ACTIVE  # what a text's colour depends on
_PANEL = QStyle.PrimitiveElement.PE_PanelItemViewItem
_FOCUS = QStyle.PrimitiveElement.PE_FrameFocusRect
_FOCUS_MARGIN = QStyle.PixelMetric.PM_FocusFrameHMargin
_TEXT, _HIGHLIGHTED_TEXT = QPalette.ColorRole.Text, QPalette.ColorRole.HighlightedText
_HIGHLIGHT, _WINDOW = QPalette.ColorRole.Highlight, QPalette.ColorRole.Window
_NORMAL, _INACTIVE, _DISABLED = (
    QPalette.ColorGroup.Normal,
    QPalette.ColorGroup.Inactive,
    QPalette.ColorGroup.Disabled,
)
_ELIDE = Qt.TextElideMode.ElideRight
_FORGETTING = (QEvent.Type.FontChange, QEvent.Type.StyleChange, QEvent.Type.PaletteChange)

# Texts kept laid out: every repeated one, and a few screens of the rest. When the
# newer generation is full the older is dropped (TextCache).
CACHE_TEXTS = 2000


class CellTexts(Protocol):
    """What the delegate needs from :class:`ui.register_model.RegisterModel`."""

    def cell_texts(self, row: int) -> tuple[str, ...] | None: ...

    def cell_colour(self, row: int, column: int) -> QColor | None: ...

    def right_aligned(self, column: int) -> bool: ...


_Key = tuple[str, int]  # a text and the width it is shown in
_Once = tuple[str, int]  # a text not laid out: as shown (elided), the first row it was in


class TextCache:
    """Texts by (text, width), elided to fit, in two generations of at most ``limit``.

    An entry is a laid-out :class:`QStaticText`, or a text not laid out (as shown,
    and the row it was first seen in; see :class:`RegisterDelegate`). A lookup
    that finds the older generation moves the entry into the newer; when the
    newer is full it becomes the older. Memory stays bounded, and a lookup needs
    no bookkeeping.
    """

    def __init__(self, limit: int = CACHE_TEXTS) -> None:
        self._limit = max(limit, 1)
        self._new: dict[_Key, QStaticText | _Once] = {}
        self._old: dict[_Key, QStaticText | _Once] = {}

    def __len__(self) -> int:
        return len(self._new) + len(self._old)

    def clear(self) -> None:
        self._new.clear()
        self._old.clear()

    def get(self, key: _Key) -> QStaticText | _Once | None:
        """The laid-out text, a text not laid out (its elided string and the first row it
        was in), or None if unseen."""
        found = self._new.get(key)
        if found is None:
            found = self._old.pop(key, None)
            if found is not None:
                self._put(key, found)
        return found

    def put(self, key: _Key, value: QStaticText | _Once) -> None:
        self._put(key, value)

    def _put(self, key: _Key, value: QStaticText | _Once) -> None:
        if len(self._new) >= self._limit:
            self._old, self._new = self._new, {}
        self._new[key] = value


class RegisterDelegate(QStyledItemDelegate):
    """Paints the cells of one view (its parent) as the module's text says.

    Texts are kept for the view's font and style: a ``FontChange`` or
    ``StyleChange`` of the view forgets them.
    """

    def __init__(self, model: CellTexts, view: QAbstractItemView) -> None:
        super().__init__(view)
        self._model = model
        self._view = view
        self.texts = TextCache()
        self._style: QStyle | None = None
        self._metrics = QFontMetricsF(view.font())
        self._margin = 0
        self._ascent = 0.0
        self._height = 0
        self._right: frozenset[int] = frozenset()  # the right-aligned columns
        self._pens: dict[int, QColor] = {}  # text colours by (selected, enabled, active)
        view.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # Qt may ask before __init__ has set _view (QObject's own events): nothing to forget.
        if watched is getattr(self, "_view", None) and event.type() in _FORGETTING:
            self.texts.clear()
            self._pens.clear()
            self._style = None
        return False

    def _setup(self, option: QStyleOptionViewItem) -> QStyle:
        """Once per font and style: what every cell's text is placed with."""
        widget = option.widget  # type: ignore[attr-defined]
        style: QStyle = widget.style()
        self._style = style
        self._margin = style.pixelMetric(_FOCUS_MARGIN, option, widget) + 1  # as Qt's delegate
        self._metrics = QFontMetricsF(option.font)  # type: ignore[attr-defined]
        self._ascent = self._metrics.ascent()
        self._height = math.ceil(self._ascent + self._metrics.descent())  # as QTextLine's
        model = self._view.model()
        columns = model.columnCount() if model is not None else 0
        self._right = frozenset(c for c in range(columns) if self._model.right_aligned(c))
        self._pens.clear()
        return style

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        widget = option.widget  # type: ignore[attr-defined]
        style = self._style or self._setup(option)
        style.drawPrimitive(_PANEL, option, painter, widget)  # background, selection, hover
        state = option.state.value  # type: ignore[attr-defined]
        row, column = index.row(), index.column()
        cells = self._model.cell_texts(row)  # a row not fetched yet is asked for
        text = cells[column] if cells is not None else ""
        if text:
            x, y, w, h = option.rect.getRect()  # type: ignore[attr-defined]
            margin = self._margin
            width = w - 2 * margin
            colour = None if state & _SELECTED else self._model.cell_colour(row, column)
            if colour is None:
                colour = self._pens.get(state & _PEN_STATE)
                if colour is None:
                    role = _HIGHLIGHTED_TEXT if state & _SELECTED else _TEXT
                    colour = option.palette.color(_colour_group(state), role)  # type: ignore[attr-defined]
                    self._pens[state & _PEN_STATE] = colour
            painter.setPen(colour)
            x += margin
            top = y + (h - self._height) // 2  # as Qt's delegate aligns it
            key = (text, width)
            found = self.texts.get(key)
            if found is None or found.__class__ is tuple:  # not laid out
                if found is None:  # never seen: elided if it must be, drawn directly
                    found = (self._metrics.elidedText(text, _ELIDE, width), row)
                    self.texts.put(key, found)
                shown, first_row = found  # type: ignore[misc]
                if first_row == row:  # only ever in this row (a name): drawn directly
                    if column in self._right:
                        x += width - self._metrics.horizontalAdvance(shown)
                    painter.drawText(QPointF(x, top + self._ascent), shown)
                    return self._focus(painter, option, state)
                found = _static(shown, option.font)  # in another row too: laid out, kept  # type: ignore[attr-defined]
                self.texts.put(key, found)
            if column in self._right:
                x += width - found.size().width()  # type: ignore[union-attr]
            painter.drawStaticText(QPointF(x, top), found)  # type: ignore[arg-type]
        self._focus(painter, option, state)

    def _focus(self, painter: QPainter, option: QStyleOptionViewItem, state: int) -> None:
        """The current cell of a focused view, framed as Qt's delegate frames it."""
        if not state & _HAS_FOCUS:
            return
        widget = option.widget  # type: ignore[attr-defined]
        focus = QStyleOptionFocusRect()
        focus.initFrom(widget)
        focus.rect = option.rect  # type: ignore[attr-defined]
        focus.state = option.state | _FOCUS_STATE  # type: ignore[attr-defined]
        background = _HIGHLIGHT if state & _SELECTED else _WINDOW
        focus.backgroundColor = option.palette.color(_colour_group(state), background)  # type: ignore[attr-defined]
        (self._style or widget.style()).drawPrimitive(_FOCUS, focus, painter, widget)


def _static(text: str, font: object) -> QStaticText:
    static = QStaticText(text)
    static.setTextFormat(Qt.TextFormat.PlainText)
    static.prepare(QTransform(), font)  # type: ignore[arg-type]
    return static


def _colour_group(state: int) -> QPalette.ColorGroup:
    if not state & _ENABLED:
        return _DISABLED
    return _NORMAL if state & _ACTIVE else _INACTIVE
