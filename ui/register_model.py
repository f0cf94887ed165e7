"""The case register as a sparse, lazily fetched table model.

The model never holds all cases. It starts like a plain lazy model: the first
keyset window arrives from a background worker and further windows are
appended by ``fetchMore``. Once it is told how many cases match
(:meth:`RegisterModel.set_total`, from the controller's count), it has that
many rows, most of them not yet fetched. A row that a view asks for and that
is not there yet is queued; the queue is turned into one window fetched in
the background from the nearest fetched row: forwards from the row before the
gap, backwards (the reversed order) from the row after it or from the end,
or, far from both, by skipping in the index first. So Ctrl+End fetches only
the last window, and the rows arrive as ``dataChanged``, not as inserts.

A filter change resets the model and bumps a generation counter, so a window
still on its way for the old filter is dropped when it arrives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QWidget

from services.errors import FokusError
from services.register import WINDOW, RegisterKey, RegisterRow, RegisterSort
from services.search import RegisterFilter
from ui.register_view import RegisterTable
from ui.worker import Runner

log = logging.getLogger(__name__)

ModelIndex = QModelIndex | QPersistentModelIndex


COL_NUMBER, COL_APPLICANT, COL_PID, COL_HOUSEHOLD, COL_STATUS = range(5)
COL_CASEWORKER, COL_MONTHS, COL_FLAGS = range(5, 8)

HEADERS = (
    QT_TRANSLATE_NOOP("RegisterModel", "Ärendenummer"),
    QT_TRANSLATE_NOOP("RegisterModel", "Sökande"),
    QT_TRANSLATE_NOOP("RegisterModel", "Personnummer"),
    QT_TRANSLATE_NOOP("RegisterModel", "Hushåll"),
    QT_TRANSLATE_NOOP("RegisterModel", "Status"),
    QT_TRANSLATE_NOOP("RegisterModel", "Handläggare"),
    QT_TRANSLATE_NOOP("RegisterModel", "Mån. i år"),
    QT_TRANSLATE_NOOP("RegisterModel", "Markeringar"),
)
HEADER_TIPS = {
    COL_HOUSEHOLD: QT_TRANSLATE_NOOP("RegisterModel", "Vuxna + barn i hushållet i dag"),
    COL_MONTHS: QT_TRANSLATE_NOOP("RegisterModel", "Månader med utbetalt stöd i år"),
    COL_FLAGS: QT_TRANSLATE_NOOP(
        "RegisterModel",
        "skyddad = skyddade personuppgifter; långvarig = stöd minst 10 månader "
        "förra eller detta kalenderår",
    ),
}
PROTECTED_TIP = QT_TRANSLATE_NOOP(
    "RegisterModel", "Skyddade personuppgifter: adressen visas aldrig i listor"
)
PROTECTED_COLOUR = QColor("#8a1c1c")

ROW_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

# Roles as plain values: compared and returned thousands of times per window.
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_HORIZONTAL = Qt.Orientation.Horizontal
_ROW = int(ROW_ROLE)
_SORT = int(SORT_ROLE)
_RIGHT = (Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value
_ANSWERED = frozenset((_DISPLAY, _ALIGNMENT, _FOREGROUND, _TOOLTIP, _ROW, _SORT))  # see _value


@cache
def _protected_brush() -> QBrush:
    return QBrush(PROTECTED_COLOUR)


def _tr(text: str) -> str:
    return QCoreApplication.translate("RegisterModel", text)


def _cell(row: RegisterRow, col: int) -> str | None:
    """The text of one cell of ``row``."""
    if col == COL_NUMBER:
        return row.case_number
    if col == COL_APPLICANT:
        return row.applicant_name
    if col == COL_PID:
        return row.personal_id
    if col == COL_HOUSEHOLD:
        return f"{row.adults} + {row.children}"
    if col == COL_STATUS:
        return row.status_label
    if col == COL_CASEWORKER:
        return row.caseworker_name
    if col == COL_MONTHS:
        return str(row.months_this_year)
    if col == COL_FLAGS:
        return ", ".join(row.flags)
    return None


def _cells(row: RegisterRow) -> tuple[str, ...]:
    """Every cell's text of ``row`` (made in the worker, with the window)."""
    return tuple(_cell(row, col) or "" for col in range(len(HEADERS)))


