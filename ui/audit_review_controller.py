"""Logguppföljning, the behaviour: fetch a case's log, export a period, list the nödåtkomster.

All three run in a worker through :class:`services.audit_review.AuditReviewService`,
which checks that the user is an arbetsledare, limits them to their unit and
audits the review itself. The export file is chosen in a file dialog (a
callable, so tests can answer it) and written under a temporary name by the
service, so a failed export leaves no half file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from services.access import EmergencyRow
from services.audit import LOCAL_TZ, AuditRow, local_today
from services.audit_review import CaseLog
from services.errors import FokusError
from ui.audit_review_view import AuditReviewWindow, edit_date
from ui.i18n import format_count
from ui.worker import Runner


class AuditReview(Protocol):
    """What the window needs of :class:`services.audit_review.AuditReviewService`."""

    def case_log(self, case_number: str) -> CaseLog: ...
    def export_period(self, start: date, end: date, path: Path) -> int: ...
    def emergency_log(self, start: date, end: date) -> list[EmergencyRow]: ...


ChooseFile = Callable[[QWidget, str], str | None]


def choose_csv_file(parent: QWidget, suggested: str) -> str | None:
    """The save dialog for the export; None when cancelled."""
    path, _filter = QFileDialog.getSaveFileName(
        parent,
        QCoreApplication.translate("AuditReviewController", "Fokus – spara loggen"),
        str(Path.home() / suggested),
        QCoreApplication.translate("AuditReviewController", "CSV-filer (*.csv)"),
    )
    return path or None


def previous_month(today: date) -> tuple[date, date]:
    """The whole month before ``today``'s: the usual period of a monthly review."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _when(value: datetime) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _details(detail: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}: {json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v}"
        for k, v in sorted(detail.items())
    )


def case_log_rows(rows: list[AuditRow]) -> list[tuple[str, ...]]:
    return [
        (
            str(r.id),
            _when(r.occurred_at),
            r.actor,
            r.workstation,
            r.action_label,
            _details(r.detail),
        )
        for r in rows
    ]


def emergency_rows(rows: list[EmergencyRow]) -> list[tuple[str, ...]]:
    return [
        (
            _when(r.granted_at)[:16],
            r.username,
            r.full_name,
            r.user_unit,
            r.case_number,
            r.case_unit,
            r.reason,
            "ja" if r.protected else "",
            _when(r.expires_at)[:16],
        )
        for r in rows
    ]


