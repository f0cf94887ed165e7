"""First start on an empty database: create the administrator and the first unit.

Shown only when the database has no users at all; the service refuses a
second first run, so two workstations racing cannot both create one. The
administrator is created in a worker (hashing the password takes a moment).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
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
from services.users import PASSWORD_MIN
from ui.login_dialog import ERROR_STYLE, busy_bar
from ui.worker import Runner

# (username, full name, password, unit name) → the logged-in administrator
CreateAdmin = Callable[[str, str, str, str], SessionUser]


class FirstRunDialog(QDialog):
    """Unit, name, username and the password twice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fokus – första start"))
        self.setObjectName("firstRunDialog")
        self.intro = QLabel(
            self.tr(
                "<b>Databasen är ny.</b><br>Skapa den första enheten och en administratör. "
                "Administratören lägger sedan till handläggare."
            )
        )
        self.intro.setWordWrap(True)
        self.unit = QLineEdit()
        self.unit.setAccessibleName(self.tr("Enhet"))
        self.unit.setPlaceholderText(self.tr("t.ex. Försörjningsstöd Södertälje"))
        self.full_name = QLineEdit()
        self.full_name.setAccessibleName(self.tr("Namn"))
        self.username = QLineEdit()
        self.username.setAccessibleName(self.tr("Användarnamn"))
        self.username.setPlaceholderText(self.tr("små bokstäver, t.ex. admin"))
        self.password = QLineEdit()
        self.password.setAccessibleName(self.tr("Lösenord"))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(self.tr("minst %d tecken") % PASSWORD_MIN)
        self.repeat = QLineEdit()
        self.repeat.setAccessibleName(self.tr("Upprepa lösenordet"))
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.status = QLabel()
        self.status.setObjectName("firstRunStatus")
        self.status.setVisible(False)
        self.busy = busy_bar()
        self.error = QLabel()
        self.error.setObjectName("firstRunError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText(self.tr("Skapa administratör"))

        form = QFormLayout()
        form.addRow(self.tr("&Enhet:"), self.unit)
        form.addRow(self.tr("&Namn:"), self.full_name)
        form.addRow(self.tr("&Användarnamn:"), self.username)
        form.addRow(self.tr("&Lösenord:"), self.password)
        form.addRow(self.tr("&Upprepa lösenord:"), self.repeat)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.busy)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)

    def set_busy(self, busy: bool, text: str = "") -> None:
        """Lock the form and show ``text`` with a moving bar while the worker runs."""
        for widget in (
            self.unit,
            self.full_name,
            self.username,
            self.password,
            self.repeat,
            self.create_button,
        ):
            widget.setEnabled(not busy)
        self.status.setText(text)
        self.status.setVisible(busy)
        self.busy.setVisible(busy)
        if busy:
            self.error.setVisible(False)


class FirstRunController(QObject):
    """Checks the two passwords match, then asks the service (in a worker) to create the
    administrator; ``finished_work`` is emitted when the worker has answered."""

    finished_work = Signal()

    def __init__(self, *, dialog: FirstRunDialog, create: CreateAdmin, runner: Runner) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._create = create
        self._runner = runner
        self._working = False
        self.user: SessionUser | None = None
        dialog.unit.setFocus()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._dialog.buttons.accepted.connect(self._on_create_clicked)
        self._dialog.buttons.rejected.connect(self._dialog.reject)

    def _on_create_clicked(self) -> None:
        d = self._dialog
        if self._working:
            return
        if d.password.text() != d.repeat.text():
            d.show_error(self.tr("lösenord: de två lösenorden skiljer sig åt"))
            d.repeat.clear()
            d.repeat.setFocus()
            return
        args = (d.username.text(), d.full_name.text(), d.password.text(), d.unit.text())
        create = self._create
        self._working = True
        d.set_busy(True, self.tr("Skapar administratören …"))
        self._runner.run(lambda: create(*args), on_done=self._on_created, on_error=self._on_failed)

    def _on_created(self, user: SessionUser) -> None:
        self._working = False
        d = self._dialog
        d.set_busy(False)
        d.password.clear()
        d.repeat.clear()
        self.user = user
        d.accept()
        self.finished_work.emit()

    def _on_failed(self, exc: BaseException) -> None:
        self._working = False
        d = self._dialog
        d.set_busy(False)
        if not isinstance(exc, FokusError):
            raise exc  # a bug: the crash handler reports it
        d.show_error(exc.message)
        self.finished_work.emit()