_PROTECTED_COLOURS = {COL_FLAGS: PROTECTED_COLOUR}


class WindowSource(Protocol):
    """What the model needs from :class:`services.register.RegisterService`."""

    def window(
        self,
        flt: RegisterFilter,
        after_key: RegisterKey | None = None,
        limit: int = WINDOW,
        *,
        descending: bool = False,
        skip: int = 0,
        sort: RegisterSort = RegisterSort.NUMBER,
    ) -> list[RegisterRow]: ...


class _Gone:
    """A row that a window should have filled and did not (the cases changed meanwhile)."""


_GONE = _Gone()
# Rows fetched for what a view shows once the register is counted (scrolling, Ctrl+End,
# a jump): two screens of the view, and at least this many rows. A window's cost
# grows with its rows (each row is a few index seeks, and the worker makes its row and
# texts), and the user waits for the one that holds the rows on screen; the first
# window of a filter, shown as the register opens, is ``WINDOW`` rows. Measured at
# 100,000 cases (docs/performance.md): SQLite 3.8 -> 1.6 ms a window for 100 -> 50 rows.
SCROLL_WINDOW = 50
_WANTED_MAX = 400  # rows asked for and not yet fetched; older requests are forgotten


@dataclass(frozen=True)
class _Fetch:
    """One planned window: where its rows go and how to ask for them."""

    start: int  # the model row of the first case in register order
    after: RegisterKey | None
    limit: int
    backwards: bool  # asked for in the reversed order, from the row after the gap
    skip: int
    append: bool  # the plain lazy mode (no total known yet): the rows are inserted


