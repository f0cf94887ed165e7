"""Behaviour of Ärendefördelning: load in the background, move with the cap warning.

A move that would take the caseworker past their cap (or a focus case to
someone who is not a focus caseworker) comes back from
:func:`services.caseload.assign_with_cap_check` as a warning; the window
asks "Flytta ändå?" and only on yes moves it with ``confirm=True``. Nothing
is moved before that answer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from services.caseload import AssignOutcome, CaseloadRow, CaseToMove
from services.errors import FokusError
from ui.caseload_view import CaseloadWindow
from ui.window_menu import OneWindowMenu
from ui.worker import LatestOnly, Runner

log = logging.getLogger(__name__)


class CaseloadSource(Protocol):
    def caseload(self, unit_id: uuid.UUID) -> list[CaseloadRow]: ...

    def find_case(self, case_number: str) -> CaseToMove: ...

    def move(
        self,
        case_id: uuid.UUID,
        expected_version: int,
        caseworker_id: uuid.UUID | None,
        *,
        confirm: bool = False,
    ) -> AssignOutcome: ...


Confirm = Callable[[QWidget, str], bool]


def ask_confirmation(parent: QWidget, message: str) -> bool:
    answer = QMessageBox.question(
        parent,
        QCoreApplication.translate("CaseloadController", "Fokus – flytta ärende"),
        message,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class CaseloadController(QObject):
    loaded = Signal()
    moved = Signal(str)
    declined = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        *,
        window: CaseloadWindow,
        service: CaseloadSource,
        runner: Runner,
        unit_id: uuid.UUID,
        confirm: Confirm = ask_confirmation,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._service = service
        self._runner = runner
        self._loads = LatestOnly(runner)
        self._unit_id = unit_id
        self._confirm = confirm
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._window.refresh_button.clicked.connect(self.load)
        self._window.move_button.clicked.connect(self._on_move_clicked)

    def load(self) -> None:
        self._window.status_label.setText(self.tr("Laddar …"))
        unit_id = self._unit_id
        self._loads.run(
            lambda: self._service.caseload(unit_id),
            on_done=self._on_loaded,
            on_error=self._on_failed,
            owner=self._window,
        )

    def _on_loaded(self, rows: list[CaseloadRow]) -> None:
        self._window.set_rows(rows)
        over = sum(1 for r in rows if r.over_cap)
        text = self.tr("%s handläggare") % len(rows)
        if over:
            text += self.tr(", %s över taket") % over
        self._window.status_label.setText(text)
        self.loaded.emit()

    def _on_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            log.error("caseload action failed", exc_info=exc)
        message = str(exc) if isinstance(exc, FokusError) else self.tr("ett oväntat fel")
        self._window.status_label.setText(self.tr("Det gick inte: %s") % message)
        self._window.move_button.setEnabled(True)
        self.failed.emit(message)

    def _on_move_clicked(self) -> None:
        number = self._window.case_edit.text()
        worker = self._window.selected_worker()
        if not number.strip() or worker is None:
            self._window.status_label.setText(self.tr("Ange ärendenummer och handläggare."))
            return
        self._window.move_button.setEnabled(False)
        service = self._service

        def first_try() -> tuple[CaseToMove, AssignOutcome]:
            case = service.find_case(number)
            return case, service.move(case.id, case.version, worker)

        self._runner.run(
            first_try,
            on_done=lambda result: self._on_first_try(result, worker),
            on_error=self._on_failed,
            owner=self._window,
        )

    def _on_first_try(self, result: tuple[CaseToMove, AssignOutcome], worker: uuid.UUID) -> None:
        case, outcome = result
        if outcome.needs_confirmation:
            assert outcome.warning is not None
            if not self._confirm(self._window, outcome.warning.message):
                self._window.move_button.setEnabled(True)
                self._window.status_label.setText(self.tr("%s flyttades inte.") % case.case_number)
                self.declined.emit(case.case_number)
                return
            service = self._service
            self._runner.run(
                lambda: service.move(case.id, case.version, worker, confirm=True),
                on_done=lambda _o: self._on_moved(case),
                on_error=self._on_failed,
                owner=self._window,
            )
            return
        self._on_moved(case)

    def _on_moved(self, case: CaseToMove) -> None:
        self._window.move_button.setEnabled(True)
        self._window.case_edit.clear()
        self._window.status_label.setText(self.tr("%s flyttades.") % case.case_number)
        self.moved.emit(case.case_number)
        self.load()


class CaseloadMenu(OneWindowMenu):
    """Arbetsledning → Ärendefördelning: opens (or raises) the one window."""

    def __init__(
        self,
        *,
        main_window: Any,
        service: CaseloadSource,
        runner: Runner,
        unit_id: uuid.UUID,
        unit_name: str,
    ) -> None:
        self._service = service
        self._runner = runner
        self._unit_id = unit_id
        self._unit_name = unit_name
        main_window.leader_menu.menuAction().setVisible(True)
        super().__init__(main_window, main_window.caseload_action)

    def _build(self) -> tuple[CaseloadWindow, CaseloadController]:
        window = CaseloadWindow(unit_name=self._unit_name, parent=self._main)
        controller = CaseloadController(
            window=window, service=self._service, runner=self._runner, unit_id=self._unit_id
        )
        return window, controller
