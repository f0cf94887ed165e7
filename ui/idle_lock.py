"""The idle lock: after some minutes without input, case data is covered until the password.

:class:`IdleWatcher` is an application-wide event filter: every key press,
mouse click, mouse move, wheel turn or touch restarts a single-shot
:class:`QTimer`; when it runs out the watcher emits ``idle``.
:class:`IdleLock` then covers every open window with an opaque curtain,
replaces its title (a case window's title names the case) and shows
:class:`LockDialog`, application-modal, asking for the password again.

Windows are covered rather than hidden: hiding a dialog that is running
``exec()`` would end it and throw away what the user typed in it. Under the
lock the windows keep their state; input cannot reach them (the lock dialog
is modal) and nothing of them can be seen. A window that appears while
locked is covered as it shows.

The password is checked in a worker through the service (argon2id takes a
moment); failures count toward the account's lockout like failed logins.
"Logga ut" emits ``logout_requested``; start-up quits the application (an
autosaved draft survives, nothing is saved on the user's behalf).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from services.auth import SessionUser
from services.errors import FokusError
from ui.login_dialog import ERROR_STYLE, busy_bar
from ui.worker import Runner

log = logging.getLogger(__name__)

LOCKED_TITLE = "Fokus – låst"
CURTAIN_STYLE = (
    "QWidget#idleCurtain { background: #2b3a4a; }"
    " QLabel { color: #ffffff; font-size: 16pt; font-weight: bold; }"
)

_INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
        QEvent.Type.TabletMove,
        QEvent.Type.InputMethod,
    }
)


class IdleWatcher(QObject):
    """Emits ``idle`` after ``interval_ms`` without keyboard, mouse or touch input."""

    idle = Signal()

    def __init__(self, *, interval_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setObjectName("idleTimer")
        self.timer.setSingleShot(True)
        # precise: a coarse timer may keep its old deadline when restarted within its slack
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(max(1, interval_ms))
        self.timer.timeout.connect(self.idle)
        self._installed = False

    def start(self) -> None:
        """Watch the whole application and start counting."""
        app = QApplication.instance()
        if app is not None and not self._installed:
            app.installEventFilter(self)
            self._installed = True
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None and self._installed:
            app.removeEventFilter(self)
            self._installed = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in _INPUT_EVENTS and self.timer.isActive():
            self.timer.start()  # restart: the countdown begins again from now
        return False


class LockDialog(QDialog):
    """ "Fokus är låst": the password again, or log out. Esc and the close box do nothing."""

    def __init__(self, *, user_label: str, minutes: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr(LOCKED_TITLE))
        self.setObjectName("idleLockDialog")
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.heading = QLabel(self.tr("<b>Fokus är låst</b>"))
        self.explanation = QLabel(
            self.tr(
                "Fokus låstes efter %d minuter utan aktivitet, så att ingen ser ärendena "
                "medan du är borta. Ange ditt lösenord för att fortsätta där du var."
            )
            % minutes
        )
        self.explanation.setWordWrap(True)
        self.user = QLabel(user_label)
        self.user.setObjectName("lockedUser")
        self.password = QLineEdit()
        self.password.setAccessibleName(self.tr("Lösenord"))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.status = QLabel()
        self.status.setVisible(False)
        self.busy = busy_bar()
        self.error = QLabel()
        self.error.setObjectName("lockError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox()
        self.unlock_button = QPushButton(self.tr("Lås &upp"))
        self.unlock_button.setDefault(True)
        self.logout_button = QPushButton(self.tr("Logga &ut"))
        self.buttons.addButton(self.unlock_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.logout_button, QDialogButtonBox.ButtonRole.DestructiveRole)

        form = QFormLayout()
        form.addRow(self.tr("Användare:"), self.user)
        form.addRow(self.tr("&Lösenord:"), self.password)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.explanation)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.busy)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        self._may_close = False

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)

    def set_busy(self, busy: bool, text: str = "") -> None:
        for widget in (self.password, self.unlock_button, self.logout_button):
            widget.setEnabled(not busy)
        self.status.setText(text)
        self.status.setVisible(busy)
        self.busy.setVisible(busy)
        if busy:
            self.error.setVisible(False)

    def finish(self) -> None:
        """Close for real (unlocked or logging out)."""
        self._may_close = True
        self.hide()

    def reject(self) -> None:
        """Esc must not open the lock."""

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._may_close:
            super().closeEvent(event)
        else:
            event.ignore()


class _Curtain(QWidget):
    """An opaque cover over one window while Fokus is locked."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("idleCurtain")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(CURTAIN_STYLE)
        label = QLabel(self.tr("Fokus är låst"))
        label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 40, 20, 20)  # above the lock dialog, which sits centred
        layout.addWidget(label)
        self.setGeometry(window.rect())
        self.show()
        self.raise_()