class RegisterModel(QAbstractTableModel):
    """Read-only register rows, fetched a keyset window at a time in the background."""

    window_loaded = Signal(int)  # rows filled or added by one window
    load_failed = Signal(str)

    def __init__(
        self,
        *,
        source: WindowSource,
        runner: Runner,
        window: int = WINDOW,
        scroll_window: int = SCROLL_WINDOW,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._runner = runner
        self._window = window
        self._scroll_window = scroll_window
        self._shown = 0  # rows the view last said it shows (request_rows): a window holds two
        self._rows: list[RegisterRow | _Gone | None] = []
        # Each fetched row's 8 cell texts, made in the worker with the window: painting
        # then only indexes a tuple (None where ``_rows`` holds no RegisterRow).
        self._cells: list[tuple[str, ...] | None] = []
        self._loaded: list[list[int]] = []  # sorted, disjoint [start, end) runs of fetched rows
        self._filter = RegisterFilter()
        self._descending = True  # newest case first
        self._sort = RegisterSort.NUMBER
        self._generation = 0
        self._pending = False
        self._total: int | None = None  # matching cases, once told
        self._first_full = False  # the first window was a whole window: there may be more
        self._exhausted = True  # nothing to fetch until a filter is set
        self._wanted: dict[int, None] = {}  # rows a view asked for, oldest first
        self._headers = [_tr(h) for h in HEADERS]
        self._plan_timer = QTimer(self)
        self._plan_timer.setSingleShot(True)
        self._plan_timer.setInterval(0)  # after the paint that asked: one window for all of it
        self._plan_timer.timeout.connect(self._fetch_wanted)

    # --- state
    @property
    def current_filter(self) -> RegisterFilter:
        return self._filter

    @property
    def loading(self) -> bool:
        """A window is on its way, or rows a view asked for wait for one."""
        return self._pending or bool(self._wanted)

    @property
    def exhausted(self) -> bool:
        """Every matching case has been fetched (nothing more to ask for)."""
        return self._exhausted

    @property
    def total(self) -> int | None:
        """The number of matching cases, once known (then it is the row count)."""
        return self._total

    @property
    def descending(self) -> bool:
        return self._descending

    @property
    def sort(self) -> RegisterSort:
        return self._sort

    def row_at(self, row: int) -> RegisterRow | None:
        """The case on ``row``, or None while it has not been fetched."""
        value = self._rows[row]
        return value if isinstance(value, RegisterRow) else None

    def is_loaded(self, row: int) -> bool:
        return 0 <= row < len(self._rows) and self._rows[row] is not None

    def first_missing(self, start: int = 0) -> int | None:
        """The first row at or after ``start`` that has not been fetched, or None."""
        row = start
        for begin, end in self._loaded:
            if end <= row:
                continue
            if begin > row:
                break
            row = end
        return row if row < len(self._rows) else None

    def set_filter(
        self,
        flt: RegisterFilter,
        *,
        descending: bool | None = None,
        sort: RegisterSort | None = None,
        total: int | None = None,
    ) -> None:
        """Forget every row and start fetching the first window for ``flt``.

        ``descending`` and ``sort`` (the order, in SQL) are kept when not given. ``total``:
        the number of matching cases when already known (a new order of the
        same filter), else it comes later through :meth:`set_total`.
        """
        # A model without rows has nothing for a view to forget: no reset, which would
        # make the header lay its sections out again (most of an opening's header work).
        empty = not self._rows
        if not empty:
            self.beginResetModel()
        self._filter = flt
        if descending is not None:
            self._descending = descending
        if sort is not None:
            self._sort = sort
        self._rows = []
        self._cells = []
        self._loaded = []
        self._wanted.clear()
        self._plan_timer.stop()
        self._generation += 1
        self._pending = False
        self._total = total
        self._first_full = False
        self._exhausted = False
        if not empty:
            self.endResetModel()
        self._start(_Fetch(0, None, self._window, False, 0, append=True))

    def refresh(self) -> None:
        self.set_filter(self._filter)

    def set_total(self, flt: RegisterFilter, total: int) -> None:
        """``total`` cases match ``flt``: from now on the model has that many rows."""
        if flt != self._filter or self._total is not None:
            return  # a count for another filter, or already known
        self._total = total
        self._extend_to_total()

    def has_missing(self, first: int, last: int) -> bool:
        """Some row in ``first``..``last`` has not been fetched (nor asked for in vain)."""
        return None in self._rows[max(first, 0) : last + 1]

    def request_rows(self, first: int, last: int, *, now: bool = False) -> None:
        """Fetch rows ``first``..``last`` if they are not there (as a view's paint does).

        ``now``: start the window at once instead of after the events in hand (a
        paint asks cell by cell and its requests are gathered into one window; a
        caller that knows the whole range needs no gathering)."""
        self._shown = max(last - first + 1, 0)
        for row in range(max(first, 0), min(last, len(self._rows) - 1) + 1):
            if self._rows[row] is None:
                self._want(row)
        middle = (first + last) // 2
        if 0 <= middle < len(self._rows) and self._rows[middle] is None:
            self._want(middle)  # the window is planned around the latest request: the middle
        if now and self._plan_timer.isActive():
            self._plan_timer.stop()
            self._fetch_wanted()

    # --- fetching
    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008, N802
        """Only in the plain lazy mode (before the total is known): append a window."""
        return (
            not parent.isValid()
            and self._total is None
            and self._first_full
            and not self._exhausted
            and not self._pending
        )

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008, N802
        if not self.canFetchMore(parent):
            return
        last = self._rows[-1]
        assert isinstance(last, RegisterRow)
        self._start(_Fetch(len(self._rows), last.key, self._window, False, 0, append=True))

    def _want(self, row: int) -> None:
        self._wanted.pop(row, None)
        self._wanted[row] = None  # the newest request last
        if len(self._wanted) > _WANTED_MAX:
            del self._wanted[next(iter(self._wanted))]
        if not self._pending and not self._plan_timer.isActive():
            self._plan_timer.start()

    def _fetch_wanted(self) -> None:
        if self._pending:
            return
        while self._wanted:
            row = next(reversed(self._wanted))  # the latest request: where the user is now
            del self._wanted[row]
            if row < len(self._rows) and self._rows[row] is None:
                self._start(self._plan(row))
                return
        self.window_loaded.emit(0)  # nothing left to fetch: no longer loading

    def _plan(self, row: int) -> _Fetch:
        """The window that fills the gap around ``row`` from the nearest fetched row."""
        n, w = len(self._rows), max(self._scroll_window, 2 * self._shown)
        gap_start, gap_end = 0, n
        for begin, end in self._loaded:
            if end <= row:
                gap_start = end
            elif begin > row:
                gap_end = begin
                break
        before = self._key(gap_start - 1)
        after = self._key(gap_end) if gap_end < n else None
        if before is not None and row - gap_start < w:
            return _Fetch(gap_start, before, min(w, gap_end - gap_start), False, 0, False)
        if gap_end - row <= w:
            limit = min(w, gap_end - gap_start)
            return _Fetch(gap_end - limit, after, limit, True, 0, False)
        # Far from both ends of the gap (a jump into the middle): skip in the index.
        start = max(gap_start, row - w // 2)
        limit = min(w, gap_end - start)
        forward_skip, backward_skip = start - gap_start, gap_end - (start + limit)
        if forward_skip <= backward_skip:
            return _Fetch(start, before, limit, False, forward_skip, False)
        return _Fetch(start, after, limit, True, backward_skip, False)

    def _key(self, row: int) -> RegisterKey | None:
        value = self._rows[row] if 0 <= row < len(self._rows) else None
        return value.key if isinstance(value, RegisterRow) else None

    def _start(self, fetch: _Fetch) -> None:
        self._pending = True
        generation = self._generation
        flt = self._filter
        descending = self._descending != fetch.backwards
        sort = self._sort

        def work() -> tuple[list[RegisterRow], list[tuple[str, ...]]]:
            rows = self._source.window(
                flt, fetch.after, fetch.limit, descending=descending, skip=fetch.skip, sort=sort
            )
            return rows, [_cells(r) for r in rows]

        self._runner.run(
            work,
            on_done=lambda result: self._on_window(generation, fetch, *result),
            on_error=lambda exc: self._on_error(generation, exc),
            owner=self,
        )

    def _on_window(
        self,
        generation: int,
        fetch: _Fetch,
        rows: list[RegisterRow],
        cells: list[tuple[str, ...]],
    ) -> None:
        if generation != self._generation:
            return
        # Still "pending" while the insert signals run: a fetchMore called from a
        # slot (a view, a model tester) must not start a window after the old last row.
        if fetch.append:
            self._append(fetch, rows, cells)
        else:
            self._fill(fetch, rows, cells)
        self._pending = False
        self._exhausted = self._total is not None and self.first_missing() is None
        # Rows asked for that this window brought are no longer wanted: ``loading`` is
        # then already false for whoever waits on this signal.
        self._wanted = {r: None for r in self._wanted if self._rows[r] is None}
        self.window_loaded.emit(len(rows))
        if self._wanted:
            self._plan_timer.start()

    def _append(self, fetch: _Fetch, rows: list[RegisterRow], cells: list[tuple[str, ...]]) -> None:
        """A window in the plain lazy mode (or the first): insert what is new, fill the rest."""
        if fetch.start == 0:
            self._first_full = len(rows) >= self._window
        start, n = fetch.start, len(self._rows)
        inside = rows[: max(n - start, 0)]
        if inside:  # the total arrived meanwhile: these rows are already placeholders
            self._fill(_Fetch(start, None, len(inside), False, 0, False), inside, cells)
        extra = rows[len(inside) :]
        if extra:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(extra) - 1)
            self._rows.extend(extra)
            self._cells.extend(cells[len(inside) :])
            self._mark_loaded(first, first + len(extra))
            self.endInsertRows()
        if len(rows) < fetch.limit and self._total is None:
            self._total = len(self._rows)  # the last window: every case is here
        self._extend_to_total()

    def _fill(self, fetch: _Fetch, rows: list[RegisterRow], cells: list[tuple[str, ...]]) -> None:
        """Rows for placeholders; a short window leaves the rest of its range empty."""
        if fetch.backwards:
            rows, cells = rows[::-1], cells[::-1]
            start = fetch.start + fetch.limit - len(rows)
        else:
            start = fetch.start
        end = min(fetch.start + fetch.limit, len(self._rows))
        for i in range(fetch.start, end):
            self._rows[i] = _GONE  # kept if no row comes for it: never asked for again
            self._cells[i] = None
        n = min(max(end - start, 0), len(rows))  # a slice of exactly n: the list keeps its length
        self._rows[start : start + n] = rows[:n]
        self._cells[start : start + n] = cells[:n]
        self._mark_loaded(fetch.start, end)
        if end > fetch.start:
            last = self.columnCount() - 1
            self.dataChanged.emit(self.index(fetch.start, 0), self.index(end - 1, last))

    def _extend_to_total(self) -> None:
        """Placeholders up to the total, once both it and a whole first window are known."""
        if self._total is None or not self._first_full:
            return
        n = len(self._rows)
        if self._total > n:
            self.beginInsertRows(QModelIndex(), n, self._total - 1)
            self._rows.extend([None] * (self._total - n))
            self._cells.extend([None] * (self._total - n))
            self.endInsertRows()
        else:
            self._total = n  # the count is older than the rows (cases added since)
        self._exhausted = self.first_missing() is None

    def _mark_loaded(self, start: int, end: int) -> None:
        if end <= start:
            return
        runs = [*self._loaded, [start, end]]
        runs.sort()
        merged: list[list[int]] = []
        for begin, stop in runs:
            if merged and begin <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], stop)
            else:
                merged.append([begin, stop])
        self._loaded = merged

    def _on_error(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._pending = False
            self._exhausted = True
            self._wanted.clear()
        if not isinstance(exc, FokusError):
            raise exc  # a bug: to the crash handler (or the failing test)
        if generation == self._generation:
            self.load_failed.emit(exc.message)

    # --- QAbstractTableModel
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        # Asked for about 200 times as a window opens (the header's size and paint, role
        # by role): plain ints first, the texts translated once.
        if role == _DISPLAY:
            if orientation == _HORIZONTAL and 0 <= section < len(self._headers):
                return self._headers[section]
            return None
        if role == _TOOLTIP and orientation == _HORIZONTAL and section in HEADER_TIPS:
            return _tr(HEADER_TIPS[section])
        return None

    # flags(): Qt's own (enabled, selectable, no children), with no Python call per cell.

    # A cell painted by Qt's delegate asks for 7 roles (font, alignment, colours, check
    # state, icon, text): thousands of calls per window, so both paths below compare
    # plain ints and return early for rows not fetched yet. An invalid index has row -1.
    # The register's own table paints without them (ui.register_delegate: cell_texts).
    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        r = index.row()
        if not 0 <= r < len(self._rows):
            return None
        row = self._rows[r]
        if row.__class__ is not RegisterRow:
            if row is None and role == _DISPLAY:
                self._want(r)  # shown but not fetched: fetch it
            return None
        return self._value(row, index.column(), role)  # type: ignore[arg-type]

    def multiData(self, index: ModelIndex, roleDataSpan: QModelRoleDataSpan) -> None:  # noqa: N802, N803
        """Every role a delegate asks for in one call (Qt's default calls :meth:`data` per
        role); the same values as :meth:`data`, the text from the row's cells.

        The delegate reuses its slots from cell to cell, so a role this model may have
        set for an earlier cell (text, alignment, colour) is cleared when this cell has
        none. A role it never sets (font, check state, icon, background) stays empty
        and is left alone: the span is the delegate's, written only here."""
        r = index.row()
        cells = self._cells[r] if 0 <= r < len(self._cells) else None
        if cells is None:
            if 0 <= r < len(self._rows) and self._rows[r] is None:
                self._want(r)  # shown but not fetched: fetch it
            for slot in roleDataSpan:
                if slot.role() in _ANSWERED:
                    slot.clearData()
            return
        col = index.column()
        for slot in roleDataSpan:
            role = slot.role()
            if role == _DISPLAY:
                slot.setData(cells[col])
            elif role == _ALIGNMENT:
                if col == COL_MONTHS:
                    slot.setData(_RIGHT)
                else:
                    slot.clearData()
            elif role in _ANSWERED:
                value = self._value(self._rows[r], col, role)  # type: ignore[arg-type]
                if value is None:
                    slot.clearData()
                else:
                    slot.setData(value)

    # --- for the register's delegate (ui.register_delegate): a cell as it is painted
    def cell_texts(self, row: int) -> tuple[str, ...] | None:
        """Every cell text of ``row``; None while it is not fetched (it is then asked for)."""
        cells = self._cells[row] if 0 <= row < len(self._cells) else None
        if cells is None and 0 <= row < len(self._rows) and self._rows[row] is None:
            self._want(row)  # shown but not fetched: fetch it
        return cells

    def row_colours(self, row: int) -> dict[int, QColor] | None:
        """The text colours of ``row``'s cells that are not the view's, by column (a
        protected person's flags); None for none, as for most rows."""
        value = self._rows[row] if 0 <= row < len(self._rows) else None
        if isinstance(value, RegisterRow) and value.protected:
            return _PROTECTED_COLOURS
        return None

    @staticmethod
    def right_aligned(column: int) -> bool:
        return column == COL_MONTHS

    def _value(self, row: RegisterRow, col: int, role: int) -> Any:
        if role == _DISPLAY:
            return _cell(row, col)
        if role == _ALIGNMENT:
            return _RIGHT if col == COL_MONTHS else None
        if role == _FOREGROUND:
            return _protected_brush() if row.protected and col == COL_FLAGS else None
        if role == _ROW:
            return row
        if role == _SORT:
            return self._sort_value(row, col)
        if role == _TOOLTIP and row.protected:
            return _tr(PROTECTED_TIP)
        return None

    @staticmethod
    def _sort_value(row: RegisterRow, col: int) -> Any:
        if col == COL_NUMBER:
            return row.key[0] * 1_000_000 + row.key[1]
        if col == COL_HOUSEHOLD:
            return row.adults + row.children
        if col == COL_MONTHS:
            return row.months_this_year
        return _cell(row, col)


HOLD_MS = 60  # longest a scrolled table keeps its last picture while its rows are fetched
FIRST_HOLD_MS = 100  # longest a new window waits for the register's first rows to paint


class PaintHold(QObject):
    """Scrolling onto rows not fetched yet: ask for them at once, and let the table keep
    its last picture until they are there (at most ``hold_ms``), so they are painted once.

    Without it the table paints the rows empty, the window is fetched, and the same
    rows are painted again: a whole extra paint on the GUI thread, which the worker
    waits for (one thread runs Python at a time), between the scroll and the rows.
    The hold starts before the table moves its rows (``about_to_scroll``), as a
    disabled viewport neither scrolls its picture nor paints. A fetch that takes
    longer than ``hold_ms`` (a slow server) shows the empty rows as before, until
    they arrive. A filter change, an error or a reset ends the hold.
    """

    def __init__(self, view: RegisterTable, model: RegisterModel, hold_ms: int = HOLD_MS) -> None:
        super().__init__(view)
        self._view = view
        self._model = model
        self._rows: tuple[int, int] = (0, -1)
        self.held = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(hold_ms)
        self._timer.timeout.connect(self.release)
        view.about_to_scroll.connect(self._on_scroll)
        model.window_loaded.connect(self._on_window)
        model.modelAboutToBeReset.connect(self.release)
        model.load_failed.connect(self.release)

    def set_limit(self, ms: int) -> None:
        """The longest the table keeps its picture while its rows are fetched."""
        self._timer.setInterval(ms)

    def _on_scroll(self, first: int, last: int) -> None:
        if not self._model.has_missing(first, last):
            return
        self._rows = (first, last)
        self._model.request_rows(first, last, now=True)
        if not self.held:
            self.held = True
            self._view.viewport().setUpdatesEnabled(False)
            self._timer.start()

    def _on_window(self, _rows: int) -> None:
        if self.held and not self._model.has_missing(*self._rows):
            self.release()

    def release(self) -> None:
        """Paint again (now, with whatever rows are there)."""
        self._timer.stop()
        if self.held:
            self.held = False
            self._view.viewport().setUpdatesEnabled(True)  # repaints the whole viewport


class FirstPicture(QObject):
    """A window showing the register is first painted with its first rows in it.

    Shown before they arrive, the window would be painted whole with an empty
    table, and then the table again with the rows: an extra paint and flush on
    the GUI thread, which the worker fetching the rows waits for (one thread runs
    Python at a time). Updates of ``window`` stay off until the model's first
    window (or its error) arrives, at most ``hold_ms``; a slower database shows
    the empty register, as before, until the rows come.
    """

    def __init__(self, window: QWidget, model: RegisterModel, hold_ms: int = FIRST_HOLD_MS) -> None:
        super().__init__(window)
        self._window = window
        self.held = model.loading
        if not self.held:
            return
        window.setUpdatesEnabled(False)
        self._model = model
        QTimer.singleShot(hold_ms, self, self.release)
        model.window_loaded.connect(self.release)
        model.load_failed.connect(self.release)

    def release(self) -> None:
        """Paint (now, with whatever rows are there); only once."""
        if not self.held:
            return
        self.held = False
        self._model.window_loaded.disconnect(self.release)
        self._model.load_failed.disconnect(self.release)
        self._window.setUpdatesEnabled(True)  # paints the whole window
