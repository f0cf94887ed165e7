"""Nödåtkomst: open a case outside one's scope, with a stated reason (issue 6 item 3).

Arkiv → "Nödåtkomst till ärende …" asks for the case number, shows only what
may be known of a case outside one's scope (its number and whether it holds
protected persons, from :meth:`services.access.AccessService.find_case`), and
opens it once a reason is given. The grant lasts until the end of the day (or
the ``emergency_access_hours`` setting), is audited as ``emergency_access`` and
is listed for the arbetsledare under Logguppföljning. A case the user may
already open is opened without a reason. Every call runs in the worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from services.access import CaseAccess, CaseBrief, EmergencyGrant
from services.errors import FokusError, NotFoundError, ValidationError
from ui.worker import Runner

ERROR_STYLE = "color: #b00020;"


class EmergencySource(Protocol):
    def find_case(self, case_number: str) -> CaseBrief: ...
    def case_access(self, case_id: uuid.UUID) -> CaseAccess: ...
    def request_emergency_access(self, case_id: uuid.UUID, reason: str) -> EmergencyGrant: ...


def _error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.setVisible(False)
    return label


class EmergencyDialog(QDialog):
    """Case number, what is known of the case, the reason; layout only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fokus – nödåtkomst"))
        self.setObjectName("emergencyDialog")
        self.setMinimumWidth(480)
        intro = QLabel(
            self.tr(
                "Nödåtkomst öppnar ett ärende som inte hör till dig, till dagens slut. "
                "Ange varför du behöver det. Åtkomsten loggas och visas för arbetsledaren."
            )
        )
        intro.setWordWrap(True)

        self.case_number = QLineEdit()
        self.case_number.setAccessibleName(self.tr("Ärendenummer"))
        self.case_number.setPlaceholderText(self.tr("FS-2026-00012"))
        self.find_button = QPushButton(self.tr("&Hämta"))
        self.case_error = _error_label()
        row = QHBoxLayout()
        row.addWidget(self.case_number, 1)
        row.addWidget(self.find_button)

        self.brief = QLabel()
        self.brief.setWordWrap(True)
        self.brief.setAccessibleName(self.tr("Ärendet"))

        self.reason = QPlainTextEdit()
        self.reason.setAccessibleName(self.tr("Skäl"))
        self.reason.setPlaceholderText(
            self.tr("Till exempel: klienten ringer akut, ordinarie handläggare är sjuk")
        )
        self.reason.setFixedHeight(80)
        self.reason_error = _error_label()

        form = QFormLayout()
        form.addRow(self.tr("Ärendenummer"), row)
        form.addRow("", self.case_error)
        form.addRow(self.tr("Ärendet"), self.brief)
        form.addRow(self.tr("Skäl"), self.reason)
        form.addRow("", self.reason_error)

        self.status = _error_label()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.open_button = self.buttons.addButton(
            self.tr("Öppna med nödåtkomst"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.open_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)


class EmergencyController(QObject):
    """Finds the case, asks for the reason, requests the grant; ``opened`` gives the case id."""

    opened = Signal(object)  # uuid.UUID

    def __init__(
        self, *, dialog: EmergencyDialog, service: EmergencySource, runner: Runner
    ) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._service = service
        self._runner = runner
        self.brief: CaseBrief | None = None
        self.access: CaseAccess | None = None
        self._busy = False
        self._connect_signals()

    def _connect_signals(self) -> None:
        d = self._dialog
        d.find_button.clicked.connect(self._on_find_clicked)
        d.case_number.returnPressed.connect(self._on_find_clicked)
        d.case_number.textEdited.connect(self._on_case_number_edited)
        d.buttons.rejected.connect(d.reject)
        d.open_button.clicked.connect(self._on_open_clicked)

    # --- finding the case ------------------------------------------------------------------

    def _on_case_number_edited(self) -> None:
        self.brief = self.access = None
        self._dialog.brief.clear()
        self._dialog.case_error.setVisible(False)
        self._dialog.open_button.setEnabled(False)

    def _on_find_clicked(self) -> None:
        d = self._dialog
        number = d.case_number.text().strip()
        if not number:
            self._show(d.case_error, self.tr("Ärendenummer: ange ärendets nummer"))
            return
        if self._busy:
            return
        self._set_busy(True)
        d.brief.setText(self.tr("Hämtar …"))
        service = self._service

        def find() -> tuple[CaseBrief, CaseAccess]:
            brief = service.find_case(number)
            return brief, service.case_access(brief.id)

        self._runner.run(find, on_done=self._on_found, on_error=self._on_error, owner=self)

    def _on_found(self, found: tuple[CaseBrief, CaseAccess]) -> None:
        self._set_busy(False)
        brief, access = found
        self.brief, self.access = brief, access
        d = self._dialog
        text = self.tr("Ärende %s.") % brief.case_number
        if brief.protected:
            text += " " + self.tr(
                "Ärendet har skyddade personuppgifter: nödåtkomsten flaggas särskilt."
            )
        if access.allowed and access.via != "nödåtkomst":
            text += " " + self.tr("Du har redan tillgång till ärendet (%s).") % access.via
            d.open_button.setText(self.tr("Öppna"))
        elif access.allowed:
            text += " " + self.tr("Du har redan nödåtkomst till ärendet.")
            d.open_button.setText(self.tr("Öppna"))
        else:
            d.open_button.setText(self.tr("Öppna med nödåtkomst"))
        d.brief.setText(text)
        d.open_button.setEnabled(True)
        d.reason.setFocus()

    # --- opening -----------------------------------------------------------------------

    def _on_open_clicked(self) -> None:
        if self.brief is None or self._busy:
            return
        d = self._dialog
        case_id = self.brief.id
        if self.access is not None and self.access.allowed:
            self._opened(case_id)
            return
        reason = d.reason.toPlainText()
        d.reason_error.setVisible(False)
        self._set_busy(True)
        service = self._service
        self._runner.run(
            lambda: service.request_emergency_access(case_id, reason),
            on_done=lambda grant: self._opened(grant.case_id),
            on_error=self._on_error,
            owner=self,
        )

    def _opened(self, case_id: uuid.UUID) -> None:
        self._set_busy(False)
        self.opened.emit(case_id)
        self._dialog.accept()

    # --- errors and state --------------------------------------------------------------

    def _on_error(self, exc: BaseException) -> None:
        self._set_busy(False)
        d = self._dialog
        if not isinstance(exc, FokusError):
            raise exc  # a bug: to the crash handler (or the failing test)
        if isinstance(exc, NotFoundError):
            d.brief.clear()
            self._show(d.case_error, exc.message)
        elif isinstance(exc, ValidationError):
            for error in exc.errors:
                target = d.reason_error if error.field == "skäl" else d.status
                self._show(target, f"{error.field.capitalize()}: {error.message}")
        else:
            d.brief.clear()
            self._show(d.status, exc.message)

    def _show(self, label: QLabel, text: str) -> None:
        label.setText(text)
        label.setVisible(True)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        d = self._dialog
        d.find_button.setEnabled(not busy)
        d.open_button.setEnabled(not busy and self.brief is not None)
        d.setCursor(Qt.CursorShape.BusyCursor if busy else Qt.CursorShape.ArrowCursor)


class EmergencyAccessMenu(QObject):
    """Arkiv → Nödåtkomst till ärende …: one dialog at a time; the case opens in its window."""

    def __init__(
        self,
        *,
        main_window: Any,
        service: EmergencySource,
        runner: Runner,
        open_case: Callable[[uuid.UUID], None],
    ) -> None:
        super().__init__(main_window)
        self._main = main_window
        self._service = service
        self._runner = runner
        self._open_case = open_case
        self.dialog: EmergencyDialog | None = None
        main_window.emergency_action.setVisible(True)
        main_window.emergency_action.triggered.connect(self.open)

    def open(self) -> None:
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dialog = EmergencyDialog(self._main)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        controller = EmergencyController(dialog=dialog, service=self._service, runner=self._runner)
        controller.opened.connect(self._open_case)
        dialog.destroyed.connect(self._on_destroyed)
        self.dialog = dialog
        dialog.show()
        dialog.case_number.setFocus()

    def _on_destroyed(self) -> None:
        self.dialog = None
