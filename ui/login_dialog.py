"""Logging in: the dialog (layout) and its controller (behaviour).

The last username is remembered in the view state; the password never is.
The controller gets the check as a callable, so it neither knows the
database nor how passwords are hashed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from services.auth import SessionUser
from services.errors import FokusError
from ui.view_state import ViewState

ERROR_STYLE = "color: #a40000; font-weight: bold;"


class LoginDialog(QDialog):
    """Username, password, a line for the error and the buttons."""

    def __init__(self, *, database_label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fokus – logga in"))
        self.setObjectName("loginDialog")
        self.heading = QLabel(self.tr("<b>Logga in i Fokus</b>"))
        self.database = QLabel(database_label)
        self.database.setObjectName("databaseLabel")
        self.database.setStyleSheet("color: #555;")
        self.database.setVisible(bool(database_label))
        self.username = QLineEdit()
        self.username.setAccessibleName(self.tr("Användarnamn"))
        self.username.setMaxLength(64)
        self.password = QLineEdit()
        self.password.setAccessibleName(self.tr("Lösenord"))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel()
        self.error.setObjectName("loginError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.login_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.login_button.setText(self.tr("Logga in"))

        form = QFormLayout()
        form.addRow(self.tr("&Användarnamn:"), self.username)
        form.addRow(self.tr("&Lösenord:"), self.password)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.database)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(380)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)


class LoginController(QObject):
    """Checks the credentials on "Logga in"; keeps the dialog open with the message on failure."""

    def __init__(
        self,
        *,
        dialog: LoginDialog,
        authenticate: Callable[[str, str], SessionUser],
        state: ViewState,
    ) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._authenticate = authenticate
        self._state = state
        self.user: SessionUser | None = None
        last = state.last_username
        dialog.username.setText(last)
        (dialog.password if last else dialog.username).setFocus()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._dialog.buttons.accepted.connect(self._on_login_clicked)
        self._dialog.buttons.rejected.connect(self._dialog.reject)

    def _on_login_clicked(self) -> None:
        d = self._dialog
        username = d.username.text().strip()
        if not username:
            d.show_error(self.tr("ange ditt användarnamn"))
            d.username.setFocus()
            return
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            user = self._authenticate(username, d.password.text())
        except FokusError as exc:
            d.show_error(exc.message)
            d.password.clear()
            d.password.setFocus()
            return
        finally:
            QGuiApplication.restoreOverrideCursor()
        d.password.clear()
        self.user = user
        self._state.last_username = user.username
        self._state.sync()
        d.accept()
