"""Administration → Databasanslutning, the behaviour: fill, test in a worker, save.

"Testa anslutning" may wait seconds for a server that does not answer, so it
runs in the background helper; the dialog shows "Testar anslutningen …" and
stays responsive. A refused field gets its Swedish message beside it. Saving
writes ``database_url`` through :class:`services.connection_settings.
ConnectionSettingsService`; the change applies at the next start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from services.connection_settings import CheckResult, ConnectionChoice
from services.db import ResolvedUrl, describe_url
from services.errors import FokusError, ValidationError
from ui.settings_dialog import SettingsDialog
from ui.worker import Runner

TESTING = "Testar anslutningen …"


class ConnectionSettings(Protocol):
    """What the dialog needs of :class:`services.connection_settings.ConnectionSettingsService`."""

    def current(self) -> tuple[ConnectionChoice, ResolvedUrl]: ...
    def check(
        self, choice: ConnectionChoice, username: str = "", password: str = ""
    ) -> CheckResult: ...
    def save(self, choice: ConnectionChoice) -> str: ...


ChooseFile = Callable[[QWidget, str], str | None]


def choose_file(parent: QWidget, current: str) -> str | None:
    """Qt's file chooser for a new or existing database file (overwrite is not asked:
    an existing file is opened, never replaced)."""
    path, _filter = QFileDialog.getSaveFileName(
        parent,
        QCoreApplication.translate("SettingsController", "Välj databasfil"),
        current,
        QCoreApplication.translate("SettingsController", "Fokus-databas (*.db);;Alla filer (*)"),
        options=QFileDialog.Option.DontConfirmOverwrite,
    )
    return path or None


class SettingsController(QObject):
    """Drives :class:`SettingsDialog`; ``tested`` and ``saved`` tell tests when work is done."""

    tested = Signal(bool, str)
    saved = Signal(str)

    def __init__(
        self,
        *,
        dialog: SettingsDialog,
        service: ConnectionSettings,
        runner: Runner,
        choose: ChooseFile = choose_file,
    ) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._service = service
        self._runner = runner
        self._choose = choose
        self._busy = False
        choice, in_use = service.current()
        self._fill(choice, in_use)
        self._connect_signals()
        self._on_kind_changed()

    def _connect_signals(self) -> None:
        d = self._dialog
        d.local.toggled.connect(self._on_kind_changed)
        d.server.toggled.connect(self._on_kind_changed)
        d.browse_button.clicked.connect(self._on_browse_clicked)
        d.test_button.clicked.connect(self._on_test_clicked)
        d.buttons.accepted.connect(self._on_save_clicked)
        d.buttons.rejected.connect(d.reject)

    @property
    def busy(self) -> bool:
        """A test or a save is running in the worker."""
        return self._busy

    def _fill(self, choice: ConnectionChoice, in_use: ResolvedUrl) -> None:
        d = self._dialog
        (d.server if choice.kind == "server" else d.local).setChecked(True)
        d.path.setText(choice.path)
        d.host.setText(choice.host)
        d.port.setValue(choice.port)
        d.database.setText(choice.database)
        source = {
            "--url": self.tr("angiven med --url, går före inställningsfilen"),
            "FOKUS_DATABASE_URL": self.tr(
                "från FOKUS_DATABASE_URL, som går före inställningsfilen"
            ),
            "inställningsfilen": self.tr("från inställningsfilen"),
            "standard": self.tr("standardfilen"),
        }.get(in_use.source, in_use.source)
        d.in_use.setText(self.tr("Används nu: %s (%s).") % (describe_url(in_use.url), source))

    def choice(self) -> ConnectionChoice:
        """The choice as the fields say now."""
        d = self._dialog
        if d.server.isChecked():
            return ConnectionChoice(
                "server",
                host=d.host.text(),
                port=d.port.value(),
                database=d.database.text(),
            )
        return ConnectionChoice("local", path=d.path.text())

    def _on_kind_changed(self) -> None:
        d = self._dialog
        server = d.server.isChecked()
        d.server_box.setEnabled(server)
        d.local_box.setEnabled(not server)
        d.test_result.setVisible(False)

    def _on_browse_clicked(self) -> None:
        chosen = self._choose(self._dialog, self._dialog.path.text())
        if chosen:
            self._dialog.path.setText(chosen)

    def _start(self, work: Callable[[], Any], on_done: Callable[[Any], None], text: str) -> None:
        self._busy = True
        self._dialog.clear_errors()
        self._dialog.set_busy(True, text)
        self._runner.run(work, on_done=on_done, on_error=self._on_refused, owner=self._dialog)

    def _on_test_clicked(self) -> None:
        if self._busy:
            return
        d = self._dialog
        choice = self.choice()
        username = d.test_username.text() if choice.kind == "server" else ""
        password = d.test_password.text() if choice.kind == "server" else ""
        service = self._service
        self._start(
            lambda: service.check(choice, username, password), self._on_tested, self.tr(TESTING)
        )

    def _on_tested(self, result: CheckResult) -> None:
        self._busy = False
        self._dialog.set_busy(False)
        self._dialog.show_result(result.message, ok=result.ok)
        self.tested.emit(result.ok, result.message)

    def _on_save_clicked(self) -> None:
        if self._busy:
            return
        choice = self.choice()
        service = self._service
        self._start(lambda: service.save(choice), self._on_saved, "")

    def _on_saved(self, url: str) -> None:
        self._busy = False
        self._dialog.set_busy(False)
        self.saved.emit(url)
        self._dialog.accept()

    def _on_refused(self, exc: BaseException) -> None:
        self._busy = False
        d = self._dialog
        d.set_busy(False)
        d.test_result.setVisible(False)
        if isinstance(exc, ValidationError):
            rest = [e for e in exc.errors if not d.show_field_error(e.field, e.message)]
            if rest:
                d.show_error("; ".join(str(e) for e in rest))
            self.tested.emit(False, exc.message)
            return
        if not isinstance(exc, FokusError):
            raise exc  # a bug: the crash handler reports it
        d.show_error(exc.message)
        self.tested.emit(False, exc.message)


class SettingsMenu(QObject):
    """Administration → Databasanslutning …: opens the dialog (window-modal, never exec)."""

    opened = Signal(QObject)

    def __init__(self, *, main_window: Any, service: ConnectionSettings, runner: Runner) -> None:
        super().__init__(main_window)
        self._main = main_window
        self._service = service
        self._runner = runner
        self.dialog: SettingsDialog | None = None
        self.controller: SettingsController | None = None
        main_window.admin_menu.menuAction().setVisible(True)
        main_window.settings_action.setVisible(True)
        main_window.settings_action.triggered.connect(self.open)

    def open(self) -> None:
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dialog = SettingsDialog(self._main)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.controller = SettingsController(
            dialog=dialog, service=self._service, runner=self._runner
        )
        self.dialog = dialog
        dialog.destroyed.connect(self._on_destroyed)
        dialog.open()
        self.opened.emit(self.controller)

    def _on_destroyed(self) -> None:
        self.dialog = None
        self.controller = None
