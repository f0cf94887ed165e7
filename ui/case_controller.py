"""Behaviour of the read-only case window, and the one-window-per-case rule.

The case is read in the background (the read is audited by the service) and
the tabs are filled on the GUI thread. :class:`CaseWindows` keeps one window
per case: activating a case that is already open raises its window.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from services.case_view import CaseDetail
from services.errors import FokusError
from services.support import format_amount
from ui.case_view import CaseView, fill_table

TITLE_PREFIX = "Fokus – ärende"


class CaseSource(Protocol):
    def load(self, case_id: uuid.UUID) -> CaseDetail: ...


class Runner(Protocol):
    def run(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        owner: Any = None,
    ) -> int: ...


def _day(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def _time(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


class CaseController(QObject):
    """Loads one case into its :class:`CaseView`; Esc closes the window."""

    loaded = Signal()
    load_failed = Signal(str)

    def __init__(
        self, *, view: CaseView, source: CaseSource, runner: Runner, case_id: uuid.UUID
    ) -> None:
        super().__init__(view)  # deleted with its window: late results are then dropped
        self._view = view
        self._source = source
        self._runner = runner
        self.case_id = case_id
        self.detail: CaseDetail | None = None
        view.setWindowTitle(TITLE_PREFIX)
        self._close_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), view)
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self._close_shortcut.activated.connect(self._view.close)

    def reload(self) -> None:
        self._view.loading.setText(self.tr("Hämtar ärendet …"))
        self._view.loading.setVisible(True)
        case_id = self.case_id
        self._runner.run(
            lambda: self._source.load(case_id),
            on_done=self._on_loaded,
            on_error=self._on_load_error,
            owner=self,
        )

    # --- handlers
    def _on_loaded(self, detail: CaseDetail) -> None:
        self.detail = detail
        self._fill(detail)
        self._view.loading.setVisible(False)
        self.loaded.emit()

    def _on_load_error(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            raise exc  # a bug: to the crash handler (or the failing test)
        self._view.loading.setText(self.tr("Ärendet kunde inte hämtas: %s") % exc.message)
        self.load_failed.emit(exc.message)

    # --- internals
    def _fill(self, d: CaseDetail) -> None:
        v = self._view
        v.setWindowTitle(f"{TITLE_PREFIX} {d.case_number}")
        if d.protected:
            address = self.tr("skyddad")
        else:
            address = ", ".join(
                p for p in (d.address, " ".join(x for x in (d.postcode, d.town) if x)) if p
            )
        yes, no = self.tr("ja"), self.tr("nej")
        values = {
            "case_number": d.case_number,
            "status": d.status_label,
            "opened": _day(d.opened_on),
            "closed": _day(d.closed_on),
            "caseworker": d.caseworker_name or self.tr("ej fördelat"),
            "direction": d.direction_label,
            "focus": yes if d.is_focus else no,
            "address": address,
            "housing_cost": (
                format_amount(d.housing_cost_ore) if d.housing_cost_ore is not None else ""
            ),
            "summary": d.summary,
        }
        for key, text in values.items():
            v.fields[key].setText(text)
        fill_table(
            v.members,
            [
                (
                    m.name,
                    m.personal_id,
                    str(m.age),
                    m.role_label,
                    _day(m.valid_from),
                    _day(m.valid_to),
                    self.tr("skyddad") if m.protected else "",
                )
                for m in d.members
            ],
        )
        signed, draft, correction = self.tr("signerad"), self.tr("utkast"), self.tr("rättelse")
        fill_table(
            v.notes,
            [
                (
                    _time(n.occurred_at),
                    n.agency_label,
                    n.method_label,
                    n.counterpart,
                    (signed if n.signed else draft) + (f" ({correction})" if n.corrects_id else ""),
                    n.text,
                )
                for n in d.notes
            ],
        )
        fill_table(v.months, [(f"{m.month:%Y-%m}", format_amount(m.amount_ore)) for m in d.months])
        fill_table(v.history, [(_time(h.occurred_at), h.actor, h.action_label) for h in d.history])


class CaseWindows(QObject):
    """Opens case windows, one per case; re-activating a case raises its window."""

    def __init__(
        self, *, source: CaseSource, runner: Runner, parent_window: QWidget | None = None
    ) -> None:
        super().__init__(parent_window)
        self._source = source
        self._runner = runner
        self._parent_window = parent_window
        self._open: dict[uuid.UUID, CaseController] = {}

    def controller(self, case_id: uuid.UUID) -> CaseController | None:
        return self._open.get(case_id)

    def open(self, case_id: uuid.UUID) -> CaseController:
        existing = self._open.get(case_id)
        if existing is not None:
            view = existing.parent()
            assert isinstance(view, CaseView)
            view.show()
            view.raise_()
            view.activateWindow()
            return existing
        view = CaseView(self._parent_window)
        controller = CaseController(
            view=view, source=self._source, runner=self._runner, case_id=case_id
        )
        self._open[case_id] = controller
        view.closed.connect(lambda: self._open.pop(case_id, None))
        view.show()
        return controller
