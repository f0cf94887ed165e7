"""Behaviour of the main window: remembered geometry, shortcuts and the status bar."""

from __future__ import annotations

from PySide6.QtCore import QObject

from ui.batch_export import BatchExportController
from ui.case_controller import CaseWindows
from ui.i18n import format_count
from ui.main_window import MainWindow
from ui.register_controller import RegisterController
from ui.register_model import ROW_ROLE
from ui.summary_controller import SummaryDialogs
from ui.view_state import ViewState

GEOMETRY_KEY = "main_window"


class MainWindowController(QObject):
    """Wires the window's actions to the register and keeps view state between runs.

    With ``cases``, activating a row in the register opens (or raises) that case's window.
    With ``summaries``, Arkiv → "Skriv ut sammanfattning" (Ctrl+P) opens the print dialog
    for the selected row; with ``batch_export`` (allowed for an arbetsledare only),
    "Exportera sammanfattningar" exports the register's current filter.
    """

    def __init__(
        self,
        *,
        window: MainWindow,
        register: RegisterController,
        state: ViewState,
        database_label: str,
        cases: CaseWindows | None = None,
        summaries: SummaryDialogs | None = None,
        batch_export: BatchExportController | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._register = register
        self._state = state
        self._cases = cases
        self._summaries = summaries
        self._batch_export = batch_export
        window.print_summary_action.setVisible(summaries is not None)
        window.export_summaries_action.setVisible(batch_export is not None and batch_export.allowed)
        window.database_label.setText(database_label)
        window.count_label.setText(self.tr("Räknar …"))
        geometry = state.geometry(GEOMETRY_KEY)
        if geometry is not None:
            window.restoreGeometry(geometry)
        if cases is not None:
            window.close_guard = cases.close_all  # quitting asks about unsaved forms first
        self._connect_signals()

    def _connect_signals(self) -> None:
        w = self._window
        w.search_action.triggered.connect(self._register.focus_search)
        w.refresh_action.triggered.connect(self._register.refresh)
        w.quit_action.triggered.connect(w.close)
        w.closing.connect(self._on_closing)
        self._register.count_started.connect(self._on_count_started)
        self._register.count_changed.connect(self._on_count_changed)
        self._register.count_failed.connect(self._on_count_failed)
        if self._cases is not None:
            self._register.case_activated.connect(self._cases.open)
        w.print_summary_action.triggered.connect(self._on_print_summary)
        w.export_summaries_action.triggered.connect(self._on_export_summaries)

    def save_state(self) -> None:
        self._state.set_geometry(GEOMETRY_KEY, self._window.saveGeometry())
        self._register.save_state()
        self._state.sync()

    def _on_print_summary(self) -> None:
        if self._summaries is None:
            return
        table = self._window.register.table
        row = table.model().data(table.currentIndex(), ROW_ROLE) if table.model() else None
        if row is None:
            message = self.tr("Välj ett ärende i registret först.")
            self._window.statusBar().showMessage(message, 5000)
            return
        self._summaries.open_for_case(row.id, self._window)

    def _on_export_summaries(self) -> None:
        if self._batch_export is not None and self._batch_export.allowed:
            self._batch_export.start()

    def _on_closing(self) -> None:
        self.save_state()

    def _on_count_started(self) -> None:
        self._window.count_label.setText(self.tr("Räknar …"))

    def _on_count_changed(self, n: int) -> None:
        text = self.tr("1 ärende") if n == 1 else self.tr("%s ärenden") % format_count(n)
        self._window.count_label.setText(text)

    def _on_count_failed(self, message: str) -> None:
        self._window.count_label.setText(self.tr("Antalet kunde inte räknas: %s") % message)
