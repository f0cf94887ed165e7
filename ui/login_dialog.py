"""Logging in: the dialog (layout) and its controller (behaviour).

The last username is remembered in the view state; the password never is.
The controller gets the check as a callable, so it neither knows the
database nor how passwords are hashed. The check runs in a worker
(argon2id takes a tenth of a second or more, a network database longer):
meanwhile the dialog shows "Loggar in …", its fields are locked and the
window keeps repainting.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
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
from ui.worker import Runner

ERROR_STYLE = "color: #a40000; font-weight: bold;"


class BusyIndicator(QLabel):
    """Three dots that move while a worker runs (hidden until then).

    Deliberately not an indeterminate :class:`QProgressBar`: its busy
    animation belongs to the style, and a dialog deleted while that animation
    was registered crashed Qt 6.11 later in the event loop (seen in the
    start-up tests). This one is driven by its own timer, a child that dies
    with it.
    """

    FRAMES = ("●  ○  ○", "○  ●  ○", "○  ○  ●", "○  ●  ○")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("busyIndicator")
        self.setAccessibleName(self.tr("Arbetar"))
        self.setStyleSheet("color: #2b5797;")
        self._frame = 0
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._next)
        self.setText(self.FRAMES[0])
        super().setVisible(False)

    def setVisible(self, visible: bool) -> None:  # noqa: N802
        super().setVisible(visible)
        if visible:
            self._frame = 0
            self.setText(self.FRAMES[0])
            self._timer.start()
        else:
            self._timer.stop()

    def _next(self) -> None:
        self._frame = (self._frame + 1) % len(self.FRAMES)
        self.setText(self.FRAMES[self._frame])


def busy_bar() -> BusyIndicator:
    """The busy indicator shown while a worker runs (hidden until then)."""
    return BusyIndicator()


class BusyDialog(QDialog):
    """A small application-modal "please wait" window: a line of text and the busy dots.

    Shown only after ``delay_ms`` (quick work shows nothing); it cannot be
    closed by the user, because the work behind it cannot be stopped halfway.
    """

    def __init__(self, text: str, *, delay_ms: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fokus")
        self.setObjectName("busyDialog")
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.label = QLabel(text)
        self.indicator = BusyIndicator()
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.indicator)
        self.setMinimumWidth(320)
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.timeout.connect(self._appear)
        self._delay.start(max(0, delay_ms))
        self._finished = False

    def _appear(self) -> None:
        if not self._finished:
            self.indicator.setVisible(True)
            self.show()

    def finish(self) -> None:
        """The work is done: never appear, or disappear now."""
        self._finished = True
        self._delay.stop()
        self.indicator.setVisible(False)
        self.hide()

    def reject(self) -> None:
        """Esc does nothing: the work behind this window cannot be stopped."""

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._finished:
            super().closeEvent(event)
        else:
            event.ignore()


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
        self.status = QLabel()
        self.status.setObjectName("loginStatus")
        self.status.setVisible(False)
        self.busy = busy_bar()
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
        layout.addWidget(self.status)
        layout.addWidget(self.busy)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(380)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)

    def set_busy(self, busy: bool, text: str = "") -> None:
        """Lock the fields and show ``text`` with a moving bar while a check runs."""
        for widget in (self.username, self.password, self.login_button):
            widget.setEnabled(not busy)
        self.status.setText(text)
        self.status.setVisible(busy)
        self.busy.setVisible(busy)
        if busy:
            self.error.setVisible(False)


class LoginController(QObject):
    """Checks the credentials in a worker; keeps the dialog open with the message on failure.

    ``checked`` is emitted when a check has come back, whichever way it went.
    Cancelling while a check runs keeps the user logged out.
    """

    checked = Signal()

    def __init__(
        self,
        *,
        dialog: LoginDialog,
        authenticate: Callable[[str, str], SessionUser],
        state: ViewState,
        runner: Runner,
    ) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._authenticate = authenticate
        self._state = state
        self._runner = runner
        self._checking = False
        self._cancelled = False
        self.user: SessionUser | None = None
        last = state.last_username
        dialog.username.setText(last)
        (dialog.password if last else dialog.username).setFocus()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._dialog.buttons.accepted.connect(self._on_login_clicked)
        self._dialog.buttons.rejected.connect(self._dialog.reject)
        self._dialog.rejected.connect(self._on_rejected)

    @property
    def checking(self) -> bool:
        """A password check is running in the worker."""
        return self._checking

    def _on_login_clicked(self) -> None:
        d = self._dialog
        if self._checking:
            return
        username = d.username.text().strip()
        if not username:
            d.show_error(self.tr("ange ditt användarnamn"))
            d.username.setFocus()
            return
        password = d.password.text()
        check = self._authenticate
        self._checking = True
        self._cancelled = False
        d.set_busy(True, self.tr("Loggar in …"))
        self._runner.run(
            lambda: check(username, password),
            on_done=self._on_checked,
            on_error=self._on_refused,
            owner=d,
        )

    def _on_rejected(self) -> None:
        self._cancelled = True

    def _on_checked(self, user: SessionUser) -> None:
        self._checking = False
        d = self._dialog
        d.set_busy(False)
        d.password.clear()
        if not self._cancelled:
            self.user = user
            self._state.last_username = user.username
            self._state.sync()
            d.accept()
        self.checked.emit()

    def _on_refused(self, exc: BaseException) -> None:
        self._checking = False
        d = self._dialog
        d.set_busy(False)
        if not isinstance(exc, FokusError):
            raise exc  # a bug: the crash handler reports it
        d.show_error(exc.message)
        d.password.clear()
        d.password.setFocus()
        self.checked.emit()
