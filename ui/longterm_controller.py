"""Behaviour of the Långvariga view: background loading, scope, opening a case."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from PySide6.QtCore import QModelIndex, QObject, Signal

from services.errors import FokusError
from services.longterm import LongTermList
from ui.longterm_view import LongTermWindow
from ui.window_menu import OneWindowMenu
from ui.worker import LatestOnly, Runner

log = logging.getLogger(__name__)


class LongTermSource(Protocol):
    def long_term_list(
        self,
        *,
        caseworker_id: uuid.UUID | None = None,
        unit_id: uuid.UUID | None = None,
        as_of: date | None = None,
    ) -> LongTermList: ...

    @property
    def window_months(self) -> int: ...


class LongTermController(QObject):
    loaded = Signal(int)
    failed = Signal(str)
    case_activated = Signal(uuid.UUID)

    def __init__(
        self,
        *,
        window: LongTermWindow,
        service: LongTermSource,
        runner: Runner,
        user_id: uuid.UUID | None,
        unit_id: uuid.UUID | None,
        as_of: date | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._service = service
        self._runner = runner
        self._loads = LatestOnly(runner)
        self._user_id = user_id
        self._unit_id = unit_id
        self._as_of = as_of
        w = window
        w.refresh_button.clicked.connect(self.load)
        w.scope_combo.currentIndexChanged.connect(lambda _i: self.load())
        w.table.doubleClicked.connect(self._on_double_clicked)

    def load(self) -> None:
        w = self._window
        w.status_label.setText(self.tr("Laddar …"))
        unit = w.scope_combo.currentData() == "unit" and self._unit_id is not None
        kwargs: dict[str, Any] = (
            {"unit_id": self._unit_id} if unit else {"caseworker_id": self._user_id}
        )
        as_of = self._as_of
        service = self._service
        self._loads.run(
            lambda: service.long_term_list(as_of=as_of, **kwargs),
            on_done=self._on_loaded,
            on_error=self._on_failed,
            owner=w,
        )

    def _on_loaded(self, result: LongTermList) -> None:
        w = self._window
        rows = list(result.rows)
        w.model.set_rows(rows, self._service.window_months)
        w.table.sortByColumn(
            w.table.horizontalHeader().sortIndicatorSection(),
            w.table.horizontalHeader().sortIndicatorOrder(),
        )
        children = sum(1 for r in rows if r.has_children)
        very = sum(1 for r in rows if r.very_long_term)
        text = self.tr("%s långvariga hushåll, varav %s med barn och %s mycket långvariga") % (
            len(rows),
            children,
            very,
        )
        if result.total > len(rows):
            text = self.tr(
                "Visar de %s mest angelägna av %s långvariga hushåll; "
                "varav %s med barn och %s mycket långvariga"
            ) % (len(rows), result.total, children, very)
        w.status_label.setText(text)
        self.loaded.emit(len(rows))

    def _on_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            log.error("long-term list failed", exc_info=exc)
        message = str(exc) if isinstance(exc, FokusError) else self.tr("ett oväntat fel")
        self._window.status_label.setText(self.tr("Listan kunde inte laddas: %s") % message)
        self.failed.emit(message)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        row = self._window.row_at(index.row())
        if row is not None:
            self.case_activated.emit(row.case_id)


class LongTermMenu(OneWindowMenu):
    """Visa → Långvariga: opens (or raises) the one list window."""

    def __init__(
        self,
        *,
        main_window: Any,
        service: LongTermSource,
        runner: Runner,
        user_id: uuid.UUID | None,
        unit_id: uuid.UUID | None,
        leader: bool,
        open_case: Callable[[uuid.UUID], None] | None = None,
    ) -> None:
        self._service = service
        self._runner = runner
        self._user_id = user_id
        self._unit_id = unit_id
        self._leader = leader
        self._open_case = open_case
        super().__init__(main_window, main_window.long_term_action)

    def _build(self) -> tuple[LongTermWindow, LongTermController]:
        window = LongTermWindow(leader=self._leader, parent=self._main)
        controller = LongTermController(
            window=window,
            service=self._service,
            runner=self._runner,
            user_id=self._user_id,
            unit_id=self._unit_id,
        )
        if self._open_case is not None:
            controller.case_activated.connect(self._open_case)
        return window, controller
