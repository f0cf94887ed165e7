"""Behaviour of the summary print dialog: options → preview in the background → print or save.

Every change of an option (debounced) asks the service for a new preview in
a worker: the service decides what the recipient may receive, builds the PDF
with reportlab and audits the preview; the GUI thread only loads the bytes
into a :class:`QPdfDocument`. What is left out, and why, comes back with the
same answer and is shown beside the options. Print and Save act on the
options of the preview on screen (never on options still being built), and
both are audited by the service: printing through
:meth:`SummaryBackend.record_printed` after the pages went to the printer,
saving through the service's export, which writes the file itself.

:class:`SummaryDialogs` is the entry the windows wire: ``open_for_case``.
"""

from __future__ import annotations

import uuid
from datetime import date
from functools import partial
from html import escape
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QDate,
    QIODevice,
    QMarginsF,
    QObject,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QFileDialog, QListWidgetItem, QWidget

from services.errors import FokusError
from services.summary import (
    RECIPIENT_INTERNAL,
    ExportResult,
    PreviewResult,
    SummaryChoices,
    SummaryOptions,
)
from ui.summary_dialog import SummaryDialog
from ui.worker import Runner

TITLE_PREFIX = "Fokus – sammanfattning"
DEBOUNCE_MS = 350
PRINT_DPI = 300  # what a page is rendered at for the printer (1200 dpi would need 0.5 GB a page)
ID_ROLE = Qt.ItemDataRole.UserRole


class SummaryBackend(Protocol):
    """What the dialog needs from :class:`services.summary.SummaryService`."""

    def choices(self, case_id: uuid.UUID) -> SummaryChoices: ...

    def preview(self, case_id: uuid.UUID, options: SummaryOptions) -> PreviewResult: ...

    def save(self, case_number: str, path: Path | str, options: SummaryOptions) -> ExportResult: ...

    def record_printed(
        self, case_id: uuid.UUID, options: SummaryOptions, *, printer: str
    ) -> uuid.UUID | None: ...


def _qdate(d: QDate) -> date:
    return date(d.year(), d.month(), d.day())


def _checked_ids(items: list[QListWidgetItem]) -> list[Any]:
    return [i.data(ID_ROLE) for i in items if i.checkState() == Qt.CheckState.Checked]


def render_page(document: QPdfDocument, page: int, size: QSize) -> QImage:
    """One page as an image on white (QtPdf leaves the background transparent)."""
    rendered = document.render(page, size)
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.drawImage(0, 0, rendered)
    painter.end()
    return image


def print_document(document: QPdfDocument, printer: QPrinter, *, dpi: int = PRINT_DPI) -> int:
    """Send every page of ``document`` to ``printer`` (A4, the PDF's own margins); returns pages.

    The printer's page is the whole sheet: the summary already has its margins.
    """
    pages = document.pageCount()
    if pages <= 0:
        return 0
    printer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(0, 0, 0, 0),
        )
    )
    printer.setFullPage(True)
    painter = QPainter()
    if not painter.begin(printer):
        raise FokusError("skrivaren kunde inte startas")
    try:
        for page in range(pages):
            if page > 0:
                printer.newPage()
            target = printer.pageLayout().fullRectPixels(printer.resolution())
            points = document.pagePointSize(page)
            size = QSize(round(points.width() * dpi / 72), round(points.height() * dpi / 72))
            image = render_page(document, page, size)
            painter.drawImage(QRect(0, 0, target.width(), target.height()), image)
    finally:
        painter.end()
    return pages


def print_pdf(pdf: bytes, printer: QPrinter, *, dpi: int = PRINT_DPI) -> int:
    """Print PDF bytes; safe in a worker thread (its own document, painting on a QPrinter)."""
    buffer = QBuffer()
    buffer.setData(QByteArray(pdf))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    try:
        document.load(buffer)
        if document.status() != QPdfDocument.Status.Ready:
            raise FokusError("sammanfattningen kunde inte läsas för utskrift")
        return print_document(document, printer, dpi=dpi)
    finally:
        document.close()
        buffer.close()


