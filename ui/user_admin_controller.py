"""User administration, the behaviour: load the accounts, run each change in a worker.

Every change goes through :class:`services.user_admin.UserAdminService`
(which checks the role, validates and audits) in the background; a dialog
stays open with its fields until the service has accepted the change, and a
refused field gets its Swedish message beside it. A change based on an
outdated row (someone else changed the account meanwhile) is refused by the
version check; the list is then reloaded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from PySide6.QtCore import QObject, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from services.audit import LOCAL_TZ
from services.errors import ConflictError, FokusError, ValidationError
from services.user_admin import UserChanges, UserRow
from services.users import UserInput
from ui.user_admin_view import (
    COL_USERNAME,
    ROW_ROLE,
    SORT_ROLE,
    PasswordDialog,
    UserAdminWindow,
    UserFormDialog,
    UserTableModel,
    _FormDialog,
)
from ui.worker import LatestOnly, Runner


class UserAdmin(Protocol):
    """What the window needs of :class:`services.user_admin.UserAdminService`."""

    def list_users(self) -> list[UserRow]: ...
    def unit_names(self) -> list[str]: ...
    def add_user(self, data: UserInput) -> UserRow: ...
    def update_user(
        self, user_id: uuid.UUID, expected_version: int, changes: UserChanges
    ) -> UserRow: ...
    def set_active(self, user_id: uuid.UUID, expected_version: int, active: bool) -> UserRow: ...
    def reset_password(
        self, user_id: uuid.UUID, expected_version: int, password: str
    ) -> UserRow: ...
    def unlock(self, user_id: uuid.UUID, expected_version: int) -> UserRow: ...


Confirm = Callable[[QWidget, str], bool]


def ask(parent: QWidget, question: str) -> bool:
    """A Yes/No question in a message box (Swedish buttons via the Qt translation)."""
    answer = QMessageBox.question(parent, "Fokus", question)
    return answer == QMessageBox.StandardButton.Yes


class UserAdminController(QObject):
    """Drives :class:`UserAdminWindow`; ``loaded`` and ``changed`` tell tests when work is done.

    ``dialog_opened`` hands each dialog to whoever listens before it is
    shown (tests fill it in; the dialogs are window-modal, never ``exec()``).
    """

    loaded = Signal()
    changed = Signal(str)  # the Swedish status line after a change
    failed = Signal(str)
    dialog_opened = Signal(QDialog)

    def __init__(
        self,
        *,
        window: UserAdminWindow,
        service: UserAdmin,
        runner: Runner,
        confirm: Confirm = ask,
        clock: Callable[[], datetime] = lambda: datetime.now(LOCAL_TZ),
    ) -> None:
        super().__init__(window)
        self._window = window
        self._service = service
        self._runner = runner
        self._loads = LatestOnly(runner)
        self._confirm = confirm
        self._clock = clock
        self._units: list[str] = []
        self._select_after_load: uuid.UUID | None = None
        self._announcement = ""
        self.model = UserTableModel(window)
        self.proxy = QSortFilterProxyModel(window)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        window.table.setModel(self.proxy)
        window.table.sortByColumn(COL_USERNAME, Qt.SortOrder.AscendingOrder)
        self._connect_signals()
        self._update_buttons()
        self.reload()

    def _connect_signals(self) -> None:
        w = self._window
        w.filter.textChanged.connect(self.proxy.setFilterFixedString)
        w.refresh_button.clicked.connect(self.reload)
        w.add_button.clicked.connect(self._on_add_clicked)
        w.edit_button.clicked.connect(self._on_edit_clicked)
        w.active_button.clicked.connect(self._on_active_clicked)
        w.password_button.clicked.connect(self._on_password_clicked)
        w.unlock_button.clicked.connect(self._on_unlock_clicked)
        w.table.selectionModel().selectionChanged.connect(self._update_buttons)
        w.table.doubleClicked.connect(self._on_edit_clicked)

    # --- loading ------------------------------------------------------------------------------

    def reload(self) -> None:
        self._window.busy.setVisible(True)
        self._window.show_status(self.tr("Hämtar användarna …"))
        service = self._service
        self._loads.run(
            lambda: (service.list_users(), service.unit_names()),
            on_done=self._on_loaded,
            on_error=self._on_load_failed,
            owner=self._window,
        )

    def _on_loaded(self, result: tuple[list[UserRow], list[str]]) -> None:
        rows, self._units = result
        selected = self._select_after_load or self._selected_id()
        self._select_after_load = None
        self.model.set_rows(rows, self._clock())
        self._window.busy.setVisible(False)
        active = sum(1 for r in rows if r.active)
        self._window.show_status(self.tr("%d användare, %d aktiva") % (len(rows), active))
        if selected is not None:
            self._select(selected)
        self._update_buttons()
        self.loaded.emit()
        if self._announcement:
            text, self._announcement = self._announcement, ""
            self._window.show_status(text)
            self.changed.emit(text)

    def _on_load_failed(self, exc: BaseException) -> None:
        self._window.busy.setVisible(False)
        if not isinstance(exc, FokusError):
            raise exc
        self._window.show_status(exc.message, error=True)
        self.failed.emit(exc.message)

    # --- selection ----------------------------------------------------------------------------

    def selected(self) -> UserRow | None:
        indexes = self._window.table.selectionModel().selectedRows()
        if not indexes:
            return None
        row = self.proxy.data(indexes[0], ROW_ROLE)
        return row if isinstance(row, UserRow) else None

    def _selected_id(self) -> uuid.UUID | None:
        row = self.selected()
        return row.id if row is not None else None

    def _select(self, user_id: uuid.UUID) -> None:
        source_row = self.model.row_of(user_id)
        if source_row < 0:
            return
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if index.isValid():
            self._window.table.selectRow(index.row())

    def select_username(self, username: str) -> None:
        for i in range(self.model.rowCount()):
            if self.model.row_at(i).username == username:
                self._select(self.model.row_at(i).id)
                return

    def _update_buttons(self, *_args: Any) -> None:
        w = self._window
        row = self.selected()
        for b in (w.edit_button, w.active_button, w.password_button):
            b.setEnabled(row is not None)
        w.active_button.setText(
            self.tr("&Återaktivera")
            if row is not None and not row.active
            else self.tr("&Inaktivera")
        )
        w.unlock_button.setEnabled(row is not None and row.is_locked(self._clock()))

    # --- dialogs ------------------------------------------------------------------------------

    def _open(self, dialog: _FormDialog, submit: Callable[[], None]) -> None:
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.buttons.accepted.connect(submit)
        dialog.buttons.rejected.connect(dialog.reject)
        self.dialog_opened.emit(dialog)
        dialog.open()

    def _on_add_clicked(self) -> None:
        dialog = UserFormDialog(units=self._units, parent=self._window)
        dialog.username.setFocus()

        def submit() -> None:
            dialog.clear_errors()
            if dialog.password.text() != dialog.repeat.text():
                dialog.show_field_error("upprepa lösenord", self.tr("lösenorden skiljer sig åt"))
                dialog.repeat.clear()
                return
            data = UserInput(
                username=dialog.username.text(),
                full_name=dialog.full_name.text(),
                role=dialog.selected_role(),
                unit_name=dialog.unit.currentText(),
                password=dialog.password.text(),
            )
            service = self._service
            self._submit(
                dialog,
                lambda: service.add_user(data),
                lambda row: self.tr("Användaren %s är skapad.") % row.username,
            )

        self._open(dialog, submit)

    def _on_edit_clicked(self, *_args: Any) -> None:
        row = self.selected()
        if row is None:
            return
        dialog = UserFormDialog(units=self._units, user=row, parent=self._window)
        dialog.full_name.setFocus()

        def submit() -> None:
            dialog.clear_errors()
            changes = UserChanges(
                full_name=dialog.full_name.text(),
                role=dialog.selected_role(),
                unit_name=dialog.unit.currentText(),
            )
            service = self._service
            self._submit(
                dialog,
                lambda: service.update_user(row.id, row.version, changes),
                lambda r: self.tr("Användaren %s är ändrad.") % r.username,
            )

        self._open(dialog, submit)

    def _on_password_clicked(self) -> None:
        row = self.selected()
        if row is None:
            return
        dialog = PasswordDialog(username=row.username, parent=self._window)
        dialog.password.setFocus()

        def submit() -> None:
            dialog.clear_errors()
            if dialog.password.text() != dialog.repeat.text():
                dialog.show_field_error("upprepa lösenord", self.tr("lösenorden skiljer sig åt"))
                dialog.repeat.clear()
                return
            password = dialog.password.text()
            service = self._service
            self._submit(
                dialog,
                lambda: service.reset_password(row.id, row.version, password),
                lambda r: self.tr("%s har fått ett nytt lösenord.") % r.username,
            )

        self._open(dialog, submit)

    def _submit(
        self, dialog: _FormDialog, work: Callable[[], UserRow], done_text: Callable[[UserRow], str]
    ) -> None:
        dialog.set_busy(True)

        def done(row: UserRow) -> None:
            if isinstance(dialog, PasswordDialog | UserFormDialog):
                for field in ("password", "repeat"):
                    getattr(dialog, field).clear()
            dialog.set_busy(False)
            dialog.accept()
            self._after_change(row, done_text(row))

        def failed(exc: BaseException) -> None:
            dialog.set_busy(False)
            if isinstance(exc, ValidationError):
                for error in exc.errors:
                    if not dialog.show_field_error(error.field, error.message):
                        dialog.show_error(str(error))
                return
            if isinstance(exc, ConflictError):
                dialog.show_error(exc.message)
                self.reload()
                return
            if isinstance(exc, FokusError):
                dialog.show_error(exc.message)
                return
            raise exc

        self._runner.run(work, on_done=done, on_error=failed, owner=dialog)

    # --- one-click changes --------------------------------------------------------------------

    def _on_active_clicked(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.active:
            question = self.tr(
                "Inaktivera %s? Kontot kan inte logga in längre, men allt användaren har "
                "gjort finns kvar. Du kan återaktivera kontot senare."
            ) % (row.username)
            if not self._confirm(self._window, question):
                return
        service = self._service
        active = not row.active
        text = (
            self.tr("%s är återaktiverad.") if active else self.tr("%s är inaktiverad.")
        ) % row.username
        self._run_change(lambda: service.set_active(row.id, row.version, active), text)

    def _on_unlock_clicked(self) -> None:
        row = self.selected()
        if row is None:
            return
        service = self._service
        self._run_change(
            lambda: service.unlock(row.id, row.version),
            self.tr("%s är upplåst och kan logga in igen.") % row.username,
        )

    def _run_change(self, work: Callable[[], UserRow], text: str) -> None:
        self._window.busy.setVisible(True)

        def failed(exc: BaseException) -> None:
            self._window.busy.setVisible(False)
            if not isinstance(exc, FokusError):
                raise exc
            self._window.show_status(exc.message, error=True)
            self.failed.emit(exc.message)
            if isinstance(exc, ConflictError):
                self.reload()

        self._runner.run(
            work,
            on_done=lambda row: self._after_change(row, text),
            on_error=failed,
            owner=self._window,
        )

    def _after_change(self, row: UserRow, text: str) -> None:
        """Reload the list with the changed account selected, then say what was done."""
        self._select_after_load = row.id
        self._announcement = text
        self.reload()


def open_user_admin(
    *, service: UserAdmin, runner: Runner, parent: QWidget | None = None
) -> tuple[UserAdminWindow, UserAdminController]:
    """Build the window and its controller (the caller shows the window)."""
    window = UserAdminWindow(parent)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    controller = UserAdminController(window=window, service=service, runner=runner)
    return window, controller


class UserAdminMenu(QObject):
    """Administration → Användare in the main window: opens (or raises) the one user window."""

    opened = Signal(UserAdminWindow)

    def __init__(
        self,
        *,
        main_window: Any,
        service: UserAdmin,
        runner: Runner,
    ) -> None:
        super().__init__(main_window)
        self._main = main_window
        self._service = service
        self._runner = runner
        self.window: UserAdminWindow | None = None
        self.controller: UserAdminController | None = None
        main_window.admin_menu.menuAction().setVisible(True)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._main.users_action.triggered.connect(self.open)

    def open(self) -> None:
        if self.window is not None:
            self.window.show()
            self.window.raise_()
            self.window.activateWindow()
            return
        window, controller = open_user_admin(
            service=self._service, runner=self._runner, parent=self._main
        )
        window.destroyed.connect(self._on_window_destroyed)
        self.window, self.controller = window, controller
        window.show()
        self.opened.emit(window)

    def _on_window_destroyed(self) -> None:
        self.window = None
        self.controller = None
