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
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from services.auth import LoginError
from services.db import Database
from services.errors import FokusError
from services.offline import LocalStatus
from services.sync import DUPLICATE_FIELD, Conflict, SyncResult
from ui.worker import BackgroundRunner

#: Runs one sync: (progress callback) -> result. Injected so tests need no server.
SyncFn = Callable[[Callable[[str], None]], SyncResult]
#: Builds the sync that logs in centrally: (password for the laptop file and central,
#: the new central password after a change or None) -> the sync.
LoginSyncFn = Callable[[str, "str | None"], SyncFn]


class SyncPasswordDialog(QDialog):
    """The password for a sync that logs in to the central server as the user's own role.

    Normally one field: the password, which opens the laptop file and logs in centrally.
    "Lösenordet har bytts centralt" adds a second one: then the first is the old password
    (it still opens the file) and the second the new central one; after the sync the file
    is locked with the new one (as ``sync --new-password``). No echo in either field.
    """

    def __init__(
        self,
        *,
        username: str,
        changed: bool = False,
        hint: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fokus – Logga in för synkronisering"))
        self.intro = QLabel(
            self.tr(
                "Synkroniseringen loggar in mot den centrala databasen som %1 med ditt lösenord."
            ).replace("%1", username)
        )
        self.intro.setWordWrap(True)
        self.hint = QLabel(hint)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #a40000;")
        self.hint.setVisible(bool(hint))
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName(self.tr("Lösenord"))
        self.changed = QCheckBox(self.tr("Lösenordet har bytts centralt sedan utcheckningen"))
        self.new_password = QLineEdit()
        self.new_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_password.setAccessibleName(self.tr("Nytt lösenord (centralt)"))
        self.password_label = QLabel()
        self.new_label = QLabel(self.tr("Nytt lösenord (centralt):"))
        self.new_label.setBuddy(self.new_password)
        self.password_label.setBuddy(self.password)
        self.rekey_note = QLabel(
            self.tr(
                "Det gamla lösenordet låser upp filen på den här datorn. Efter "
                "synkroniseringen låses filen med det nya lösenordet."
            )
        )
        self.rekey_note.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.password_label, self.password)
        form.addRow("", self.changed)
        form.addRow(self.new_label, self.new_password)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("Synkronisera"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.hint)
        layout.addLayout(form)
        layout.addWidget(self.rekey_note)
        layout.addWidget(self.buttons)
        self.changed.setChecked(changed)
        self._connect_signals()
        self._on_changed_toggled()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.changed.toggled.connect(self._on_changed_toggled)
        self.password.textChanged.connect(self._update_ok)
        self.new_password.textChanged.connect(self._update_ok)

    def _on_changed_toggled(self) -> None:
        changed = self.changed.isChecked()
        self.password_label.setText(
            self.tr("Gammalt lösenord (låser upp filen):") if changed else self.tr("Lösenord:")
        )
        for widget in (self.new_label, self.new_password, self.rekey_note):
            widget.setVisible(changed)
        if changed and self.password.text():
            self.new_password.setFocus()
        else:
            self.password.setFocus()
        self._update_ok()

    def _update_ok(self) -> None:
        ok = bool(self.password.text())
        if self.changed.isChecked():
            ok = ok and bool(self.new_password.text())
        self.ok_button.setEnabled(ok)

    def passwords(self) -> tuple[str, str | None]:
        """(the password for the file, and for central unless changed; the new central
        password when it was changed, else None)."""
        new = self.new_password.text() if self.changed.isChecked() else None
        return self.password.text(), new


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
        self.retry_button = QPushButton(self.tr("Ange lösenord igen …"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.addButton(self.conflicts_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.retry_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.conflicts_button.setVisible(False)  # after addButton, which shows it
        self.retry_button.setVisible(False)
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
        retry_login: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._run_sync = run_sync
        self._runner = runner
        self._resolve = resolve
        self._retry_login = retry_login
        self._lines = _Lines(self)
        self.result: SyncResult | None = None
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._lines.line.connect(self._on_line)
        self._dialog.conflicts_button.clicked.connect(self._on_conflicts_clicked)
        self._dialog.retry_button.clicked.connect(self._on_retry_clicked)

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
        if isinstance(exc, LoginError) and self._retry_login is not None:
            # Said in the app's words (the service's hint names the command-line flag).
            self._dialog.status.setText(
                self.tr(
                    "Den centrala databasen godtog inte lösenordet. Har det bytts centralt "
                    "sedan utcheckningen? Välj Ange lösenord igen, kryssa i att lösenordet "
                    "har bytts och ange både det gamla och det nya."
                )
                if _is_wrong_password(exc)
                else self.tr("Synkroniseringen misslyckades: %s") % exc.message
            )
            self._dialog.retry_button.setVisible(True)
        else:
            self._dialog.status.setText(self.tr("Synkroniseringen misslyckades: %s") % exc.message)
        self._dialog.log.appendPlainText(
            self.tr("Inget gick förlorat: ändringarna finns kvar i den lokala filen.")
        )
        self.finished.emit(exc)

    def _on_retry_clicked(self) -> None:
        assert self._retry_login is not None
        self._dialog.accept()
        self._retry_login()

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


def _is_wrong_password(exc: LoginError) -> bool:
    from services.auth import WRONG_CREDENTIALS

    return exc.message.startswith(WRONG_CREDENTIALS)


def _conflict_label(c: Conflict) -> str:
    from services.sync import TABLE_LABELS

    return (
        f"{c.case_number or '–'}: {TABLE_LABELS.get(c.table, c.table)} {c.field} ({c.row_key[:8]})"
    )


class OfflineMenu(QObject):
    """Wires a main window that works on a laptop copy.

    ``status`` reads the copy's state (cheap: no row comparison);
    ``pending`` tells whether anything is unsynchronised (one query);
    ``make_sync`` builds the sync function (it opens the central database);
    ``login_sync``, for a central server with per-user roles, builds it from the
    passwords asked for first (:class:`SyncPasswordDialog`).
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
        login_sync: LoginSyncFn | None = None,
    ) -> None:
        super().__init__(main_window)
        self._window = main_window
        self._status = status
        self._pending = pending
        self._make_sync = make_sync
        self._login_sync = login_sync
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
        self.password_dialog: SyncPasswordDialog | None = None
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
        if self._login_sync is None:
            self._start(self._make_sync())
        else:
            self._ask_password(changed=False, hint="")

    def _ask_password(self, *, changed: bool, hint: str) -> None:
        """Ask for the password(s), then sync; the dialog is modal, the sync is not."""
        dialog = SyncPasswordDialog(
            username=self._status().username, changed=changed, hint=hint, parent=self._window
        )
        self.password_dialog = dialog
        dialog.accepted.connect(lambda: self._on_password_given(dialog))
        dialog.open()

    def _on_password_given(self, dialog: SyncPasswordDialog) -> None:
        assert self._login_sync is not None
        password, new_password = dialog.passwords()
        dialog.password.clear()
        dialog.new_password.clear()
        self._start(self._login_sync(password, new_password))

    def _retry_login(self) -> None:
        self._ask_password(
            changed=True,
            hint=self.tr(
                "Ange det gamla lösenordet (det låser upp filen) och det nya som gäller centralt."
            ),
        )

    def _start(self, run: SyncFn) -> None:
        self.dialog = SyncDialog(self._window)
        self.controller = SyncController(
            dialog=self.dialog,
            run_sync=run,
            runner=self._runner,
            resolve=self._resolve,
            retry_login=self._retry_login if self._login_sync is not None else None,
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


def local_functions(local: Database, central_url: str, *, workstation: str = "") -> dict[str, Any]:
    """The callables :class:`OfflineMenu` needs, for a laptop copy and a central URL.

    A central URL without a database user (a server with per-user roles, what the
    settings dialog saves) gets ``login_sync``: Synkronisera asks for the password and
    connects as the user's own role (:func:`services.sync.sync_as_user`), with the
    "password changed centrally" choice. Any other URL keeps the plain ``make_sync``: its
    own user connects (IT's owner URL, tests).
    """
    from services.db import open_database
    from services.offline import check_local_password, local_status
    from services.role_login import is_per_user_url
    from services.sync import pending_changes, resolve_conflict, sync, sync_as_user

    def make_sync() -> SyncFn:
        def run(progress: Callable[[str], None]) -> SyncResult:
            central = open_database(central_url, auto_migrate_sqlite=False)
            try:
                return sync(central, local, progress=progress)
            finally:
                central.dispose()

        return run

    def login_sync(password: str, new_password: str | None) -> SyncFn:
        def run(progress: Callable[[str], None]) -> SyncResult:
            # The file is already open; the password typed for it must be its password
            # (it is the one a rekey replaces, and the one the laptop's login keeps).
            check_local_password(local, password)
            return sync_as_user(
                central_url,
                local,
                password,
                new_password=new_password,
                workstation=workstation,
                progress=progress,
            )

        return run

    def resolve(picks: list[tuple[Conflict, str]]) -> None:
        for conflict, choice in picks:
            resolve_conflict(local, conflict.id, choice)

    return {
        "status": lambda: local_status(local, changes=False),
        "pending": lambda: pending_changes(local),
        "make_sync": make_sync,
        "resolve": resolve,
        "login_sync": login_sync if is_per_user_url(central_url) else None,
    }
