"""Behaviour of the dashboard window: background loading and the exports.

The figures come from :class:`services.dashboard.DashboardService` in a
worker (a 100,000-case register takes about a second); the window shows
"Laddar …" meanwhile and never blocks. Each chart saves as PNG (a grab of
its view), and its numbers as CSV or XLSX (ui/dashboard_export.py). Where
to save is asked through ``ask_path`` so that tests can answer it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from services.dashboard import Dashboard
from services.errors import FokusError
from ui.dashboard_export import write_csv, write_xlsx
from ui.dashboard_view import CHART_KEYS, DashboardWindow
from ui.window_menu import OneWindowMenu
from ui.worker import LatestOnly, Runner

log = logging.getLogger(__name__)

FILTERS = {
    "png": "PNG-bild (*.png)",
    "csv": "CSV för Excel (*.csv)",
    "xlsx": "Excel-arbetsbok (*.xlsx)",
}


class DashboardSource(Protocol):
    def load(
        self, unit_id: uuid.UUID, *, as_of: date | None = None, year: int | None = None
    ) -> Dashboard: ...


AskPath = Callable[[QWidget, str, str, str], str]


def ask_save_path(parent: QWidget, title: str, suggested: str, file_filter: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, file_filter)
    return path


class DashboardController(QObject):
    """Loads the unit's figures in the background and exports charts on request."""

    loaded = Signal(object)
    failed = Signal(str)
    exported = Signal(str)

    def __init__(
        self,
        *,
        window: DashboardWindow,
        service: DashboardSource,
        runner: Runner,
        unit_id: uuid.UUID,
        as_of: date | None = None,
        ask_path: AskPath = ask_save_path,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._service = service
        self._runner = runner
        self._loads = LatestOnly(runner)
        self._unit_id = unit_id
        self._as_of = as_of
        self._ask_path = ask_path
        self.data: Dashboard | None = None
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._window.refresh_button.clicked.connect(self.load)
        for key in CHART_KEYS:
            card = self._window.cards[key]
            card.png_button.clicked.connect(lambda _=False, k=key: self._on_export(k, "png"))
            card.csv_button.clicked.connect(lambda _=False, k=key: self._on_export(k, "csv"))
            card.xlsx_button.clicked.connect(lambda _=False, k=key: self._on_export(k, "xlsx"))

    def load(self) -> None:
        self._window.status_label.setText(self.tr("Laddar …"))
        self._window.refresh_button.setEnabled(False)
        unit_id, as_of = self._unit_id, self._as_of
        self._loads.run(
            lambda: self._service.load(unit_id, as_of=as_of),
            on_done=self._on_loaded,
            on_error=self._on_failed,
            owner=self._window,
        )

    def _on_loaded(self, data: Dashboard) -> None:
        self.data = data
        self._window.refresh_button.setEnabled(True)
        self._window.show_dashboard(data)
        self.loaded.emit(data)

    def _on_failed(self, exc: BaseException) -> None:
        self._window.refresh_button.setEnabled(True)
        if not isinstance(exc, FokusError):
            log.error("dashboard load failed", exc_info=exc)
        message = str(exc) if isinstance(exc, FokusError) else self.tr("ett oväntat fel")
        self._window.status_label.setText(self.tr("Översikten kunde inte laddas: %s") % message)
        self.failed.emit(message)

    def export(self, key: str, fmt: str, path: Path) -> None:
        """Save chart ``key`` as ``fmt`` (png, csv, xlsx) to ``path``."""
        card = self._window.cards[key]
        if fmt == "png":
            if not card.view.grab().save(str(path), "PNG"):
                raise OSError(f"bilden kunde inte sparas i {path}")
        elif card.table is None:
            raise ValueError("inga siffror att spara ännu")
        elif fmt == "csv":
            write_csv(card.table, path)
        else:
            write_xlsx(card.table, path)

    def _on_export(self, key: str, fmt: str) -> None:
        card = self._window.cards[key]
        suggested = f"{card.title().replace(' ', '_')}.{fmt}"
        chosen = self._ask_path(self._window, self.tr("Spara"), suggested, FILTERS[fmt])
        if not chosen:
            return
        path = Path(chosen)
        if path.suffix.lower() != f".{fmt}":
            path = path.with_name(path.name + f".{fmt}")
        try:
            self.export(key, fmt, path)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(
                self._window, self.tr("Fokus – spara"), self.tr("Kunde inte spara: %s") % exc
            )
            return
        self._window.status_label.setText(self.tr("Sparat: %s") % str(path))
        self.exported.emit(str(path))


class DashboardMenu(OneWindowMenu):
    """Visa → Översikt in the main window: opens (or raises) the one dashboard window."""

    def __init__(
        self,
        *,
        main_window: Any,
        service: DashboardSource,
        runner: Runner,
        unit_id: uuid.UUID,
        unit_name: str,
    ) -> None:
        self._service = service
        self._runner = runner
        self._unit_id = unit_id
        self._unit_name = unit_name
        super().__init__(main_window, main_window.dashboard_action)

    def _build(self) -> tuple[DashboardWindow, DashboardController]:
        window = DashboardWindow(unit_name=self._unit_name, parent=self._main)
        controller = DashboardController(
            window=window, service=self._service, runner=self._runner, unit_id=self._unit_id
        )
        return window, controller
