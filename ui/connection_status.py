"""The status bar's connection indicator: "Ansluten" or "Frånkopplad" (issue 6, item 8).

Two things move it. Any background task that fails with
:class:`services.errors.ConnectionLostError` (the runner's ``connection_lost``
signal) turns it to "Frånkopplad" at once. A probe — ``SELECT 1`` through
:meth:`services.db.Database.ping`, on its own one-thread runner so it never
waits behind (or delays) the user's work, and never on the GUI thread — then
asks the server again after ``retry_ms``, doubling up to ``max_retry_ms`` while
it stays away, and turns the indicator back to "Ansluten" when it answers.
While connected the probe runs only every ``check_ms`` (default one minute),
so an idle window notices a server that went away without loading it: one
trivial query a minute per workstation.

Nothing is saved or retried automatically: the form the user was saving stays
open with its text (and its encrypted draft), and Spara works again once the
server answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow

from services.errors import DatabaseUnavailableError
from ui.worker import BackgroundRunner

log = logging.getLogger(__name__)

CONNECTED_STYLE = "QLabel { color: #1d6b2f; }"
DISCONNECTED_STYLE = "QLabel { color: #ffffff; background: #b3261e; padding: 0 6px; }"


class ConnectionMonitor(QObject):
    """Knows whether the database server answers; ``changed(bool)`` when that changes."""

    changed = Signal(bool)

    def __init__(
        self,
        *,
        probe: Callable[[], None],
        check_ms: int = 60_000,
        retry_ms: int = 5_000,
        max_retry_ms: int = 60_000,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._probe = probe
        self._check_ms = check_ms
        self._retry_ms = retry_ms
        self._max_retry_ms = max_retry_ms
        self._next_retry_ms = retry_ms
        self._connected = True
        self._probing = False
        self.probes = 0  # how many probes were sent (tests check it does not spam)
        self._runner = BackgroundRunner(max_threads=1, parent=self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.check_now)

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> None:
        """Begin the periodic check (the first one after ``check_ms``)."""
        self._timer.start(self._check_ms)

    def stop(self) -> None:
        self._timer.stop()

    def wait(self, msecs: int = -1) -> bool:
        """Block until a running probe has finished (shutdown and tests)."""
        return self._runner.wait(msecs)

    def report_lost(self, _exc: BaseException | None = None) -> None:
        """An action failed on a broken connection: disconnected now, probe again soon."""
        if not self._connected:
            return  # already counting down to the next probe: no extra load on the server
        self._next_retry_ms = self._retry_ms
        self._set(False)
        if not self._probing:
            self._timer.start(self._retry_ms)

    def check_now(self) -> None:
        """Send one probe unless one is already on its way."""
        if self._probing:
            return
        self._probing = True
        self.probes += 1
        self._runner.run(self._probe, on_done=self._on_answer, on_error=self._on_no_answer)

    def _on_answer(self, _result: object) -> None:
        self._probing = False
        self._next_retry_ms = self._retry_ms
        self._set(True)
        self._timer.start(self._check_ms)

    def _on_no_answer(self, exc: BaseException) -> None:
        self._probing = False
        if not isinstance(exc, DatabaseUnavailableError):
            raise exc  # a bug in the probe, not a network problem
        self._set(False)
        self._timer.start(self._next_retry_ms)
        self._next_retry_ms = min(self._next_retry_ms * 2, self._max_retry_ms)

    def _set(self, connected: bool) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        log.info("database connection %s", "back" if connected else "lost")
        self.changed.emit(connected)


class ConnectionIndicator(QObject):
    """Shows a :class:`ConnectionMonitor`'s state in a main window's status bar."""

    def __init__(self, *, window: QMainWindow, label: QLabel, monitor: ConnectionMonitor) -> None:
        super().__init__(window)
        self._window = window
        self._label = label
        label.setAccessibleName(self.tr("Anslutning till databasen"))
        label.setVisible(True)
        monitor.changed.connect(self._show)
        self._show(monitor.connected, announce=False)

    def _show(self, connected: bool, announce: bool = True) -> None:
        if connected:
            self._label.setText(self.tr("● Ansluten"))
            self._label.setStyleSheet(CONNECTED_STYLE)
            self._label.setToolTip(self.tr("Databasservern svarar."))
            if announce:
                self._window.statusBar().showMessage(
                    self.tr("Anslutningen till databasen är tillbaka – du kan spara igen."), 10_000
                )
        else:
            self._label.setText(self.tr("● Frånkopplad"))
            self._label.setStyleSheet(DISCONNECTED_STYLE)
            self._label.setToolTip(
                self.tr(
                    "Databasservern svarar inte. Det du skrivit finns kvar i formuläret; "
                    "spara igen när anslutningen är tillbaka. Fokus försöker ansluta igen."
                )
            )
            if announce:
                self._window.statusBar().showMessage(
                    self.tr(
                        "Anslutningen till databasen bröts – inget sparades. Det du skrev finns "
                        "kvar; spara igen när det står Ansluten."
                    )
                )


def install_connection_status(
    *,
    window: QMainWindow,
    label: QLabel,
    runner: BackgroundRunner,
    probe: Callable[[], None],
    check_ms: int = 60_000,
    retry_ms: int = 5_000,
    max_retry_ms: int = 60_000,
) -> ConnectionMonitor:
    """Watch ``runner``'s failures and probe the server; show the state in ``label``."""
    monitor = ConnectionMonitor(
        probe=probe,
        check_ms=check_ms,
        retry_ms=retry_ms,
        max_retry_ms=max_retry_ms,
        parent=window,
    )
    runner.connection_lost.connect(monitor.report_lost)
    ConnectionIndicator(window=window, label=label, monitor=monitor)
    monitor.start()
    return monitor
