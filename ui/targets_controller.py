"""Behaviour of Mål: load the unit's targets, save a new one (validated by the service)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from services.errors import FokusError
from services.targets import FOCUS_TARGET_GROUPS, TargetInput, TargetProgress
from ui.targets_view import TargetsWindow
from ui.window_menu import OneWindowMenu
from ui.worker import LatestOnly, Runner

log = logging.getLogger(__name__)


class TargetSource(Protocol):
    def targets(self, unit_id: uuid.UUID) -> list[TargetProgress]: ...

    def create_target(self, data: TargetInput) -> uuid.UUID: ...


class TargetsController(QObject):
    loaded = Signal(int)
    saved = Signal(object)
    failed = Signal(str)

    def __init__(
        self, *, window: TargetsWindow, service: TargetSource, runner: Runner, unit_id: uuid.UUID
    ) -> None:
        super().__init__(window)
        self._window = window
        self._service = service
        self._runner = runner
        self._loads = LatestOnly(runner)
        self._unit_id = unit_id
        self._connect_signals()

    def _connect_signals(self) -> None:
        w = self._window
        w.add_group_button.clicked.connect(lambda: w.add_group())
        w.preset_button.clicked.connect(self._on_preset)
        w.save_button.clicked.connect(self._on_save)

    def load(self) -> None:
        unit_id = self._unit_id
        self._loads.run(
            lambda: self._service.targets(unit_id),
            on_done=self._on_loaded,
            on_error=self._on_failed,
            owner=self._window,
        )

    def _on_loaded(self, targets: list[TargetProgress]) -> None:
        self._window.show_targets(targets)
        self._window.status_label.setText(self.tr("%s mål") % len(targets))
        self.loaded.emit(len(targets))

    def _on_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            log.error("targets action failed", exc_info=exc)
        message = str(exc) if isinstance(exc, FokusError) else self.tr("ett oväntat fel")
        self._window.status_label.setText(self.tr("Det gick inte: %s") % message)
        self._window.save_button.setEnabled(True)
        self.failed.emit(message)

    def _on_preset(self) -> None:
        w = self._window
        if not w.name_edit.text().strip():
            w.name_edit.setText(self.tr("Fokustjänsterna %s") % w.period()[0].year)
        w.focus_check.setChecked(True)
        w.set_groups(FOCUS_TARGET_GROUPS)

    def form_input(self) -> TargetInput:
        w = self._window
        start, end = w.period()
        return TargetInput(
            unit_id=self._unit_id,
            name=w.name_edit.text(),
            period_from=start,
            period_to=end,
            groups=tuple(g.group() for g in w.groups),
            focus_only=w.focus_check.isChecked(),
        )

    def _on_save(self) -> None:
        data = self.form_input()
        self._window.save_button.setEnabled(False)
        self._runner.run(
            lambda: self._service.create_target(data),
            on_done=self._on_saved,
            on_error=self._on_failed,
            owner=self._window,
        )

    def _on_saved(self, target_id: uuid.UUID) -> None:
        self._window.save_button.setEnabled(True)
        self._window.status_label.setText(self.tr("Målet sparades."))
        self.saved.emit(target_id)
        self.load()


class TargetsMenu(OneWindowMenu):
    """Arbetsledning → Mål: opens (or raises) the one window."""

    def __init__(
        self,
        *,
        main_window: Any,
        service: TargetSource,
        runner: Runner,
        unit_id: uuid.UUID,
        unit_name: str,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._service = service
        self._runner = runner
        self._unit_id = unit_id
        self._unit_name = unit_name
        self._today = today
        main_window.leader_menu.menuAction().setVisible(True)
        super().__init__(main_window, main_window.targets_action)

    def _build(self) -> tuple[TargetsWindow, TargetsController]:
        window = TargetsWindow(unit_name=self._unit_name, today=self._today(), parent=self._main)
        controller = TargetsController(
            window=window, service=self._service, runner=self._runner, unit_id=self._unit_id
        )
        return window, controller
