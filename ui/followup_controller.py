"""Behaviour of the follow-up list: background loading, scope and horizon, opening a case."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from PySide6.QtCore import QModelIndex, QObject, Signal

from services.errors import FokusError
from services.followup import FollowUpItem, FollowUpScope
from ui.followup_view import FollowUpWindow
from ui.window_menu import OneWindowMenu
from ui.worker import LatestOnly, Runner

log = logging.getLogger(__name__)


class FollowUpSource(Protocol):
    def items(
        self, scope: FollowUpScope | None = None, *, as_of: date | None = None,
        horizon_days: int = 7,
    ) -> list[FollowUpItem]: ...  # fmt: skip


class FollowUpController(QObject):
    loaded = Signal(int)
    failed = Signal(str)
    case_activated = Signal(uuid.UUID)

    def __init__(
        self,
        *,
        window: FollowUpWindow,
        service: FollowUpSource,
        runner: Runner,
        unit_id: uuid.UUID | None,
        as_of: date | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._service = service
        self._runner = runner
        self._loads = LatestOnly(runner)
        self._unit_id = unit_id
        self._as_of = as_of
        self._connect_signals()

    def _connect_signals(self) -> None:
        w = self._window
        w.refresh_button.clicked.connect(self.load)
        w.scope_combo.currentIndexChanged.connect(lambda _i: self.load())
        w.horizon_combo.currentIndexChanged.connect(lambda _i: self.load())
        w.table.doubleClicked.connect(self._on_double_clicked)

    def load(self) -> None:
        w = self._window
        w.status_label.setText(self.tr("Laddar …"))
        unit = w.scope_combo.currentData() == "unit" and self._unit_id is not None
        scope = FollowUpScope(unit_id=self._unit_id) if unit else None
        horizon = int(w.horizon_combo.currentData())
        as_of = self._as_of
        self._loads.run(
            lambda: self._service.items(scope, as_of=as_of, horizon_days=horizon),
            on_done=self._on_loaded,
            on_error=self._on_failed,
            owner=w,
        )

    def _on_loaded(self, items: list[FollowUpItem]) -> None:
        today = self._as_of or date.today()
        self._window.model.set_items(items, today)
        overdue = sum(1 for i in items if i.overdue(today))
        self._window.status_label.setText(
            self.tr("%s bevakningar, varav %s försenade") % (len(items), overdue)
        )
        self.loaded.emit(len(items))

    def _on_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            log.error("follow-up list failed", exc_info=exc)
        message = str(exc) if isinstance(exc, FokusError) else self.tr("ett oväntat fel")
        self._window.status_label.setText(self.tr("Listan kunde inte laddas: %s") % message)
        self.failed.emit(message)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        item = self._window.item_at(index.row())
        if item is not None:
            self.case_activated.emit(item.case_id)


class FollowUpMenu(OneWindowMenu):
    """Visa → Uppföljning: opens (or raises) the one list window."""

    def __init__(
        self,
        *,
        main_window: Any,
        service: FollowUpSource,
        runner: Runner,
        unit_id: uuid.UUID | None,
        leader: bool,
        open_case: Callable[[uuid.UUID], None] | None = None,
    ) -> None:
        self._service = service
        self._runner = runner
        self._unit_id = unit_id
        self._leader = leader
        self._open_case = open_case
        super().__init__(main_window, main_window.followup_action)

    def _build(self) -> tuple[FollowUpWindow, FollowUpController]:
        window = FollowUpWindow(leader=self._leader, parent=self._main)
        controller = FollowUpController(
            window=window, service=self._service, runner=self._runner, unit_id=self._unit_id
        )
        if self._open_case is not None:
            controller.case_activated.connect(self._open_case)
        return window, controller