class AuditReviewController(QObject):
    """Drives :class:`AuditReviewWindow`; ``done`` says (in Swedish) what a finished task did."""

    done = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        *,
        window: AuditReviewWindow,
        service: AuditReview,
        runner: Runner,
        choose_file: ChooseFile = choose_csv_file,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._service = service
        self._runner = runner
        self._choose_file = choose_file
        self._connect_signals()

    def _connect_signals(self) -> None:
        w = self._window
        w.case_button.clicked.connect(self._on_case_clicked)
        w.case_number.returnPressed.connect(self._on_case_clicked)
        w.export_button.clicked.connect(self._on_export_clicked)
        w.emergency_button.clicked.connect(self._on_emergency_clicked)

    # --- a case's log -------------------------------------------------------------------------

    def _on_case_clicked(self) -> None:
        w = self._window
        number = w.case_number.text()
        service = self._service
        w.case_button.setEnabled(False)
        w.case_busy.setVisible(True)
        w.case_status.show_text(self.tr("Hämtar loggen …"))
        self._runner.run(
            lambda: service.case_log(number),
            on_done=self._on_case_loaded,
            on_error=lambda exc: self._fail(exc, w.case_status, w.case_button, w.case_busy),
            owner=w,
        )

    def _on_case_loaded(self, log: CaseLog) -> None:
        w = self._window
        w.case_button.setEnabled(True)
        w.case_busy.setVisible(False)
        w.case_model.set_rows(case_log_rows(log.rows))
        w.case_table.resizeColumnsToContents()
        n = len(log.rows)
        text = (
            self.tr("Ärende %s: 1 händelse") % log.case_number
            if n == 1
            else self.tr("Ärende %s: %s händelser") % (log.case_number, format_count(n))
        )
        w.case_status.show_text(text)
        self.done.emit(text)

    # --- the period export --------------------------------------------------------------------

    def _on_export_clicked(self) -> None:
        w = self._window
        start, end = edit_date(w.export_from), edit_date(w.export_to)
        if end < start:
            message = self.tr("period: slutdatum före startdatum")
            w.export_status.show_text(message, error=True)
            self.failed.emit(message)
            return
        chosen = self._choose_file(w, f"logguppfoljning-{start.isoformat()}-{end.isoformat()}.csv")
        if not chosen:
            return
        path = Path(chosen)
        if path.suffix.lower() != ".csv":
            path = path.with_name(path.name + ".csv")
        service = self._service
        w.export_button.setEnabled(False)
        w.export_busy.setVisible(True)
        w.export_status.show_text(self.tr("Exporterar …"))
        self._runner.run(
            lambda: service.export_period(start, end, path),
            on_done=lambda n: self._on_exported(n, path),
            on_error=lambda exc: self._fail(exc, w.export_status, w.export_button, w.export_busy),
            owner=w,
        )

    def _on_exported(self, count: int, path: Path) -> None:
        w = self._window
        w.export_button.setEnabled(True)
        w.export_busy.setVisible(False)
        what = (
            self.tr("1 händelse") if count == 1 else self.tr("%s händelser") % format_count(count)
        )
        text = self.tr("%s exporterade till %s") % (what, path)
        w.export_status.show_text(text)
        self.done.emit(text)

    # --- nödåtkomster -------------------------------------------------------------------------

    def _on_emergency_clicked(self) -> None:
        w = self._window
        start, end = edit_date(w.emergency_from), edit_date(w.emergency_to)
        service = self._service
        w.emergency_button.setEnabled(False)
        w.emergency_busy.setVisible(True)
        w.emergency_status.show_text(self.tr("Hämtar nödåtkomsterna …"))
        self._runner.run(
            lambda: service.emergency_log(start, end),
            on_done=self._on_emergency_loaded,
            on_error=lambda exc: self._fail(
                exc, w.emergency_status, w.emergency_button, w.emergency_busy
            ),
            owner=w,
        )

    def _on_emergency_loaded(self, rows: list[EmergencyRow]) -> None:
        w = self._window
        w.emergency_button.setEnabled(True)
        w.emergency_busy.setVisible(False)
        w.emergency_model.set_rows(emergency_rows(rows))
        w.emergency_table.resizeColumnsToContents()
        protected = sum(1 for r in rows if r.protected)
        text = (
            self.tr("Inga nödåtkomster under perioden")
            if not rows
            else self.tr("%s nödåtkomster, varav %d i ärenden med skyddade personuppgifter")
            % (format_count(len(rows)), protected)
        )
        w.emergency_status.show_text(text)
        self.done.emit(text)

    def _fail(self, exc: BaseException, status: Any, button: Any, busy: Any) -> None:
        button.setEnabled(True)
        busy.setVisible(False)
        if not isinstance(exc, FokusError):
            raise exc
        status.show_text(exc.message, error=True)
        self.failed.emit(exc.message)


class AuditReviewMenu(QObject):
    """Arbetsledning → Logguppföljning in the main window: opens (or raises) the one window."""

    opened = Signal(AuditReviewWindow)

    def __init__(
        self,
        *,
        main_window: Any,
        service: AuditReview,
        runner: Runner,
        today: Callable[[], date] = local_today,
    ) -> None:
        super().__init__(main_window)
        self._main = main_window
        self._service = service
        self._runner = runner
        self._today = today
        self.window: AuditReviewWindow | None = None
        self.controller: AuditReviewController | None = None
        main_window.leader_menu.menuAction().setVisible(True)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._main.audit_review_action.triggered.connect(self.open)

    def open(self) -> None:
        if self.window is not None:
            self.window.show()
            self.window.raise_()
            self.window.activateWindow()
            return
        start, end = previous_month(self._today())
        window = AuditReviewWindow(start=start, end=end, parent=self._main)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.destroyed.connect(self._on_window_destroyed)
        self.controller = AuditReviewController(
            window=window, service=self._service, runner=self._runner
        )
        self.window = window
        window.show()
        self.opened.emit(window)

    def _on_window_destroyed(self) -> None:
        self.window = None
        self.controller = None
