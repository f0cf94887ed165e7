"""Behaviour of the register: debounced search, quick filters, counts, remembered state.

Typing restarts a 250 ms single-shot timer; when it fires, the model is given
the new filter (its first window loads in the background) and the number of
matching cases is counted in the background too, beside it: the count goes to
the status bar and to the model, which then has a row for every case (see
:mod:`ui.register_model`). Results for an older filter are dropped when they
arrive late.

A search with text is audited once it has settled: when the count for the
filter the debounce applied arrives (the result is shown), one event is
written in the background with the number of cases and the filter names,
never the text. Keystrokes inside the typing pause apply no filter, so they
write nothing; a refresh of the same search writes nothing new.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal

from models.codes import CaseStatus
from services.errors import FokusError
from services.register import RegisterSort
from services.search import RegisterFilter
from ui.register_delegate import CellBackground, PlainCells, RegisterTexts
from ui.register_model import (
    COL_APPLICANT,
    COL_NUMBER,
    COL_PID,
    ROW_ROLE,
    PaintHold,
    RegisterModel,
)
from ui.register_view import RegisterView
from ui.view_state import SavedFilter, ViewState
from ui.worker import Runner

DEBOUNCE_MS = 250
# The longest the count waits for the first rows to be painted (a hidden table is not).
COUNT_AFTER_MS = 50
DEFAULT_WIDTHS = (120, 200, 120, 70, 100, 160, 80)
HEADER_KEY = "register"
# The columns a click on the header sorts by (in SQL, each order walking an index).
SORTABLE = {
    COL_NUMBER: RegisterSort.NUMBER,
    COL_APPLICANT: RegisterSort.APPLICANT,
    COL_PID: RegisterSort.PERSONAL_ID,
}


class CountSource(Protocol):
    def count(self, flt: RegisterFilter) -> int: ...


class SearchAudit(Protocol):
    def record_search(self, flt: RegisterFilter, rows: int) -> None: ...


class RegisterController(QObject):
    """Turns the view's inputs into a :class:`RegisterFilter` for the model and the count."""

    count_started = Signal()  # a new filter is being counted
    count_changed = Signal(int)  # matching cases for the current filter
    count_failed = Signal(str)
    case_activated = Signal(uuid.UUID)  # the case view (a later step) opens from here

    def __init__(
        self,
        *,
        view: RegisterView,
        model: RegisterModel,
        counter: CountSource,
        runner: Runner,
        state: ViewState,
        user_id: uuid.UUID,
        debounce_ms: int = DEBOUNCE_MS,
        auditor: SearchAudit | None = None,
        parent: QObject | None = None,
    ) -> None:
        """``auditor``: where settled searches are audited (None: not audited, e.g. tests)."""
        super().__init__(parent)
        self._view = view
        self._model = model
        self._counter = counter
        self._runner = runner
        self._state = state
        self._user_id = user_id
        self._auditor = auditor
        self._audited: RegisterFilter | None = None  # the last filter a count arrived for
        self._count_generation = 0
        self._count_due: tuple[int, RegisterFilter] | None = None
        self.last_count: int | None = None
        # The restored order, applied with the first filter.
        self._descending: bool | None = None
        self._sort: RegisterSort | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        view.table.setModel(model)
        # Plain cells are painted in a few calls, Qt draws the others without their data,
        # and one pass draws the texts (each elided once): see ui.register_delegate.
        view.table.setItemDelegate(CellBackground(view.table))
        view.table.paint_plain = PlainCells(view.table)
        self.texts = RegisterTexts(model, view.table)
        view.table.paint_texts = self.texts.paint
        self.paint_hold = PaintHold(view.table, model)
        self._restore()
        self._connect_signals()
        self._apply_filter()

    def _connect_signals(self) -> None:
        v = self._view
        v.search.textChanged.connect(self._on_text_changed)
        v.search.returnPressed.connect(self._on_debounce_elapsed)
        self._debounce.timeout.connect(self._on_debounce_elapsed)
        for box in (v.mine, v.focus, v.long_term, v.child_family):
            box.toggled.connect(self._on_quick_filter_changed)
        v.status.currentIndexChanged.connect(self._on_quick_filter_changed)
        v.table.activated.connect(self._on_row_activated)
        v.table.horizontalHeader().sortIndicatorChanged.connect(self._on_sort_indicator_changed)
        self._model.window_loaded.connect(self._on_loading_changed)
        self._model.window_loaded.connect(self._count_after_paint)
        self._model.load_failed.connect(self._start_due_count)
        v.table.painted.connect(self._on_table_painted)
        self._count_timer.timeout.connect(self._start_due_count)
        self._model.modelReset.connect(self._on_loading_changed)
        self._model.load_failed.connect(self._on_load_failed)

    # --- public
    def current_filter(self) -> RegisterFilter:
        v = self._view
        status_value = v.status.currentData()
        return RegisterFilter(
            text=v.search.text(),
            caseworker_id=self._user_id if v.mine.isChecked() else None,
            focus_only=v.focus.isChecked(),
            status=CaseStatus(status_value) if status_value else None,
            long_term=v.long_term.isChecked(),
            child_family=v.child_family.isChecked(),
        )

    def focus_search(self) -> None:
        self._view.search.setFocus()
        self._view.search.selectAll()

    def refresh(self) -> None:
        self._apply_filter()

    def save_state(self) -> None:
        v = self._view
        self._state.set_register_filter(
            SavedFilter(
                mine=v.mine.isChecked(),
                focus=v.focus.isChecked(),
                long_term=v.long_term.isChecked(),
                child_family=v.child_family.isChecked(),
                status=str(v.status.currentData() or ""),
            )
        )
        self._state.set_header_state(HEADER_KEY, v.table.horizontalHeader().saveState())

    # --- handlers
    def _on_text_changed(self, _text: str) -> None:
        self._debounce.start()

    def _on_debounce_elapsed(self) -> None:
        self._debounce.stop()
        if self._model.current_filter != self.current_filter():
            self._apply_filter()

    def _on_quick_filter_changed(self, *_args: object) -> None:
        self._debounce.stop()
        self._apply_filter()

    def _on_sort_indicator_changed(self, section: int, order: Qt.SortOrder) -> None:
        """Case number, applicant (Swedish order) and personnummer sort, in SQL by keyset;
        the other columns are worked out per window and keep the current indicator."""
        sort = SORTABLE.get(section)
        if sort is None:
            self._show_sort_indicator()
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if descending != self._model.descending or sort is not self._model.sort:
            # The same cases in another order: the count stays.
            flt = self.current_filter()
            total = self.last_count if flt == self._model.current_filter else None
            self._model.set_filter(flt, descending=descending, sort=sort, total=total)

    def _show_sort_indicator(self) -> None:
        header = self._view.table.horizontalHeader()
        column = next(c for c, s in SORTABLE.items() if s is self._model.sort)
        order = (
            Qt.SortOrder.DescendingOrder if self._model.descending else Qt.SortOrder.AscendingOrder
        )
        header.blockSignals(True)
        header.setSortIndicator(column, order)
        header.blockSignals(False)

    def _on_row_activated(self, index: QModelIndex) -> None:
        row = self._model.data(index, ROW_ROLE)
        if row is not None:
            self.case_activated.emit(row.id)

    def _on_loading_changed(self, *_args: object) -> None:
        self._view.loading.setText(self.tr("Hämtar …") if self._model.loading else "")

    def _on_load_failed(self, message: str) -> None:
        self._view.loading.setText(self.tr("Fel: %s") % message)

    def _on_count(self, generation: int, n: int, flt: RegisterFilter) -> None:
        if generation == self._count_generation:
            self.last_count = n
            self._model.set_total(flt, n)  # the model now has a row for every case
            self.count_changed.emit(n)
            self._audit_settled(flt, n)

    def _audit_settled(self, flt: RegisterFilter, n: int) -> None:
        """One audit event per settled search with text, written in a worker."""
        if flt == self._audited:
            return  # the same search refreshed (e.g. after a case was saved)
        self._audited = flt
        auditor = self._auditor
        if auditor is None or not flt.text.strip():
            return
        self._runner.run(
            lambda: auditor.record_search(flt, n),
            on_done=lambda _none: None,
            on_error=self._on_audit_error,
            owner=self,
        )

    def _on_audit_error(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            raise exc  # a bug: to the crash handler (or the failing test)
        self._view.loading.setText(self.tr("Sökningen kunde inte loggas: %s") % exc.message)

    def _on_count_error(self, generation: int, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            raise exc  # a bug: to the crash handler (or the failing test)
        if generation == self._count_generation:
            self.count_failed.emit(exc.message)

    # --- internals
    def _apply_filter(self) -> None:
        flt = self.current_filter()
        self._model.set_filter(flt, descending=self._descending, sort=self._sort)
        self._descending = self._sort = None
        self._on_loading_changed()
        self._count_generation += 1
        self.last_count = None
        self.count_started.emit()
        # The count waits for the filter's first window and its paint: on two cores the
        # window, the count and the GUI thread would otherwise share them, and the
        # count's Python holds the GIL the paint needs, so the first screen of rows
        # (what the user waits for) came later (30 ms instead of 16 at 100,000 cases).
        # A filter superseded before its first window is never counted.
        self._count_due = (self._count_generation, flt)
        self._count_timer.stop()

    def _count_after_paint(self, *_args: object) -> None:
        """The first window is in: count once the table has painted it (or at the latest
        after ``COUNT_AFTER_MS``, for a table that is not painted)."""
        if self._count_due is not None and not self._count_timer.isActive():
            self._count_timer.start(COUNT_AFTER_MS)

    def _on_table_painted(self) -> None:
        if self._count_timer.isActive():  # the first paint since the first window:
            self._count_timer.start(0)  # count when the loop is back (the paint flushed)

    def _start_due_count(self, *_args: object) -> None:
        """Count the current filter, once its first window has been painted (or failed)."""
        self._count_timer.stop()
        if self._count_due is None:
            return
        generation, flt = self._count_due
        self._count_due = None
        if generation != self._count_generation:
            return
        self._runner.run(
            lambda: self._counter.count(flt),
            on_done=lambda n: self._on_count(generation, n, flt),
            on_error=lambda exc: self._on_count_error(generation, exc),
            owner=self,
        )

    def _restore(self) -> None:
        v = self._view
        saved = self._state.register_filter()
        for box, value in (
            (v.mine, saved.mine),
            (v.focus, saved.focus),
            (v.long_term, saved.long_term),
            (v.child_family, saved.child_family),
        ):
            box.setChecked(value)
        index = v.status.findData(saved.status)
        v.status.setCurrentIndex(max(index, 0))
        header = v.table.horizontalHeader()
        state = self._state.header_state(HEADER_KEY)
        if state is None or not header.restoreState(state):
            for col, width in enumerate(DEFAULT_WIDTHS):
                header.resizeSection(col, width)
            header.setSortIndicator(COL_NUMBER, Qt.SortOrder.DescendingOrder)
        if header.sortIndicatorSection() not in SORTABLE:
            header.setSortIndicator(COL_NUMBER, Qt.SortOrder.DescendingOrder)
        header.setSortIndicatorShown(True)
        header.setSectionsClickable(True)
        self._descending = header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        self._sort = SORTABLE[header.sortIndicatorSection()]