class SummaryDialogController(QObject):
    """Drives one :class:`SummaryDialog` for one case."""

    choices_loaded = Signal()
    preview_ready = Signal(int)  # pages (0: nothing may be printed)
    preview_failed = Signal(str)
    saved = Signal(str)  # the path written
    save_failed = Signal(str)
    printed = Signal(int)  # pages sent to the printer, and the print audited
    print_failed = Signal(str)

    def __init__(
        self,
        *,
        dialog: SummaryDialog,
        service: SummaryBackend,
        runner: Runner,
        case_id: uuid.UUID,
        debounce_ms: int = DEBOUNCE_MS,
    ) -> None:
        super().__init__(dialog)  # deleted with its dialog: late results are then dropped
        self._dialog = dialog
        self._service = service
        self._runner = runner
        self.case_id = case_id
        self.choices: SummaryChoices | None = None
        self.preview: PreviewResult | None = None
        self._shown_options: SummaryOptions | None = None  # what the preview on screen shows
        self._generation = 0
        self._pending_generation: int | None = None
        self._persons_touched = False
        self._buffer: QBuffer | None = None
        self.save_dialog: QFileDialog | None = None
        self._printer: QPrinter | None = None  # the print under way
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        dialog.setWindowTitle(TITLE_PREFIX)
        dialog.show_placeholder(self.tr("Hämtar ärendet …"))
        self._connect_signals()
        self._runner.run(
            partial(self._service.choices, case_id),
            on_done=self._on_choices,
            on_error=self._on_choices_error,
            owner=self,
        )

    def _connect_signals(self) -> None:
        d = self._dialog
        self._debounce.timeout.connect(self._request_preview)
        d.recipient.currentIndexChanged.connect(self._on_recipient_changed)
        d.persons.itemChanged.connect(self._on_person_changed)
        d.agencies.itemChanged.connect(self._on_option_changed)
        for box in (
            *d.section_boxes.values(),
            d.mask_personnummer,
            d.mental_health,
            d.support_reasons,
        ):
            box.toggled.connect(self._on_option_changed)
        d.period.toggled.connect(self._on_period_toggled)
        d.contact_from.dateChanged.connect(self._on_option_changed)
        d.contact_to.dateChanged.connect(self._on_option_changed)
        d.print_button.clicked.connect(self._on_print_clicked)
        d.save_button.clicked.connect(self._on_save_clicked)
        d.close_button.clicked.connect(d.close)

    # --- public
    def options(self) -> SummaryOptions:
        """The options as the widgets show them now."""
        d = self._dialog
        recipient = d.recipient.currentData() or RECIPIENT_INTERNAL
        persons = [d.persons.item(i) for i in range(d.persons.count())]
        agencies = [d.agencies.item(i) for i in range(d.agencies.count())]
        checked_agencies = _checked_ids(agencies)
        return SummaryOptions(
            recipient=recipient,
            person_ids=(
                frozenset(uuid.UUID(str(p)) for p in _checked_ids(persons))
                if self._persons_touched
                else None
            ),
            sections=frozenset(s for s, box in d.section_boxes.items() if box.isChecked()),
            contact_from=_qdate(d.contact_from.date()) if d.period.isChecked() else None,
            contact_to=_qdate(d.contact_to.date()) if d.period.isChecked() else None,
            contact_agencies=(
                None if len(checked_agencies) == len(agencies) else frozenset(checked_agencies)
            ),
            mask_personnummer=d.mask_personnummer.isChecked(),
            include_mental_health=d.mental_health.isChecked(),
            include_support_reasons=d.support_reasons.isChecked(),
        )

    @property
    def shown_options(self) -> SummaryOptions | None:
        return self._shown_options

    @property
    def busy(self) -> bool:
        """A preview is being built (or waits for the debounce): print and save wait too."""
        return self._debounce.isActive() or self._pending_generation is not None

    def refresh_now(self) -> None:
        """Build the preview for the current options without waiting for the debounce."""
        self._debounce.stop()
        self._request_preview()

    def print_to(self, printer: QPrinter) -> bool:
        """Print the preview on screen to ``printer`` in the background, then audit it.

        Rendering a long summary at printer resolution takes seconds, so it runs
        in the worker (Qt paints on a QPrinter outside the GUI thread) on a
        document of its own; ``printed`` and ``print_recorded`` report the end.
        Returns False when there is nothing to print or a print is under way.
        """
        options = self._shown_options
        if options is None or self.preview is None or not self.preview.pdf or self._printer:
            return False
        pdf = self.preview.pdf
        where = printer.printerName() or Path(printer.outputFileName()).name or "okänd"
        self._printer = printer  # kept alive (and unused here) until the worker is done
        self._dialog.print_button.setEnabled(False)
        self._dialog.set_status(self.tr("Skriver ut …"))

        def work() -> int:
            pages = print_pdf(pdf, printer)
            self._service.record_printed(self.case_id, options, printer=where)
            return pages

        self._runner.run(work, on_done=self._on_printed, on_error=self._on_print_error, owner=self)
        return True

    def save_to(self, path: str | Path) -> None:
        """Write the summary for the options on screen to ``path`` (in the background)."""
        options = self._shown_options
        if options is None or self.choices is None:
            return
        target = Path(path)
        if target.suffix.lower() != ".pdf":
            target = target.with_name(target.name + ".pdf")
        number = self.choices.case_number
        self._dialog.save_button.setEnabled(False)
        self._dialog.set_status(self.tr("Sparar …"))
        self._runner.run(
            lambda: self._service.save(number, target, options),
            on_done=self._on_saved,
            on_error=self._on_save_error,
            owner=self,
        )

    # --- handlers
    def _on_choices(self, choices: SummaryChoices) -> None:
        self.choices = choices
        d = self._dialog
        d.setWindowTitle(f"{TITLE_PREFIX} {choices.case_number}")
        d.recipient.blockSignals(True)
        for code, label in choices.recipients:
            d.recipient.addItem(label, code)
        d.recipient.blockSignals(False)
        d.persons.blockSignals(True)
        for p in choices.persons:
            text = f"{p.name} ({p.role})"
            if not p.current:
                text += self.tr(", har lämnat hushållet")
            item = QListWidgetItem(text)
            item.setData(ID_ROLE, str(p.id))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            d.persons.addItem(item)
        d.persons.blockSignals(False)
        d.agencies.blockSignals(True)
        for code, label in choices.agencies:
            item = QListWidgetItem(label)
            item.setData(ID_ROLE, code)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            d.agencies.addItem(item)
        d.agencies.blockSignals(False)
        self._apply_default_persons()
        self.choices_loaded.emit()
        self._request_preview()

    def _on_choices_error(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            raise exc
        self._dialog.show_placeholder(self.tr("Ärendet kunde inte hämtas: %s") % exc.message)
        self.preview_failed.emit(exc.message)

    def _on_recipient_changed(self, _index: int) -> None:
        # A new recipient starts from its own default persons (an agency: the applicant).
        self._persons_touched = False
        self._apply_default_persons()
        self._on_option_changed()

    def _on_person_changed(self, _item: QListWidgetItem) -> None:
        self._persons_touched = True
        self._on_option_changed()

    def _on_period_toggled(self, on: bool) -> None:
        self._dialog.contact_from.setEnabled(on)
        self._dialog.contact_to.setEnabled(on)
        self._on_option_changed()

    def _on_option_changed(self, *_args: object) -> None:
        if self.choices is None:
            return
        self._dialog.print_button.setEnabled(False)
        self._dialog.save_button.setEnabled(False)
        self._dialog.set_status(self.tr("Uppdaterar förhandsgranskningen …"))
        self._debounce.start()

    def _request_preview(self) -> None:
        self._generation += 1
        generation = self._generation
        self._pending_generation = generation
        options = self.options()
        self._dialog.set_status(self.tr("Bygger förhandsgranskningen …"))
        self._runner.run(
            lambda: self._service.preview(self.case_id, options),
            on_done=partial(self._on_preview, generation, options),
            on_error=partial(self._on_preview_error, generation),
            owner=self,
        )

    def _on_preview(self, generation: int, options: SummaryOptions, result: PreviewResult) -> None:
        if generation != self._generation:
            return  # an older answer: a newer request is on its way
        self._pending_generation = None
        d = self._dialog
        self.preview = result
        self._shown_options = options
        self._show_omissions(result)
        if not result.pdf:
            self._close_document()
            d.show_placeholder(
                self.tr("Inget kan skrivas ut till den här mottagaren.\n\n%s")
                % (result.plan.blocked_reason or "")
            )
            d.set_status("")
            self.preview_ready.emit(0)
            return
        self._close_document()
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(result.pdf))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        # A fresh document each time: the view then drops the pages it rendered of the
        # previous one (reusing the document left old, transparent renders under the new).
        document = QPdfDocument(d)
        document.load(self._buffer)
        d.set_document(document)
        d.show_preview()
        pages = d.document.pageCount()
        d.set_status(self.tr("1 sida") if pages == 1 else self.tr("%s sidor") % pages)
        d.print_button.setEnabled(True)
        d.save_button.setEnabled(True)
        self.preview_ready.emit(pages)

    def _on_preview_error(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._pending_generation = None
        if not isinstance(exc, FokusError):
            raise exc  # a bug: to the crash handler (or the failing test)
        self.preview = None
        self._shown_options = None
        self._close_document()
        self._dialog.omissions.setText("")
        self._dialog.show_placeholder(self.tr("Förhandsgranskningen kunde inte byggas."))
        self._dialog.set_status(exc.message, error=True)
        self.preview_failed.emit(exc.message)

    def _on_print_clicked(self) -> None:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        printer.setDocName(self._dialog.windowTitle())
        dialog = QPrintDialog(printer, self._dialog)
        dialog.setWindowTitle(self.tr("Fokus – skriv ut sammanfattning"))
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.print_to(printer)

    def _on_save_clicked(self) -> None:
        if self.choices is None:
            return
        dialog = QFileDialog(self._dialog, self.tr("Fokus – spara sammanfattning som PDF"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # Qt's own: in Swedish
        dialog.setNameFilter(self.tr("PDF-filer (*.pdf)"))
        dialog.setDefaultSuffix("pdf")
        dialog.selectFile(f"{self.choices.case_number}.pdf")
        dialog.fileSelected.connect(self.save_to)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.save_dialog = dialog
        dialog.open()

    def _on_saved(self, result: ExportResult) -> None:
        self._dialog.save_button.setEnabled(True)
        self._dialog.set_status(self.tr("Sparad: %s") % result.path)
        self.saved.emit(str(result.path))

    def _on_save_error(self, exc: BaseException) -> None:
        if not isinstance(exc, FokusError):
            raise exc
        self._dialog.save_button.setEnabled(True)
        self._dialog.set_status(self.tr("Kunde inte spara: %s") % exc.message, error=True)
        self.save_failed.emit(exc.message)

    def _on_printed(self, pages: int) -> None:
        self._printer = None
        self._dialog.print_button.setEnabled(self._shown_options is not None and not self.busy)
        self._dialog.set_status(
            self.tr("Utskriven (1 sida) och registrerad.")
            if pages == 1
            else self.tr("Utskriven (%s sidor) och registrerad.") % pages
        )
        self.printed.emit(pages)

    def _on_print_error(self, exc: BaseException) -> None:
        self._printer = None
        self._dialog.print_button.setEnabled(self._shown_options is not None and not self.busy)
        if not isinstance(exc, FokusError):
            raise exc
        self._dialog.set_status(self.tr("Utskriften misslyckades: %s") % exc.message, error=True)
        self.print_failed.emit(exc.message)

    # --- internals
    def _apply_default_persons(self) -> None:
        """Check the persons the recipient gets by default: all for the file, else the applicant."""
        if self.choices is None:
            return
        internal = (self._dialog.recipient.currentData() or RECIPIENT_INTERNAL) == (
            RECIPIENT_INTERNAL
        )
        d = self._dialog
        d.persons.blockSignals(True)
        for i, p in enumerate(self.choices.persons):
            on = internal or p.applicant
            d.persons.item(i).setCheckState(
                Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
            )
        d.persons.blockSignals(False)

    def _show_omissions(self, result: PreviewResult) -> None:
        lines = result.plan.screen_lines()
        if not lines:
            self._dialog.omissions.setText(self.tr("Inget utelämnas."))
            return
        self._dialog.omissions.setText(
            "".join(f"<p style='margin:0 0 4px 0'>• {escape(line)}</p>" for line in lines)
        )

    def _close_document(self) -> None:
        self._dialog.document.close()
        if self._buffer is not None:
            self._buffer.close()
            self._buffer.deleteLater()
            self._buffer = None


class SummaryDialogs(QObject):
    """Opens the print dialog for a case; one dialog per case (opening again raises it)."""

    def __init__(
        self, *, service: SummaryBackend, runner: Runner, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._runner = runner
        self._open: dict[uuid.UUID, SummaryDialogController] = {}

    def open_for_case(
        self, case_id: uuid.UUID, parent: QWidget | None = None
    ) -> SummaryDialogController:
        existing = self._open.get(case_id)
        if existing is not None:
            dialog = existing.parent()
            if isinstance(dialog, QDialog):
                dialog.raise_()
                dialog.activateWindow()
            return existing
        dialog = SummaryDialog(parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        controller = SummaryDialogController(
            dialog=dialog, service=self._service, runner=self._runner, case_id=case_id
        )
        self._open[case_id] = controller
        dialog.destroyed.connect(lambda *_: self._open.pop(case_id, None))
        dialog.show()
        return controller


__all__ = [
    "SummaryBackend",
    "SummaryDialogController",
    "SummaryDialogs",
    "print_document",
    "print_pdf",
    "render_page",
]
