"""Offline mode in the main window: "Offline" in the status bar, Arkiv → Synkronisera, and
a warning when quitting with changes that have not been synchronised.

:class:`SyncDialog` lays out (progress, a log of what the sync does, its
result); :class:`SyncController` runs the sync in the background runner and
feeds the dialog; :class:`OfflineMenu` wires a main window that works on a
laptop copy. The sync itself is :func:`services.sync.sync`; the worker never
touches a widget (progress lines travel by a queued signal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from services.db import Database
from services.errors import FokusError
from services.offline import LocalStatus
from services.sync import DUPLICATE_FIELD, Conflict, SyncResult
from ui.worker import BackgroundRunner

#: Runs one sync: (progress callback) -> result. Injected so tests need no server.
SyncFn = Callable[[Callable[[str], None]], SyncResult]


class SyncDialog(QDialog):
    """Progress and log of one synchronisation; closable only when it has finished."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fokus – Synkronisera"))
        self.status = QLabel(self.tr("Synkroniserar med den centrala databasen …"))
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy until the sync reports back
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setAccessibleName(self.tr("Synkroniseringslogg"))
        self.conflicts_button = QPushButton(self.tr("Lös konflikter …"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.addButton(self.conflicts_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.conflicts_button.setVisible(False)  # after addButton, which shows it
        self.close_button = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.buttons)
        self.buttons.rejected.connect(self.reject)
        self.resize(640, 360)

    def reject(self) -> None:
        if self.close_button.isEnabled():  # Esc while the sync runs does nothing
            super().reject()


class _Lines(QObject):
    """Progress lines from the worker thread, delivered on the GUI thread (queued)."""

    line = Signal(str)


class SyncController(QObject):
    """Runs one sync in the background and shows its progress and result in a dialog."""

    finished = Signal(object)  # the SyncResult, or the exception

    def __init__(
        self,
        *,
        dialog: SyncDialog,
        run_sync: SyncFn,
        runner: BackgroundRunner,
        resolve: Callable[[list[tuple[Conflict, str]]], None] | None = None,
    ) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._run_sync = run_sync
        self._runner = runner
        self._resolve = resolve
        self._lines = _Lines(self)
        self.result: SyncResult | None = None
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._lines.line.connect(self._on_line)
        self._dialog.conflicts_button.clicked.connect(self._on_conflicts_clicked)

    def start(self) -> None:
        emit = self._lines.line.emit
        run = self._run_sync
        self._runner.run(
            lambda: run(emit), on_done=self._on_done, on_error=self._on_failed, owner=self._dialog
        )

    def _on_line(self, text: str) -> None:
        self._dialog.log.appendPlainText(text)

    def _finish(self) -> None:
        d = self._dialog
        d.progress.setRange(0, 1)
        d.progress.setValue(1)
        d.close_button.setEnabled(True)

    def _on_done(self, result: SyncResult) -> None:
        self.result = result
        d = self._dialog
        self._finish()
        d.log.appendPlainText(result.summary())
        if result.conflicts:
            d.status.setText(
                self.tr(
                    "Synkroniserat, men %n fält har ändrats både här och centralt. "
                    "Inget har skrivits över; välj vilket värde som ska gälla.",
                    "",
                    len(result.conflicts),
                )
            )
            d.conflicts_button.setVisible(self._resolve is not None)
        else:
            d.status.setText(self.tr("Synkroniseringen är klar."))
        self.finished.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            self._finish()
            raise exc  # a bug: the crash handler reports it
        self._finish()
        self._dialog.status.setText(self.tr("Synkroniseringen misslyckades: %s") % exc.message)
        self._dialog.log.appendPlainText(
            self.tr("Inget gick förlorat: ändringarna finns kvar i den lokala filen.")
        )
        self.finished.emit(exc)

    def _on_conflicts_clicked(self) -> None:
        from ui.conflict_dialog import THEIRS, ConflictDialog, ConflictField

        assert self.result is not None and self._resolve is not None
        # Fields and whole rows (deleted on one side) are chosen here; a duplicated row
        # is settled in the case itself.
        conflicts = [c for c in self.result.conflicts if c.field != DUPLICATE_FIELD]
        labels = [_conflict_label(c) for c in conflicts]
        dialog = ConflictDialog(
            [
                ConflictField(label, c.shown("base"), c.shown("theirs"), c.shown("yours"))
                for label, c in zip(labels, conflicts, strict=True)
            ],
            what=self.tr("ärendena offline"),
            parent=self._dialog,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        chosen = dialog.choices()
        picks = [
            (c, "theirs" if chosen.get(label) == THEIRS else "yours")
            for label, c in zip(labels, conflicts, strict=True)
            if label in chosen
        ]
        resolve = self._resolve
        self._dialog.conflicts_button.setEnabled(False)
        self._runner.run(
            lambda: resolve(picks),
            on_done=lambda _r: self._dialog.status.setText(
                self.tr("Valen är sparade och skickas vid nästa synkronisering.")
            ),
            on_error=self._on_failed,
            owner=self._dialog,
        )


def _conflict_label(c: Conflict) -> str:
    from services.sync import TABLE_LABELS

    return (
        f"{c.case_number or '–'}: {TABLE_LABELS.get(c.table, c.table)} {c.field} ({c.row_key[:8]})"
    )


class OfflineMenu(QObject):
    """Wires a main window that works on a laptop copy.

    ``status`` reads the copy's state (cheap: no row comparison);
    ``pending`` tells whether anything is unsynchronised (one query);
    ``make_sync`` builds the sync function (it opens the central database).
    """

    def __init__(
        self,
        *,
        main_window: QMainWindow,
        status: Callable[[], LocalStatus],
        pending: Callable[[], bool],
        make_sync: Callable[[], SyncFn],
        runner: BackgroundRunner,
        resolve: Callable[[list[tuple[Conflict, str]]], None] | None = None,
    ) -> None:
        super().__init__(main_window)
        self._window = main_window
        self._status = status
        self._pending = pending
        self._make_sync = make_sync
        self._runner = runner
        self._resolve = resolve
        self.offline_label = QLabel()
        self.offline_label.setObjectName("offlineLabel")
        self.offline_label.setAccessibleName(self.tr("Offlineläge"))
        main_window.statusBar().addPermanentWidget(self.offline_label)
        self.sync_action = QAction(self.tr("S&ynkronisera …"), main_window)
        file_menu = main_window.menuBar().actions()[0].menu()
        first = file_menu.actions()[0] if file_menu.actions() else None
        file_menu.insertAction(first, self.sync_action)
        self.dialog: SyncDialog | None = None
        self.controller: SyncController | None = None
        # A checkout can expire while the app runs: look again every minute.
        self.timer = QTimer(self)
        self.timer.setInterval(60_000)
        self.refresh_status()
        self._connect_signals()
        self.timer.start()

    def _connect_signals(self) -> None:
        self.sync_action.triggered.connect(self._on_sync_triggered)
        self.timer.timeout.connect(self.refresh_status)
        self._window.installEventFilter(self)

    def refresh_status(self) -> None:
        status = self._status()
        if status.blocked:
            text = self.tr("Offline – %s") % status.message
            style = "color: #a00000; font-weight: bold;"
        else:
            text = self.tr("Offline – utcheckat till %s") % f"{status.expires_at:%Y-%m-%d}"
            style = "font-weight: bold;"
        self.offline_label.setText(text)
        self.offline_label.setStyleSheet(style)

    def _on_sync_triggered(self) -> None:
        self.dialog = SyncDialog(self._window)
        self.controller = SyncController(
            dialog=self.dialog,
            run_sync=self._make_sync(),
            runner=self._runner,
            resolve=self._resolve,
        )
        self.controller.finished.connect(lambda _r: self.refresh_status())
        self.dialog.show()
        self.controller.start()

    def confirm_quit(self) -> bool:
        """Ask before quitting with unsynchronised changes (they stay in the encrypted file)."""
        if not self._pending():
            return True
        answer = QMessageBox.question(
            self._window,
            self.tr("Fokus – osynkroniserade ändringar"),
            self.tr(
                "Det finns ändringar som inte är synkroniserade med den centrala databasen. "
                "De finns kvar i den krypterade filen och skickas nästa gång du synkroniserar.\n\n"
                "Vill du avsluta ändå?"
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        closing = watched is self._window and event.type() == QEvent.Type.Close
        if closing and not self.confirm_quit():
            event.ignore()
            return True
        return False


def local_functions(local: Database, central_url: str) -> dict[str, Any]:
    """The callables :class:`OfflineMenu` needs, for a laptop copy and a central URL."""
    from services.db import open_database
    from services.offline import local_status
    from services.sync import pending_changes, resolve_conflict, sync

    def make_sync() -> SyncFn:
        def run(progress: Callable[[str], None]) -> SyncResult:
            central = open_database(central_url, auto_migrate_sqlite=False)
            try:
                return sync(central, local, progress=progress)
            finally:
                central.dispose()

        return run

    def resolve(picks: list[tuple[Conflict, str]]) -> None:
        for conflict, choice in picks:
            resolve_conflict(local, conflict.id, choice)

    return {
        "status": lambda: local_status(local, changes=False),
        "pending": lambda: pending_changes(local),
        "make_sync": make_sync,
        "resolve": resolve,
    }
