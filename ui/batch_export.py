""" "Exportera sammanfattningar": one PDF per case of the register's current filter.

For an arbetsledare only (the menu entry is hidden for others and the
service refuses them too). The flow is asynchronous from end to end, so the
window never blocks: count the filter in a worker → refuse above the cap, or
ask for confirmation (with the count, and whether to mask personnummer) →
ask for a folder → export in a worker behind a progress dialog with Avbryt.
A stop is clean: the service asks before each case, files already written
stay (each one whole and audited), and the closing message says how many.
Files are named by case number only.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QMessageBox, QProgressDialog, QWidget

from services.errors import FokusError
from services.search import RegisterFilter
from services.summary import BatchExportError, BatchPlan, BatchResult, SummaryOptions
from ui.i18n import format_count
from ui.worker import Runner

TITLE = "Fokus – exportera sammanfattningar"


class BatchBackend(Protocol):
    """What the export needs from :class:`services.summary.SummaryService`."""

    @property
    def may_batch_export(self) -> bool: ...

    def plan_batch(self, flt: RegisterFilter) -> BatchPlan: ...

    def batch_export(
        self,
        case_ids: Sequence[uuid.UUID],
        folder: Path | str,
        options: SummaryOptions | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> BatchResult: ...

    def run_with_progress(
        self,
        fn: Callable[[Callable[[int, int], None]], Any],
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        owner: Any = None,
    ) -> int: ...


class BatchExportController(QObject):
    """One export at a time, from the register's filter to a folder of PDFs.

    The dialogs it opens are kept as public attributes (``message``,
    ``folder_dialog``, ``progress``) while they are open, so tests and the
    window can see them; none is shown with a blocking ``exec()``.
    """

    planned = Signal(object)  # BatchPlan
    finished = Signal(object)  # BatchResult
    failed = Signal(str)

    def __init__(
        self,
        *,
        parent_widget: QWidget,
        service: BatchBackend,
        runner: Runner,
        current_filter: Callable[[], RegisterFilter],
    ) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self._service = service
        self._runner = runner
        self._current_filter = current_filter
        self._plan: BatchPlan | None = None
        self._mask = False
        self._cancel = threading.Event()
        self.running = False
        self.message: QMessageBox | None = None
        self.mask_box: QCheckBox | None = None
        self.folder_dialog: QFileDialog | None = None
        self.progress: QProgressDialog | None = None
        self.result: BatchResult | None = None

    @property
    def allowed(self) -> bool:
        return self._service.may_batch_export

    def start(self) -> None:
        """Count the current filter and go on from there (nothing happens for others)."""
        if self.running:
            return
        if not self.allowed:
            self._show(
                QMessageBox.Icon.Warning,
                self.tr("Bara arbetsledare får exportera sammanfattningar."),
            )
            return
        self.running = True
        self.result = None
        flt = self._current_filter()
        self._runner.run(
            lambda: self._service.plan_batch(flt),
            on_done=self._on_planned,
            on_error=self._on_error,
            owner=self,
        )

    # --- handlers
    def _on_planned(self, plan: BatchPlan) -> None:
        self._plan = plan
        self.planned.emit(plan)
        if plan.count == 0:
            self.running = False
            self._show(QMessageBox.Icon.Information, self.tr("Inga ärenden matchar filtret."))
            return
        if plan.over_cap:
            self.running = False
            self._show(
                QMessageBox.Icon.Warning,
                self.tr(
                    "Filtret ger %s ärenden. Högst %s sammanfattningar får exporteras på en "
                    "gång – begränsa filtret och försök igen."
                )
                % (format_count(plan.count), format_count(plan.cap)),
            )
            return
        box = QMessageBox(self._parent)
        box.setWindowTitle(TITLE)
        box.setIcon(QMessageBox.Icon.Question)
        box.setText(
            self.tr("Exportera sammanfattningar för 1 ärende?")
            if plan.count == 1
            else self.tr("Exportera sammanfattningar för %s ärenden?") % format_count(plan.count)
        )
        box.setInformativeText(
            self.tr(
                "En PDF-fil per ärende (intern akt), med ärendenumret som filnamn. "
                "Varje export loggas. Filerna innehåller sekretessuppgifter: spara dem "
                "bara där obehöriga inte kommer åt dem."
            )
        )
        self.mask_box = QCheckBox(self.tr("Maskera personnummer"))
        box.setCheckBox(self.mask_box)
        box.addButton(self.tr("Välj mapp …"), QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(self._on_confirm_finished)
        self.message = box
        box.open()

    def _on_confirm_finished(self, _code: int) -> None:
        box = self.message
        self.message = None
        if box is None:
            return
        accepted = box.buttonRole(box.clickedButton()) == QMessageBox.ButtonRole.AcceptRole
        self._mask = bool(self.mask_box is not None and self.mask_box.isChecked())
        box.deleteLater()
        if not accepted:
            self.running = False
            return
        dialog = QFileDialog(self._parent, self.tr("Fokus – välj mapp för sammanfattningarna"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # Qt's own: in Swedish
        dialog.fileSelected.connect(self._on_folder_chosen)
        dialog.rejected.connect(self._on_folder_rejected)
        self.folder_dialog = dialog
        dialog.open()

    def _on_folder_rejected(self) -> None:
        self._drop_folder_dialog()
        self.running = False

    def _on_folder_chosen(self, folder: str) -> None:
        self._drop_folder_dialog()
        plan = self._plan
        if plan is None or not folder:
            self.running = False
            return
        self.export_to(Path(folder))

    def export_to(self, folder: Path) -> None:
        """Run the export of the counted cases into ``folder`` behind a progress dialog."""
        plan = self._plan
        if plan is None:
            return
        self.running = True
        self._cancel.clear()
        total = len(plan.case_ids)
        progress = QProgressDialog(
            self.tr("Exporterar sammanfattningar …"), self.tr("Avbryt"), 0, total, self._parent
        )
        progress.setWindowTitle(TITLE)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        progress.setValue(0)
        progress.canceled.connect(self._on_cancel_clicked)
        self.progress = progress
        progress.show()
        options = SummaryOptions(mask_personnummer=self._mask)
        ids = plan.case_ids
        cancel = self._cancel
        self._runner.run_with_progress(
            lambda report: self._service.batch_export(
                ids, folder, options, progress=report, cancelled=cancel.is_set
            ),
            on_done=self._on_exported,
            on_error=self._on_error,
            on_progress=self._on_progress,
            owner=self,
        )

    def cancel(self) -> None:
        """Stop after the file being written now (the same as Avbryt)."""
        self._on_cancel_clicked()

    def _on_cancel_clicked(self) -> None:
        self._cancel.set()
        if self.progress is not None:
            self.progress.setLabelText(self.tr("Avbryter efter den pågående filen …"))

    def _on_progress(self, done: int, total: int) -> None:
        progress = self.progress
        if progress is None:
            return
        if not self._cancel.is_set():
            progress.setLabelText(
                self.tr("Exporterar sammanfattningar … %s av %s")
                % (format_count(done), format_count(total))
            )
        progress.setMaximum(total)
        # Last: a window-modal progress dialog processes events in setValue(), where the
        # export's end may arrive and close (and drop) this dialog.
        progress.setValue(done)

    def _on_exported(self, result: BatchResult) -> None:
        self._close_progress()
        self.running = False
        self.result = result
        if result.cancelled:
            text = self.tr(
                "Exporten avbröts. %s av %s sammanfattningar sparades i %s; "
                "de sparade filerna finns kvar."
            ) % (format_count(result.count), format_count(result.total), result.folder)
        else:
            text = self.tr("%s sammanfattningar sparades i %s.") % (
                format_count(result.count),
                result.folder,
            )
        self._show(QMessageBox.Icon.Information, text)
        self.finished.emit(result)

    def _on_error(self, exc: BaseException) -> None:
        self._close_progress()
        self.running = False
        if not isinstance(exc, FokusError):
            raise exc  # a bug: to the crash handler (or the failing test)
        text = self.tr("Exporten misslyckades: %s") % exc.message
        if isinstance(exc, BatchExportError):
            text = self.tr("Exporten stoppades: %s") % exc.message
        self._show(QMessageBox.Icon.Warning, text)
        self.failed.emit(exc.message)

    # --- internals
    def _show(self, icon: QMessageBox.Icon, text: str) -> None:
        box = QMessageBox(icon, TITLE, text, QMessageBox.StandardButton.Ok, self._parent)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._on_message_closed)
        self.message = box
        box.open()

    def _on_message_closed(self, _code: int) -> None:
        self.message = None

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.canceled.disconnect(self._on_cancel_clicked)
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None

    def _drop_folder_dialog(self) -> None:
        if self.folder_dialog is not None:
            self.folder_dialog.deleteLater()
            self.folder_dialog = None