class IdleLock(QObject):
    """Covers every window after the idle time and uncovers it when the password is right.

    ``verify(password)`` raises a :class:`FokusError` when refused;
    ``on_locked()`` and ``on_logout()`` are called in a worker (they audit);
    a failing audit is logged and never keeps the screen unlocked.
    """

    locked = Signal()
    unlocked = Signal()
    logout_requested = Signal()
    checked = Signal()  # a password check came back, whichever way

    def __init__(
        self,
        *,
        watcher: IdleWatcher,
        runner: Runner,
        user: SessionUser,
        minutes: int,
        verify: Callable[[str], SessionUser],
        on_locked: Callable[[], None] | None = None,
        on_logout: Callable[[], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self._runner = runner
        self._user = user
        self._minutes = minutes
        self._verify = verify
        self._on_locked = on_locked
        self._on_logout = on_logout
        self._covered: dict[QWidget, tuple[_Curtain, str]] = {}
        self._checking = False
        self.dialog: LockDialog | None = None
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.watcher.idle.connect(self.lock)

    @property
    def is_locked(self) -> bool:
        return self.dialog is not None

    def start(self) -> None:
        self.watcher.start()

    def shutdown(self) -> None:
        """Stop watching for good (the program ends). Covered windows stay covered."""
        self.watcher.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        d = self.dialog
        self.dialog = None
        if d is not None:
            d.finish()
            d.deleteLater()

    def lock(self) -> None:
        """Cover every window and ask for the password (does nothing when already locked)."""
        if self.dialog is not None:
            return
        self.watcher.stop()
        self._close_popups()
        dialog = LockDialog(
            user_label=f"{self._user.full_name} ({self._user.username})", minutes=self._minutes
        )
        self.dialog = dialog
        for widget in QApplication.topLevelWidgets():
            self._cover(widget)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # windows that show while locked are covered too
        dialog.unlock_button.clicked.connect(self._on_unlock_clicked)
        dialog.password.returnPressed.connect(self._on_unlock_clicked)
        dialog.logout_button.clicked.connect(self._on_logout_clicked)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        dialog.password.setFocus()
        log.info("idle lock after %d minutes user_id=%s", self._minutes, self._user.user_id)
        if self._on_locked is not None:
            self._runner.run(self._on_locked, on_done=_ignore, on_error=_log_audit_failure)
        self.locked.emit()

    def _close_popups(self) -> None:
        popup = QApplication.activePopupWidget()
        while popup is not None:
            popup.close()
            following = QApplication.activePopupWidget()
            if following is popup:
                break
            popup = following

    def _coverable(self, widget: QWidget) -> bool:
        if widget is self.dialog or widget in self._covered or not widget.isWindow():
            return False
        if not widget.isVisible() or isinstance(widget, _Curtain):
            return False
        kind = widget.windowType()
        return kind not in (Qt.WindowType.Popup, Qt.WindowType.ToolTip)

    def _cover(self, widget: QWidget) -> None:
        if not self._coverable(widget):
            return
        curtain = _Curtain(widget)
        self._covered[widget] = (curtain, widget.windowTitle())
        widget.setWindowTitle(LOCKED_TITLE)

    def _uncover_all(self) -> None:
        for widget, (curtain, title) in list(self._covered.items()):
            if not shiboken6.isValid(widget):
                continue
            widget.setWindowTitle(title)
            if shiboken6.isValid(curtain):
                curtain.hide()
                curtain.deleteLater()
        self._covered.clear()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind == QEvent.Type.Show and isinstance(watched, QWidget) and watched.isWindow():
            self._cover(watched)
        elif isinstance(watched, QWidget) and watched in self._covered:
            curtain, _title = self._covered[watched]
            if kind == QEvent.Type.Resize and shiboken6.isValid(curtain):
                curtain.setGeometry(watched.rect())
                curtain.raise_()
            elif kind == QEvent.Type.ChildAdded and shiboken6.isValid(curtain):
                QTimer.singleShot(0, curtain.raise_)  # stay above widgets added under the lock
            elif kind == QEvent.Type.WindowTitleChange:
                current = watched.windowTitle()
                if current != LOCKED_TITLE:  # the window renamed itself: keep it for later
                    self._covered[watched] = (curtain, current)
                    watched.setWindowTitle(LOCKED_TITLE)
        return False

    def _on_unlock_clicked(self) -> None:
        d = self.dialog
        if d is None or self._checking:
            return
        password = d.password.text()
        d.password.clear()
        if not password:
            d.show_error(self.tr("ange ditt lösenord"))
            return
        verify = self._verify
        self._checking = True
        d.set_busy(True, self.tr("Kontrollerar lösenordet …"))
        self._runner.run(
            lambda: verify(password), on_done=self._on_verified, on_error=self._on_refused
        )

    def _on_verified(self, _user: SessionUser) -> None:
        self._checking = False
        d = self.dialog
        if d is None:
            return
        self._end_lock()
        log.info("idle lock opened user_id=%s", self._user.user_id)
        self.watcher.start()
        self.checked.emit()
        self.unlocked.emit()

    def _on_refused(self, exc: BaseException) -> None:
        self._checking = False
        d = self.dialog
        if d is None:
            return
        d.set_busy(False)
        if not isinstance(exc, FokusError):
            raise exc  # a bug: the crash handler reports it
        d.show_error(exc.message)
        d.password.setFocus()
        self.checked.emit()

    def _on_logout_clicked(self) -> None:
        d = self.dialog
        if d is None:
            return
        d.set_busy(True, self.tr("Loggar ut …"))
        if self._on_logout is None:
            self._logged_out()
            return
        self._runner.run(
            self._on_logout,
            on_done=lambda _r: self._logged_out(),
            on_error=self._on_logout_audit_failed,
        )

    def _on_logout_audit_failed(self, exc: BaseException) -> None:
        _log_audit_failure(exc)  # logging out must still work with the database gone
        self._logged_out()

    def _logged_out(self) -> None:
        log.info("logout from the idle lock user_id=%s", self._user.user_id)
        self.shutdown()  # the windows stay covered until the application has ended
        self.logout_requested.emit()

    def _end_lock(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self._uncover_all()
        d = self.dialog
        self.dialog = None
        if d is not None:
            d.finish()
            d.deleteLater()


def _ignore(_result: object) -> None:
    """The audit call returns nothing worth showing."""


def _log_audit_failure(exc: BaseException) -> None:
    log.error("idle lock: the audit event could not be written", exc_info=exc)


def install_idle_lock(
    *,
    runner: Runner,
    user: SessionUser,
    minutes: int,
    verify: Callable[[str], SessionUser],
    on_locked: Callable[[], None] | None = None,
    on_logout: Callable[[], None] | None = None,
    parent: QObject | None = None,
) -> IdleLock:
    """Watch the application and lock it after ``minutes`` (at least 1) without input."""
    minutes = max(1, int(minutes))
    watcher = IdleWatcher(interval_ms=minutes * 60_000, parent=parent)
    lock = IdleLock(
        watcher=watcher,
        runner=runner,
        user=user,
        minutes=minutes,
        verify=verify,
        on_locked=on_locked,
        on_logout=on_logout,
        parent=parent,
    )
    lock.start()
    return lock
