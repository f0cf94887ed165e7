"""The case register as a lazily fetched table model.

The model holds only the rows fetched so far. ``fetchMore`` asks the
register service, in a background worker, for the next keyset window after
the last row it holds; the rows arrive on the GUI thread and are inserted.
A filter change resets the model and bumps a generation counter, so a window
still on its way for the old filter is dropped when it arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from services.errors import FokusError
from services.register import WINDOW, RegisterKey, RegisterRow
from services.search import RegisterFilter

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


def _tr(text: str) -> str:
    return QCoreApplication.translate("RegisterModel", text)


class WindowSource(Protocol):
    """What the model needs from :class:`services.register.RegisterService`."""

    def window(
        self,
        flt: RegisterFilter,
        after_key: RegisterKey | None = None,
        limit: int = WINDOW,
        *,
        descending: bool = False,
    ) -> list[RegisterRow]: ...


class Runner(Protocol):
    """What the model needs from :class:`ui.worker.BackgroundRunner`."""

    def run(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        owner: Any = None,
    ) -> int: ...


class RegisterModel(QAbstractTableModel):
    """Read-only register rows, fetched a keyset window at a time in the background."""

    window_loaded = Signal(int)  # rows added
    load_failed = Signal(str)

    def __init__(
        self,
        *,
        source: WindowSource,
        runner: Runner,
        window: int = WINDOW,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._runner = runner
        self._window = window
        self._rows: list[RegisterRow] = []
        self._filter = RegisterFilter()
        self._descending = True  # newest case first
        self._generation = 0
        self._pending = False
        self._exhausted = True  # nothing to fetch until a filter is set

    # --- state
    @property
    def current_filter(self) -> RegisterFilter:
        return self._filter

    @property
    def loading(self) -> bool:
        return self._pending

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def row_at(self, row: int) -> RegisterRow:
        return self._rows[row]

    @property
    def descending(self) -> bool:
        return self._descending

    def set_filter(self, flt: RegisterFilter, *, descending: bool | None = None) -> None:
        """Forget every row and start fetching the first window for ``flt``.

        ``descending`` (newest case first) is kept when not given.
        """
        self.beginResetModel()
        self._filter = flt
        if descending is not None:
            self._descending = descending
        self._rows = []
        self._generation += 1
        self._pending = False
        self._exhausted = False
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def refresh(self) -> None:
        self.set_filter(self._filter)

    # --- lazy fetching
    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and not self._exhausted and not self._pending

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008, N802
        if parent.isValid() or self._exhausted or self._pending:
            return
        self._pending = True
        generation = self._generation
        flt = self._filter
        after = self._rows[-1].key if self._rows else None
        limit = self._window
        descending = self._descending
        self._runner.run(
            lambda: self._source.window(flt, after, limit, descending=descending),
            on_done=lambda rows: self._on_window(generation, rows),
            on_error=lambda exc: self._on_error(generation, exc),
            owner=self,
        )

    def _on_window(self, generation: int, rows: list[RegisterRow]) -> None:
        if generation != self._generation:
            return
        # Still "pending" while the insert signals run: a fetchMore called from a
        # slot (a view, a model tester) must not start a window after the old last row.
        if rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self._exhausted = len(rows) < self._window
        self._pending = False
        self.window_loaded.emit(len(rows))

    def _on_error(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._pending = False
            self._exhausted = True
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
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _tr(HEADERS[section])
        if role == Qt.ItemDataRole.ToolTipRole and section in HEADER_TIPS:
            return _tr(HEADER_TIPS[section])
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == ROW_ROLE:
            return row
        if role == SORT_ROLE:
            return self._sort_value(row, col)
        if role == Qt.ItemDataRole.ToolTipRole and row.protected:
            return _tr(PROTECTED_TIP)
        if role == Qt.ItemDataRole.ForegroundRole and row.protected and col == COL_FLAGS:
            return QBrush(PROTECTED_COLOUR)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_MONTHS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: RegisterRow, col: int) -> str | None:
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

    @staticmethod
    def _sort_value(row: RegisterRow, col: int) -> Any:
        if col == COL_NUMBER:
            return row.key[0] * 1_000_000 + row.key[1]
        if col == COL_HOUSEHOLD:
            return row.adults + row.children
        if col == COL_MONTHS:
            return row.months_this_year
        return RegisterModel._display(row, col)
